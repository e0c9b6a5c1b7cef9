import Foundation

/// One stage's options, read against its kind's spec; every problem goes to the diagnostics.
public final class StageConfig {
    /// The stage id (its key under `stages:`).
    public let id: String
    /// The stage's mapping.
    public let node: ConfigNode
    /// The spec of its kind.
    public let spec: StageSpec
    /// Where problems are recorded.
    public let diagnostics: DiagnosticCollector
    /// The pipeline file's folder.
    public let baseDirectory: URL
    /// The stage's options with their spec defaults.
    public let options: OptionTable
    /// The input references and the schemas behind them, bound by the pipeline before `build` runs.
    var boundInputs: [(reference: InputReference, schema: Schema)] = []

    init(id: String, node: ConfigNode, spec: StageSpec, diagnostics: DiagnosticCollector, baseDirectory: URL) {
        self.id = id
        self.node = node
        self.spec = spec
        self.diagnostics = diagnostics
        self.baseDirectory = baseDirectory
        options = OptionTable(node, options: spec.options + StageSpec.commonOptions, place: "stage '\(id)'",
                              diagnostics: diagnostics)
    }

    /// Where the stage is declared.
    public var position: SourcePosition { node.position }

    /// Records a problem at `at`, or at the stage when nil.
    public func error(_ message: String, at position: SourcePosition? = nil) {
        diagnostics.error(message, at: position ?? node.position)
    }

    /// Checks keys, required options and scalar types against the spec.
    func checkAgainstSpec() {
        guard node.entries != nil else { return }
        var extra = [spec.role.rawValue]
        // `input` first: a one-port stage is usually written with it, so a misspelling suggests it.
        if spec.ports.count == 1 { extra.append("input") }
        if spec.namedInputs || !spec.ports.isEmpty { extra.append("inputs") }
        // A second role key never gets here: the pipeline reports it before reading the stage.
        options.reportUnknownKeys(extra: extra)
        for option in options.options where option.required && node[option.name] == nil {
            error("stage '\(id)' (\(spec.role.rawValue): \(spec.kind)) needs option '\(option.name)': \(option.summary)")
        }
        options.checkKinds()
    }

    /// The option's text, else its spec's default; nil when neither exists.
    public func string(_ name: String) -> String? { options.string(name) }

    /// The option's text, else its spec's default (for options whose spec states one).
    public func text(_ name: String) -> String { options.text(name) }

    /// The option as a whole number, else its spec's default.
    public func int(_ name: String) -> Int { options.int(name) }

    /// The option as a boolean, else its spec's default.
    public func bool(_ name: String) -> Bool { options.bool(name) }

    /// The option as an exact decimal, else its spec's default.
    public func decimal(_ name: String) -> Money { options.decimal(name) }

    /// The option as a value of an enumeration (a `.choice` option), else its spec's default.
    public func choice<T: RawRepresentable>(_ name: String, as type: T.Type = T.self) -> T? where T.RawValue == String {
        options.choice(name, as: type)
    }

    /// The option's text, or `defaultValue` when absent. Prefer `text(_:)`, which takes the default from
    /// the spec; kept until CSVExtract reads its defaults from its spec.
    public func string(_ name: String, default defaultValue: String) -> String? {
        node[name]?.scalar ?? defaultValue
    }

    /// The option as an integer, or `defaultValue`. Prefer `int(_:)`; kept until CSVExtract uses it.
    public func int(_ name: String, default defaultValue: Int) -> Int {
        node[name]?.scalar.flatMap { Int($0) } ?? defaultValue
    }

    /// The option as a boolean, or `defaultValue`. Prefer `bool(_:)`; kept until CSVExtract uses it.
    public func bool(_ name: String, default defaultValue: Bool) -> Bool {
        node[name]?.scalar.flatMap(parseBool) ?? defaultValue
    }

    /// The option as a list of texts; reports items that are not text.
    public func stringList(_ name: String) -> [String]? {
        guard let items = node[name]?.items else {
            if let single = node[name]?.scalar { return [single] }
            return nil
        }
        return items.compactMap { item in
            if item.scalar == nil { error("items of '\(name)' must be text, found \(item.shapeName)", at: item.position) }
            return item.scalar
        }
    }

    /// An input file path resolved against the pipeline's folder; reports a missing file.
    public func inputPath(_ name: String) -> URL? {
        guard let value = node[name], let text = value.scalar else { return nil }
        let url = resolve(text)
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
            error("file '\(text)' of '\(name)' in stage '\(id)' does not exist (looked for \(url.path))", at: value.position)
        } else if isFolder.boolValue {
            error("'\(text)' of '\(name)' in stage '\(id)' is a folder; name a file in it", at: value.position)
        }
        return url
    }

    /// An input path relative to the pipeline file's folder.
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDirectory.appendingPathComponent(path).standardizedFileURL
    }

    /// An output path template, checked to stay inside the output folder.
    public func outputPath(_ name: String) -> OutputPath? {
        guard let value = node[name], let text = value.scalar else { return nil }
        if let problem = OutputPath.problem(with: text) {
            error("output path '\(text)' of stage '\(id)' \(problem)", at: value.position)
            return nil
        }
        return OutputPath(template: text)
    }
}
