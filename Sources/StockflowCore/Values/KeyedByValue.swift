/// A dictionary keyed by one `Value`, with integer keys (ids, codes: nearly every key of the rulebook)
/// hashed as `Int64` instead of through `Value`'s synthesized hash. `.int(5)` and `.decimal(5)` stay
/// different keys, as in a `[Value: Element]`.
struct KeyedByValue<Element> {
    private var integers: [Int64: Element] = [:]
    private var others: [Value: Element] = [:]

    subscript(key: Value) -> Element? {
        get {
            if case .int(let number) = key { return integers[number] }
            return others[key]
        }
        set {
            if case .int(let number) = key { integers[number] = newValue } else { others[key] = newValue }
        }
    }

    /// The number of keys.
    var count: Int { integers.count + others.count }
}
