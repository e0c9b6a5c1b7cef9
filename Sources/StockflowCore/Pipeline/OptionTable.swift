/// A mapping of the pipeline file (a stage, `settings:`, `schedule:`, `retries:`, `on_failure:`) read
/// against its table of `OptionSpec`s. The table is the one place an option's default is stated: the
/// typed accessors fall back to it, so readers never repeat a default.
public struct OptionTable {
    /// The mapping as written; nil when the whole block is absent (every option takes its default).
    public let node: ConfigNode?
    /// The options the mapping may hold.
    public let options: [OptionSpec]
    /// How messages name the mapping: `stage 'orders'`, `settings`, `retries`.
    public let place: String
    /// Where problems are recorded.
    let diagnostics: DiagnosticCollector

    /// A table over `node`; `place` names it in messages.
    public init(_ node: ConfigNode?, options: [OptionSpec], place: String, diagnostics: DiagnosticCollector) {
        self.node = node
        self.options = options
        self.place = place
        self.diagnostics = diagnostics
    }

    /// The spec of option `name`, when the table declares it.
    public func option(_ name: String) -> OptionSpec? {
        options.first { $0.name == name }
    }

    /// Reports every key of the mapping that is neither an option nor one of `extra`, with a "did you mean".
    func reportUnknownKeys(extra: [String] = [], hint: String = "") {
        guard let entries = node?.entries else { return }
        let allowed = options.map(\.name) + extra
        for entry in entries where !allowed.contains(entry.key) {
            diagnostics.error("unknown key '\(entry.key)' in \(place)\(didYouMean(entry.key, allowed))\(hint)", at: entry.keyPosition)
        }
    }

    /// Reports a value whose shape does not match its option's kind (text, number, list, choice...).
    func checkKinds() {
        for option in options {
            if let value = node?[option.name] { checkKind(of: value, option: option) }
        }
    }

    private func checkKind(of value: ConfigNode, option: OptionSpec) {
        let name = "'\(option.name)' in \(place)"
        let position = value.position
        switch option.kind {
        case .string, .inputPath, .outputPath:
            if value.scalar == nil { diagnostics.error("\(name) must be text, found \(value.shapeName)", at: position) }
        case .int:
            if value.scalar.flatMap({ Int($0) }) == nil {
                diagnostics.error("\(name) must be a whole number, found \(value.shapeName)", at: position)
            }
        case .decimal:
            if value.scalar.flatMap({ Money($0) }) == nil {
                diagnostics.error("\(name) must be a decimal number like 0.01, found \(value.shapeName)", at: position)
            }
        case .bool:
            if value.scalar.flatMap(parseBool) == nil {
                diagnostics.error("\(name) must be true or false, found \(value.shapeName)", at: position)
            }
        case .list:
            if value.items == nil { diagnostics.error("\(name) must be a list, found \(value.shapeName)", at: position) }
        case .mapping:
            if value.entries == nil { diagnostics.error("\(name) must be a mapping, found \(value.shapeName)", at: position) }
        case .choice(let choices):
            if let text = value.scalar, choices.contains(text) { return }
            diagnostics.error("\(name) must be one of \(choices.joined(separator: ", ")), found \(value.shapeName)\(didYouMean(value.scalar ?? "", choices))", at: position)
        case .any:
            break
        }
    }

    /// The option's text as written, else the spec's default; nil when neither exists.
    public func string(_ name: String) -> String? {
        node?[name]?.scalar ?? option(name)?.defaultValue
    }

    /// The option's text, else the spec's default; for options whose spec states one.
    public func text(_ name: String) -> String {
        node?[name]?.scalar ?? specDefault(name) ?? ""
    }

    /// The option as a whole number (a wrong type was reported by `checkKinds`), else the spec's default.
    public func int(_ name: String) -> Int {
        node?[name]?.scalar.flatMap { Int($0) } ?? specDefault(name).flatMap { Int($0) } ?? 0
    }

    /// The option as a boolean, else the spec's default.
    public func bool(_ name: String) -> Bool {
        node?[name]?.scalar.flatMap(parseBool) ?? specDefault(name).flatMap(parseBool) ?? false
    }

    /// The option as an exact decimal, else the spec's default.
    public func decimal(_ name: String) -> Money {
        node?[name]?.scalar.flatMap { Money($0) } ?? specDefault(name).flatMap { Money($0) } ?? Money(units: 0, scale: 0)
    }

    /// The option as one of the values of an enumeration (a `.choice` option), else the spec's default.
    public func choice<T: RawRepresentable>(_ name: String, as type: T.Type = T.self) -> T? where T.RawValue == String {
        node?[name]?.scalar.flatMap(T.init(rawValue:)) ?? specDefault(name).flatMap(T.init(rawValue:))
    }

    /// The option read by `parse`, else the spec's default (nil when it has none). A written value that
    /// `parse` refuses is reported as `<label>'name' must be <expected>, found ...` and the default used.
    public func parsed<T>(_ name: String, label: String = "", expected: String, _ parse: (String) -> T?) -> T? {
        let fallback = option(name)?.defaultValue.flatMap(parse)
        guard let value = node?[name] else { return fallback }
        if let text = value.scalar, let result = parse(text) { return result }
        diagnostics.error("\(label)'\(name)' must be \(expected), found \(value.shapeName)", at: value.position)
        return fallback
    }

    /// The spec's default of option `name`. Reading the default of an option whose spec states none is
    /// a bug of stockflow: it is reported as a diagnostic, never a crash.
    private func specDefault(_ name: String) -> String? {
        if let value = option(name)?.defaultValue { return value }
        if node?[name] == nil {
            diagnostics.error("option '\(name)' of \(place) is read with its default, but its spec states none (a bug in stockflow; please report it)", at: node?.position)
        }
        return nil
    }
}

/// Reads YAML booleans.
func parseBool(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: return nil
    }
}
