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
