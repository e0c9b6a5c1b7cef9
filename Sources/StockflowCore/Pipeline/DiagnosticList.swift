/// All the problems of one or more pipeline files, reported at once.
public struct DiagnosticList: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var diagnostics: [Diagnostic]

    /// Makes a list.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// True when every problem is temporary, so the command should exit 75 (retry later), not 2.
    public var isTemporary: Bool { !diagnostics.isEmpty && diagnostics.allSatisfy(\.temporary) }
}
