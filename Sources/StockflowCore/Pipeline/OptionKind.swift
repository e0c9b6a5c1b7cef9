/// The kind of value an option takes; drives validation and the reference docs.
public enum OptionKind: Sendable, Equatable {
    case string, int, bool, decimal, list, mapping, any
    case choice([String])
    /// A file that must exist, relative to the pipeline file.
    case inputPath
    /// A file written under the output folder; may use `{as_of}` and `{pipeline}`.
    case outputPath

    /// How the docs name it.
    public var docName: String {
        switch self {
        case .string: return "text"
        case .int: return "integer"
        case .bool: return "boolean"
        case .decimal: return "decimal"
        case .list: return "list"
        case .mapping: return "mapping"
        case .any: return "text or mapping"
        case .choice(let values): return values.map { "`\($0)`" }.joined(separator: " \\| ")
        case .inputPath: return "path (must exist)"
        case .outputPath: return "output path"
        }
    }
}
