/// A named input of a transform or load.
public struct PortSpec: Sendable {
    /// The port name used under `inputs:`.
    public var name: String
    /// A lookup port is read whole before the other ports stream (a small table joined by key).
    public var lookup: Bool
    /// What the port expects.
    public var summary: String

    /// Declares a port.
    public init(_ name: String, lookup: Bool = false, _ summary: String) {
        self.name = name
        self.lookup = lookup
        self.summary = summary
    }
}
