import Foundation

/// Settings shared by all stages of a pipeline (`settings:`).
public struct PipelineSettings: Sendable {
    /// ISO currency code shown on money columns.
    public var currency = "EUR"
    /// Locale for human-facing numbers and dates (`fr_FR`, `en_US`).
    public var locale = "fr_FR"
    /// Units under which a product counts as low stock.
    public var lowStockThreshold: Int64 = 10
    /// Most rejected rows a run may have and still succeed; nil for no limit.
    public var maxRejects: Int?
    /// Time zone for calendar rules (trends, dates of datetimes).
    public var timezone = "UTC"

    /// The settings keys with their docs.
    public static let options: [OptionSpec] = [
        OptionSpec("currency", .string, default: "EUR", "ISO 4217 code shown on money columns."),
        OptionSpec("locale", .choice(["fr_FR", "en_US"]), default: "fr_FR", "Locale of human-facing numbers and dates."),
        OptionSpec("low_stock_threshold", .int, default: "10", "A product with fewer units than this is low stock."),
        OptionSpec("max_rejects", .int, "Most rejected rows a run may have; above it the run fails with exit 65 and writes no report. No limit when absent."),
        OptionSpec("timezone", .string, default: "the schedule's time zone, else UTC", "IANA time zone for calendar rules."),
    ]
}

/// A reference from a stage to the stage feeding one of its inputs.
public struct InputReference: Sendable {
    /// The port (input name) of the consuming stage.
    public var port: String
    /// The id of the producing stage.
    public var stage: String
    /// Where the reference is written.
    public var position: SourcePosition
    /// True when the port is read whole before the others stream.
    public var lookup: Bool
}

/// What stage builders may use besides their own options.
public struct BuildContext: Sendable {
    /// The pipeline's settings.
    public var settings: PipelineSettings
    /// The folder of the pipeline file; relative input paths start here.
    public var baseDirectory: URL
    /// The pipeline's `retries:`, for stages that talk to a server.
    public var retries = RetryPolicy()
}

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

    init(id: String, node: ConfigNode, spec: StageSpec, diagnostics: DiagnosticCollector, baseDirectory: URL) {
        self.id = id
        self.node = node
        self.spec = spec
        self.diagnostics = diagnostics
        self.baseDirectory = baseDirectory
    }

    /// Where the stage is declared.
    public var position: SourcePosition { node.position }

    /// Records a problem at `at`, or at the stage when nil.
    public func error(_ message: String, at position: SourcePosition? = nil) {
        diagnostics.error(message, at: position ?? node.position)
    }

    /// Checks keys, required options and scalar types against the spec.
    func checkAgainstSpec() {
        guard let entries = node.entries else { return }
        let known = spec.options + StageSpec.commonOptions
        var allowed = Set(known.map(\.name))
        allowed.insert(spec.role.rawValue)
        if spec.namedInputs { allowed.insert("inputs") }
        if !spec.ports.isEmpty {
            allowed.insert("inputs")
            if spec.ports.count == 1 { allowed.insert("input") }
        }
        for entry in entries where !allowed.contains(entry.key) {
            let otherRoles = StageRole.allCases.map(\.rawValue).filter { $0 != spec.role.rawValue }
            if otherRoles.contains(entry.key) {
                error("stage '\(id)' has both '\(spec.role.rawValue)' and '\(entry.key)'; a stage has exactly one of extract, transform or load", at: entry.keyPosition)
            } else {
                error("unknown key '\(entry.key)' in stage '\(id)'\(didYouMean(entry.key, Array(allowed)))", at: entry.keyPosition)
            }
        }
        for option in known {
            guard let value = node[option.name] else {
                if option.required {
                    error("stage '\(id)' (\(spec.role.rawValue): \(spec.kind)) needs option '\(option.name)': \(option.summary)")
                }
                continue
            }
            checkType(of: value, option: option)
        }
    }

    private func checkType(of value: ConfigNode, option: OptionSpec) {
        let name = "'\(option.name)' in stage '\(id)'"
        switch option.kind {
        case .string, .inputPath, .outputPath:
            if value.scalar == nil { error("\(name) must be text, found \(value.shapeName)", at: value.position) }
        case .int:
            if value.scalar.flatMap({ Int($0) }) == nil {
                error("\(name) must be a whole number, found \(value.shapeName)", at: value.position)
            }
        case .decimal:
            if value.scalar.flatMap({ Money($0) }) == nil {
                error("\(name) must be a decimal number like 0.01, found \(value.shapeName)", at: value.position)
            }
        case .bool:
            if value.scalar.flatMap(parseBool) == nil {
                error("\(name) must be true or false, found \(value.shapeName)", at: value.position)
            }
        case .list:
            if value.items == nil { error("\(name) must be a list, found \(value.shapeName)", at: value.position) }
        case .mapping:
            if value.entries == nil { error("\(name) must be a mapping, found \(value.shapeName)", at: value.position) }
        case .choice(let choices):
            if let text = value.scalar, choices.contains(text) { return }
            error("\(name) must be one of \(choices.joined(separator: ", ")), found \(value.shapeName)\(didYouMean(value.scalar ?? "", choices))", at: value.position)
        case .any:
            break
        }
    }

    /// The option's text, or its default.
    public func string(_ name: String, default defaultValue: String? = nil) -> String? {
        node[name]?.scalar ?? defaultValue
    }

    /// The option as an integer (type errors were already reported).
    public func int(_ name: String, default defaultValue: Int) -> Int {
        node[name]?.scalar.flatMap { Int($0) } ?? defaultValue
    }

    /// The option as a boolean.
    public func bool(_ name: String, default defaultValue: Bool) -> Bool {
        node[name]?.scalar.flatMap(parseBool) ?? defaultValue
    }

    /// The option as an exact decimal.
    public func decimal(_ name: String, default defaultValue: Money) -> Money {
        node[name]?.scalar.flatMap { Money($0) } ?? defaultValue
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

    /// The input references declared under `inputs:` (or `input:`), checked against the ports.
    func declaredInputs() -> [InputReference] {
        var references: [InputReference] = []
        if spec.ports.count == 1, let single = node["input"] {
            if let stage = single.scalar {
                references.append(InputReference(port: spec.ports[0].name, stage: stage, position: single.position, lookup: spec.ports[0].lookup))
            } else {
                error("'input' of stage '\(id)' names one stage, found \(single.shapeName)", at: single.position)
            }
        }
        if let inputs = node["inputs"] {
            if let entries = inputs.entries {
                for entry in entries {
                    guard let port = spec.ports.first(where: { $0.name == entry.key }) else {
                        error("stage '\(id)' (\(spec.kind)) has no input '\(entry.key)'; its inputs are \(spec.ports.map(\.name).joined(separator: ", "))\(didYouMean(entry.key, spec.ports.map(\.name)))", at: entry.keyPosition)
                        continue
                    }
                    guard let stage = entry.value.scalar else {
                        error("input '\(entry.key)' of stage '\(id)' names a stage, found \(entry.value.shapeName)", at: entry.value.position)
                        continue
                    }
                    references.append(InputReference(port: port.name, stage: stage, position: entry.value.position, lookup: port.lookup))
                }
            } else if let items = inputs.items, spec.ports.count == 1 {
                for item in items {
                    if let stage = item.scalar {
                        references.append(InputReference(port: spec.ports[0].name, stage: stage, position: item.position, lookup: spec.ports[0].lookup))
                    }
                }
            } else if let stage = inputs.scalar, spec.ports.count == 1 {
                references.append(InputReference(port: spec.ports[0].name, stage: stage, position: inputs.position, lookup: spec.ports[0].lookup))
            } else {
                error("'inputs' of stage '\(id)' must map each input (\(spec.ports.map(\.name).joined(separator: ", "))) to a stage id", at: inputs.position)
            }
        }
        for port in spec.ports where !references.contains(where: { $0.port == port.name }) {
            if node["inputs"] != nil || node["input"] != nil || spec.ports.count > 1 {
                error("stage '\(id)' (\(spec.kind)) is missing input '\(port.name)': \(port.summary)")
            } else {
                error("stage '\(id)' (\(spec.kind)) needs 'input: <stage id>' (\(port.summary))")
            }
        }
        return references
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

/// A path under the output folder, possibly with `{as_of}` and `{pipeline}` placeholders.
public struct OutputPath: Sendable {
    /// The path as written in the pipeline.
    public var template: String

    /// Why a path cannot be used, or nil when it is fine.
    static func problem(with path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "is absolute; output paths are relative to the output folder (--out)"
        }
        if path.split(separator: "/").contains("..") {
            return "leaves the output folder through '..'; outputs stay inside the output folder (--out)"
        }
        return nil
    }

    /// The relative path with its placeholders filled in.
    public func resolved(asOf: CivilDate, pipeline: String) -> String {
        template.replacingOccurrences(of: "{as_of}", with: asOf.description)
            .replacingOccurrences(of: "{pipeline}", with: pipeline)
    }
}
