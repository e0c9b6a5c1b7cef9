/// Whether a stage reads data, reshapes it or writes it.
public enum StageRole: String, Sendable, CaseIterable {
    case extract, transform, load
}

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

/// One option of a stage kind: name, type, default and what it does.
public struct OptionSpec: Sendable {
    public var name: String
    public var kind: OptionKind
    public var required: Bool
    /// The value used when the option is absent, as it would be written in the file; the typed
    /// accessors of `OptionTable` and `StageConfig` return it, so build code never repeats it.
    public var defaultValue: String?
    /// A default that depends on something else (another option, a setting, the environment), for the
    /// docs only; the build code computes it.
    public var defaultNote: String?
    public var summary: String

    /// Declares an option; give `default` for a fixed value or `defaultNote` for one computed by the build.
    public init(_ name: String, _ kind: OptionKind, required: Bool = false, default defaultValue: String? = nil,
                defaultNote: String? = nil, _ summary: String) {
        self.name = name
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
        self.defaultNote = defaultNote
        self.summary = summary
    }

    /// The default as the docs show it.
    public var documentedDefault: String? { defaultValue ?? defaultNote }
}

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

/// Everything the tool knows about a stage kind: options, inputs, docs and example.
public struct StageSpec: Sendable {
    public var kind: String
    public var role: StageRole
    public var summary: String
    public var options: [OptionSpec]
    /// Named input ports; empty for extracts.
    public var ports: [PortSpec]
    /// A YAML example of the stage, as it would appear under `stages:`.
    public var example: String
    /// Inputs are named freely under `inputs:` (each name becomes, e.g., a table of a `sql` stage).
    public var namedInputs: Bool

    /// Declares a stage kind.
    public init(kind: String, role: StageRole, summary: String, options: [OptionSpec], ports: [PortSpec] = [],
                example: String, namedInputs: Bool = false) {
        self.namedInputs = namedInputs
        self.kind = kind
        self.role = role
        self.summary = summary
        self.options = options
        self.ports = ports
        self.example = example
    }

    /// Options every stage accepts besides its own.
    public static let commonOptions: [OptionSpec] = [
        OptionSpec("description", .string, "Free text shown by `stockflow plan`."),
    ]
}
