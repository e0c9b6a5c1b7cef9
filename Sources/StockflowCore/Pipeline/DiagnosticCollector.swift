/// Collects diagnostics while a pipeline is read, so every problem is reported in one pass.
public final class DiagnosticCollector {
    /// The problems so far.
    public private(set) var diagnostics: [Diagnostic] = []

    /// Makes an empty collector.
    public init() {}

    /// Records a problem.
    public func error(_ message: String, at position: SourcePosition?, temporary: Bool = false) {
        let diagnostic = Diagnostic(message, at: position, temporary: temporary)
        if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
    }

    /// True when nothing was recorded.
    public var isEmpty: Bool { diagnostics.isEmpty }
}
