/// A place in a pipeline file.
public struct SourcePosition: Sendable, Hashable {
    /// The pipeline file as the user named it.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int

    /// Makes a position.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
}

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

/// The closest candidate by edit distance, for "did you mean" hints.
public func closestMatch(to word: String, in candidates: [String]) -> String? {
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(word.lowercased(), candidate.lowercased())
        if distance <= max(2, candidate.count / 3), distance < best?.distance ?? Int.max {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Levenshtein distance between two strings.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// Appends ` (did you mean 'x'?)` when a close candidate exists.
func didYouMean(_ word: String, _ candidates: [String]) -> String {
    guard let match = closestMatch(to: word, in: candidates) else { return "" }
    return " (did you mean '\(match)'?)"
}
