/// One problem found in a pipeline, printed like a compiler: `file:line:col: error: message`.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, when it has a place in a file.
    public var position: SourcePosition?
    /// What was expected, what was found and, where possible, the fix.
    public var message: String
    /// The problem may go away by itself (a database locked by another process): worth a retry.
    public var temporary: Bool

    /// Makes a diagnostic.
    public init(_ message: String, at position: SourcePosition?, temporary: Bool = false) {
        self.message = message
        self.position = position
        self.temporary = temporary
    }

    public var description: String {
        guard let position else { return "error: \(message)" }
        return "\(position.file):\(position.line):\(position.column): error: \(message)"
    }
}
