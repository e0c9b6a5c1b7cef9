/// Moves a value to another thread when its owner guarantees the two never use it at once.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
