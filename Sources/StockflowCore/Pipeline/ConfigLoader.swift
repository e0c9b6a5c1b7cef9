import Foundation
import Yams

/// Reads a pipeline file into `ConfigNode`s, reporting YAML problems with their positions.
public enum ConfigLoader {
    /// Most nodes a pipeline may expand to; guards against alias bombs ("billion laughs").
    static let nodeBudget = 100_000

    /// Parses YAML text; `file` is the name used in diagnostics.
    public static func load(text: String, file: String, environment: [String: String],
                            diagnostics: DiagnosticCollector) -> ConfigNode? {
        var hasTabs = false
        for (index, line) in lines(of: text).enumerated() {
            let indent = line.prefix { $0 == " " || $0 == "\t" }
            if let tab = indent.firstIndex(of: "\t") {
                let column = indent.distance(from: indent.startIndex, to: tab) + 1
                diagnostics.error("tab character in indentation; YAML indents with spaces only (replace the tab with spaces)",
                                  at: SourcePosition(file: file, line: index + 1, column: column))
                hasTabs = true
            }
        }
        if hasTabs { return nil }
        let node: Node?
        do {
            // The basic resolver: no tag is read from the nodes (a scalar stays text), and the default
            // one's regular expressions would load ICU at start-up.
            node = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            diagnostics.error(describe(error), at: position(of: error, file: file, text: text))
            return nil
        } catch {
            diagnostics.error("cannot read YAML: \(error)", at: SourcePosition(file: file, line: 1, column: 1))
            return nil
        }
        guard let node else {
            diagnostics.error("the pipeline file is empty; expected a mapping with 'version', 'name' and 'stages'",
                              at: SourcePosition(file: file, line: 1, column: 1))
            return nil
        }
        var converter = Converter(file: file, environment: environment, diagnostics: diagnostics)
        return converter.convert(node)
    }

    /// The lines of `text`, split as YAML splits them: at LF, CRLF and a lone CR. Works on unicode
    /// scalars, because a CRLF is one Character that never equals "\n".
    static func lines(of text: String) -> [Substring] {
        let scalars = text.unicodeScalars
        var lines: [Substring] = []
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            guard scalar == "\n" || scalar == "\r" else {
                index = scalars.index(after: index)
                continue
            }
            lines.append(Substring(scalars[start..<index]))
            index = scalars.index(after: index)
            if scalar == "\r", index < scalars.endIndex, scalars[index] == "\n" { index = scalars.index(after: index) }
            start = index
        }
        lines.append(Substring(scalars[start..<scalars.endIndex]))
        return lines
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .duplicatedKeysInMapping(let duplicates, _):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return "duplicate key \(keys) in the same mapping; each key may appear once"
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _):
            return "invalid YAML: \(problem)"
        case .composer(_, let problem, _, _):
            if problem.contains("undefined alias") {
                return "invalid YAML: \(problem) (an alias must refer to an anchor defined earlier and outside itself)"
            }
            return "invalid YAML: \(problem)"
        case .reader(let problem, _, _, _):
            return "cannot read the file as YAML text: \(problem)"
        default:
            return "invalid YAML: \(error)"
        }
    }

    private static func position(of error: YamlError, file: String, text: String) -> SourcePosition {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourcePosition(file: file, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(let keys, let context):
            // Yams marks the first occurrence; point at the repeat, the line the user must change:
            // the next line after it that starts, at the same column, with the same key.
            let lines = lines(of: text)
            if let key = keys.first, context.mark.line >= 1, context.mark.line < lines.count {
                for index in context.mark.line..<lines.count {
                    let line = lines[index]
                    let indent = line.prefix { $0 == " " }.count
                    let rest = line.dropFirst(indent)
                    if indent + 1 == context.mark.column,
                       rest.hasPrefix("\(key):") || rest.hasPrefix("\"\(key)\":") || rest.hasPrefix("'\(key)':") {
                        return SourcePosition(file: file, line: index + 1, column: indent + 1)
                    }
                }
            }
            return SourcePosition(file: file, line: context.mark.line, column: context.mark.column)
        default:
            return SourcePosition(file: file, line: 1, column: 1)
        }
    }

    private struct Converter {
        let file: String
        let environment: [String: String]
        let diagnostics: DiagnosticCollector
        var visited = 0
        var exhausted = false

        init(file: String, environment: [String: String], diagnostics: DiagnosticCollector) {
            self.file = file
            self.environment = environment
            self.diagnostics = diagnostics
        }

        func position(_ node: Node) -> SourcePosition {
            SourcePosition(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        }

        mutating func convert(_ node: Node) -> ConfigNode? {
            visited += 1
            if visited > ConfigLoader.nodeBudget {
                if !exhausted {
                    diagnostics.error("the pipeline expands to more than \(ConfigLoader.nodeBudget) YAML nodes through aliases; refusing to expand it (an alias bomb?)", at: position(node))
                    exhausted = true
                }
                return nil
            }
            let here = position(node)
            switch node {
            case .scalar(let scalar):
                if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                    return ConfigNode(content: .null, position: here)
                }
                return ConfigNode(content: .scalar(expand(scalar.string, at: here)), position: here,
                                  isQuoted: scalar.style == .singleQuoted || scalar.style == .doubleQuoted)
            case .sequence(let sequence):
                var items: [ConfigNode] = []
                for item in sequence {
                    guard let converted = convert(item) else { return nil }
                    items.append(converted)
                }
                return ConfigNode(content: .sequence(items), position: here)
            case .mapping(let mapping):
                var entries: [(key: String, keyPosition: SourcePosition, value: ConfigNode)] = []
                var merged: [(key: String, keyPosition: SourcePosition, value: ConfigNode)] = []
                for (keyNode, valueNode) in mapping {
                    let keyPosition = position(keyNode)
                    guard let key = keyNode.scalar?.string else {
                        diagnostics.error("a mapping key must be a plain name, found a \(keyNode.sequence != nil ? "list" : "mapping")", at: keyPosition)
                        continue
                    }
                    guard let value = convert(valueNode) else { return nil }
                    if key == "<<" {
                        // YAML merge key: the explicit keys of this mapping win over merged ones.
                        let sources = value.items ?? [value]
                        for source in sources {
                            guard let sourceEntries = source.entries else {
                                diagnostics.error("'<<' merges a mapping (or a list of mappings), found \(source.shapeName)", at: source.position)
                                continue
                            }
                            merged.append(contentsOf: sourceEntries)
                        }
                    } else {
                        entries.append((key, keyPosition, value))
                    }
                }
                for entry in merged where !entries.contains(where: { $0.key == entry.key }) {
                    entries.append(entry)
                }
                return ConfigNode(content: .mapping(entries), position: here)
            case .alias:
                return ConfigNode(content: .null, position: here)
            }
        }

        /// Expands `${VAR}` and `${VAR:-default}`; `$$` stands for a literal `$`.
        func expand(_ text: String, at position: SourcePosition) -> String {
            guard text.contains("$") else { return text }
            var result = ""
            var index = text.startIndex
            while index < text.endIndex {
                let character = text[index]
                let next = text.index(after: index)
                if character == "$", next < text.endIndex, text[next] == "$" {
                    result.append("$")
                    index = text.index(after: next)
                } else if character == "$", next < text.endIndex, text[next] == "{",
                          let close = text[next...].firstIndex(of: "}") {
                    let body = String(text[text.index(after: next)..<close])
                    let name: String
                    let fallback: String?
                    if let separator = body.range(of: ":-") {
                        name = String(body[..<separator.lowerBound])
                        fallback = String(body[separator.upperBound...])
                    } else {
                        name = body
                        fallback = nil
                    }
                    if let value = environment[name], !(value.isEmpty && fallback != nil) {
                        result += value
                    } else if let fallback {
                        result += fallback
                    } else {
                        diagnostics.error("environment variable '\(name)' is not set and has no default; set it or write ${\(name):-default}", at: position)
                    }
                    index = text.index(after: close)
                } else {
                    result.append(character)
                    index = next
                }
            }
            return result
        }
    }
}
