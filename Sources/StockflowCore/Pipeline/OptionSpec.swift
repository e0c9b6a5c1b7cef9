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
