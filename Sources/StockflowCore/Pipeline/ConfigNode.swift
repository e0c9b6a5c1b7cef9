/// A YAML node of a pipeline file with its position, after `${VAR}` expansion and `<<` merges.
public struct ConfigNode: Sendable {
    /// The node's content.
    public enum Content: Sendable {
        case null
        case scalar(String)
        case sequence([ConfigNode])
        case mapping([(key: String, keyPosition: SourcePosition, value: ConfigNode)])
    }

    /// The content.
    public var content: Content
    /// Where the node starts.
    public var position: SourcePosition
    /// True for a quoted scalar, whose text starts one column after `position`.
    public var isQuoted = false

    /// The scalar text, if this is a scalar.
    public var scalar: String? {
        if case .scalar(let text) = content { return text }
        return nil
    }

    /// The mapping entries, if this is a mapping.
    public var entries: [(key: String, keyPosition: SourcePosition, value: ConfigNode)]? {
        if case .mapping(let entries) = content { return entries }
        return nil
    }

    /// The items, if this is a sequence.
    public var items: [ConfigNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// True for an explicit or empty null.
    public var isNull: Bool {
        if case .null = content { return true }
        return false
    }

    /// The value under `key` in a mapping.
    public subscript(key: String) -> ConfigNode? {
        entries?.first { $0.key == key }?.value
    }

    /// A short name of the node's shape, for "expected X, found Y" messages.
    public var shapeName: String {
        switch content {
        case .null: return "nothing"
        case .scalar(let text): return "'\(text)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}
