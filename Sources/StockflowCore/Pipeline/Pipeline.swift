import Foundation

/// When a pipeline runs on its own (`schedule:`).
public struct PipelineSchedule: Sendable {
    /// The cron expression.
    public var cron: CronExpression
    /// The IANA time zone the expression is read in.
    public var timezone: String
    /// What happens to fire times missed while the scheduler was down (`catchup:`, default latest).
    public var catchup: CatchUpPolicy = .latest
}

/// One stage, built and placed in run order.
public struct PlannedStage {
    /// The stage id.
    public var id: String
    /// Its kind's spec.
    public var spec: StageSpec
    /// The stages feeding it, by port.
    public var inputs: [InputReference]
    /// The runnable stage.
    public var runner: StageRunner
    /// Free text from `description:`.
    public var description: String?
}

/// A validated pipeline, ready to plan or run.
public struct Pipeline {
    /// The pipeline name (`name:`).
    public var name: String
    /// What it does (`description:`).
    public var description: String?
    /// The file it was read from.
    public var file: URL
    /// When it runs, if it has a schedule.
    public var schedule: PipelineSchedule?
    /// Pipeline-wide settings.
    public var settings: PipelineSettings
    /// Stages in run order (every stage after its inputs).
    public var stages: [PlannedStage]
    /// How stages that talk to a server retry temporary failures (`retries:`).
    public var retries = RetryPolicy()
    /// The alert sent when a run fails (`on_failure:`).
    public var onFailure: FailureAlert?

    /// The top-level keys of a pipeline file, with their docs.
    public static let topLevelOptions: [OptionSpec] = [
        OptionSpec("version", .int, required: true, "Format version; must be 1."),
        OptionSpec("name", .string, required: true, "Pipeline name, used in run.json, logs and output placeholders ({pipeline})."),
        OptionSpec("description", .string, "What the pipeline is for."),
        OptionSpec("schedule", .mapping, "`{cron: \"30 2 * * *\", timezone: Europe/Paris, catchup: latest}`: a 5-field cron expression (or @daily, @hourly, ...), an IANA time zone (default UTC) and what `stockflow schedule` does with fire times missed while it was down: `none`, `latest` (default: run the most recent once) or `all` (each, with its own as-of date). A local time skipped by a daylight-saving change runs once at the next valid minute; a repeated one runs once."),
        OptionSpec("retries", .mapping, "Retries of temporary failures (a server unreachable, a database locked) with exponential backoff and jitter: `{max_retries: 3, initial_delay: 1, max_delay: 60, multiplier: 2, jitter: 0.5}` (seconds; these are the defaults). When they run out the run exits 75."),
        OptionSpec("on_failure", .mapping, "`{email: {to: [ops@example.com], subject: ..., log_lines: 50}}`: an alert with the error and the log tail when a run fails; SMTP keys (`smtp_url`, `smtp_user`, `smtp_password`, `starttls`, `from`, `cc`) as in the email load."),
        OptionSpec("settings", .mapping, "Pipeline-wide settings (below)."),
        OptionSpec("stages", .mapping, required: true, "The stages, keyed by id; each has exactly one of `extract:`, `transform:` or `load:`."),
    ]

    /// Reads, checks and builds a pipeline file; throws a `DiagnosticList` with every problem found.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Pipeline {
        let diagnostics = DiagnosticCollector()
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DiagnosticList([Diagnostic("cannot read pipeline file '\(path)': no such file or not readable", at: nil)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiagnosticList([Diagnostic("pipeline file is not UTF-8 text", at: SourcePosition(file: path, line: 1, column: 1))])
        }
        let pipeline = build(text: text, file: path, url: url, environment: environment, diagnostics: diagnostics)
        guard diagnostics.isEmpty, let pipeline else {
            throw DiagnosticList(diagnostics.diagnostics.sorted { ($0.position?.line ?? 0, $0.position?.column ?? 0) < ($1.position?.line ?? 0, $1.position?.column ?? 0) })
        }
        return pipeline
    }

    static func build(text: String, file: String, url: URL, environment: [String: String],
                      diagnostics: DiagnosticCollector) -> Pipeline? {
        guard let root = ConfigLoader.load(text: text, file: file, environment: environment, diagnostics: diagnostics) else {
            return nil
        }
        guard let entries = root.entries else {
            diagnostics.error("a pipeline file is a mapping with 'version', 'name' and 'stages', found \(root.shapeName)", at: root.position)
            return nil
        }
        let allowed = topLevelOptions.map(\.name)
        for entry in entries where !allowed.contains(entry.key) && !entry.key.hasPrefix("x-") {
            diagnostics.error("unknown top-level key '\(entry.key)'\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
        }
        for option in topLevelOptions where option.required && root[option.name] == nil {
            diagnostics.error("missing top-level key '\(option.name)': \(option.summary)", at: root.position)
        }
        if let version = root["version"], version.scalar != "1" {
            diagnostics.error("unsupported version \(version.shapeName); this stockflow reads version 1", at: version.position)
        }
        let name = root["name"]?.scalar ?? url.deletingPathExtension().lastPathComponent
        let schedule = root["schedule"].flatMap { readSchedule($0, diagnostics: diagnostics) }
        var settings = readSettings(root["settings"], diagnostics: diagnostics)
        if root["settings"]?["timezone"] == nil, let zone = schedule?.timezone { settings.timezone = zone }
        guard let stagesNode = root["stages"] else { return nil }
        guard let stageEntries = stagesNode.entries, !stageEntries.isEmpty else {
            diagnostics.error("'stages' must map stage ids to stages, found \(stagesNode.shapeName)", at: stagesNode.position)
            return nil
        }
        let retries = RetryPolicy.read(root["retries"], diagnostics: diagnostics)
        let context = BuildContext(settings: settings, baseDirectory: url.deletingLastPathComponent(), retries: retries)
        let stages = buildStages(stageEntries, context: context, diagnostics: diagnostics)
        return Pipeline(name: name, description: root["description"]?.scalar, file: url, schedule: schedule,
                        settings: settings, stages: stages, retries: retries,
                        onFailure: FailureAlert.read(root["on_failure"], diagnostics: diagnostics))
    }

    private static func readSchedule(_ node: ConfigNode, diagnostics: DiagnosticCollector) -> PipelineSchedule? {
        guard let entries = node.entries else {
            diagnostics.error("'schedule' must be a mapping like {cron: \"30 2 * * *\", timezone: Europe/Paris}, found \(node.shapeName)", at: node.position)
            return nil
        }
        let allowed = ["cron", "timezone", "catchup"]
        for entry in entries where !allowed.contains(entry.key) {
            diagnostics.error("unknown key '\(entry.key)' in schedule\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
        }
        var cron: CronExpression?
        if let cronNode = node["cron"], let text = cronNode.scalar {
            do {
                cron = try CronExpression(text)
            } catch let error as CronExpression.ParseError {
                // Point at the bad field; a quoted scalar's text starts after its quote.
                var position = cronNode.position
                position.column += error.offset + (cronNode.isQuoted ? 1 : 0)
                diagnostics.error("invalid cron expression: \(error.message)", at: position)
            } catch {
                diagnostics.error("invalid cron expression '\(text)'", at: cronNode.position)
            }
        } else {
            diagnostics.error("schedule needs 'cron' (5 fields, e.g. \"30 2 * * *\")", at: node.position)
        }
        let zone = node["timezone"]?.scalar ?? "UTC"
        if let zoneNode = node["timezone"], TimeZone(identifier: zone) == nil {
            let known = TimeZone.knownTimeZoneIdentifiers
            diagnostics.error("unknown time zone '\(zone)'; use an IANA name like Europe/Paris\(didYouMean(zone, known))", at: zoneNode.position)
        }
        if let catchup = node["catchup"], !["none", "latest", "all"].contains(catchup.scalar ?? "") {
            diagnostics.error("schedule 'catchup' must be one of none, latest, all, found \(catchup.shapeName)", at: catchup.position)
        }
        guard let cron else { return nil }
        return PipelineSchedule(cron: cron, timezone: zone,
                                catchup: node["catchup"]?.scalar.flatMap(CatchUpPolicy.init(rawValue:)) ?? .latest)
    }

    private static func readSettings(_ node: ConfigNode?, diagnostics: DiagnosticCollector) -> PipelineSettings {
        var settings = PipelineSettings()
        guard let node else { return settings }
        guard let entries = node.entries else {
            diagnostics.error("'settings' must be a mapping, found \(node.shapeName)", at: node.position)
            return settings
        }
        let allowed = PipelineSettings.options.map(\.name)
        for entry in entries {
            let text = entry.value.scalar ?? ""
            switch entry.key {
            case "currency":
                if text.count == 3 && text.allSatisfy(\.isUppercase) { settings.currency = text } else {
                    diagnostics.error("'currency' must be an ISO 4217 code like EUR, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "locale":
                if ["fr_FR", "en_US"].contains(text) { settings.locale = text } else {
                    diagnostics.error("'locale' must be fr_FR or en_US, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "low_stock_threshold":
                if let value = Int64(text), value >= 0 { settings.lowStockThreshold = value } else {
                    diagnostics.error("'low_stock_threshold' must be a whole number of units ≥ 0, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "max_rejects":
                if let value = Int(text), value >= 0 { settings.maxRejects = value } else {
                    diagnostics.error("'max_rejects' must be a whole number ≥ 0, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "timezone":
                if TimeZone(identifier: text) != nil { settings.timezone = text } else {
                    diagnostics.error("unknown time zone '\(text)'; use an IANA name like Europe/Paris", at: entry.value.position)
                }
            default:
                diagnostics.error("unknown setting '\(entry.key)'\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
            }
        }
        return settings
    }

    /// Builds stages in dependency order, reporting unknown kinds, unknown inputs and cycles.
    private static func buildStages(_ entries: [(key: String, keyPosition: SourcePosition, value: ConfigNode)],
                                    context: BuildContext, diagnostics: DiagnosticCollector) -> [PlannedStage] {
        var configs: [(config: StageConfig, kind: StageKind.Type, inputs: [InputReference])] = []
        for entry in entries {
            guard let node = entry.value.entries else {
                diagnostics.error("stage '\(entry.key)' must be a mapping with one of extract, transform or load, found \(entry.value.shapeName)", at: entry.value.position)
                continue
            }
            let roles = node.filter { StageRole(rawValue: $0.key) != nil }
            guard let roleEntry = roles.first else {
                diagnostics.error("stage '\(entry.key)' has none of extract, transform or load; add one naming its kind (e.g. 'extract: csv')", at: entry.keyPosition)
                continue
            }
            if roles.count > 1 {
                diagnostics.error("stage '\(entry.key)' has both '\(roles[0].key)' and '\(roles[1].key)'; a stage has exactly one of extract, transform or load", at: roles[1].keyPosition)
                continue
            }
            let role = StageRole(rawValue: roleEntry.key)!
            guard let kindName = roleEntry.value.scalar else {
                diagnostics.error("'\(role.rawValue)' of stage '\(entry.key)' names a kind, found \(roleEntry.value.shapeName)", at: roleEntry.value.position)
                continue
            }
            guard let kind = StageRegistry.kind(role: role, name: kindName) else {
                let names = StageRegistry.kinds(role: role).map { $0.spec.kind }
                diagnostics.error("unknown \(role.rawValue) kind '\(kindName)' in stage '\(entry.key)'; known: \(names.joined(separator: ", "))\(didYouMean(kindName, names))", at: roleEntry.value.position)
                continue
            }
            let config = StageConfig(id: entry.key, node: entry.value, spec: kind.spec, diagnostics: diagnostics,
                                     baseDirectory: context.baseDirectory)
            config.checkAgainstSpec()
            configs.append((config, kind, kind.inputReferences(config)))
        }
        let ids = Set(entries.map(\.key))
        for item in configs {
            for input in item.inputs where !ids.contains(input.stage) {
                diagnostics.error("stage '\(item.config.id)' reads unknown stage '\(input.stage)'\(didYouMean(input.stage, Array(ids)))", at: input.position)
            }
            if item.kind.spec.role == .load {
                continue
            }
        }
        // Topological order, keeping the file's order among ready stages.
        var ordered: [Int] = []
        var placed = Set<String>()
        var remaining = Array(configs.indices)
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { index in
                configs[index].inputs.allSatisfy { placed.contains($0.stage) || !ids.contains($0.stage) }
            }) else {
                let cycle = remaining.map { configs[$0].config.id }
                let first = configs[remaining[0]]
                diagnostics.error("stages \(cycle.map { "'\($0)'" }.joined(separator: ", ")) depend on each other in a cycle; a stage cannot read its own output", at: first.config.position)
                break
            }
            ordered.append(remaining[next])
            placed.insert(configs[remaining[next]].config.id)
            remaining.remove(at: next)
        }
        var built: [String: PlannedStage] = [:]
        var result: [PlannedStage] = []
        for index in ordered {
            let (config, kind, inputs) = configs[index]
            for input in inputs where built[input.stage] != nil && built[input.stage]!.spec.role == .load {
                diagnostics.error("stage '\(config.id)' reads '\(input.stage)', which is a load and has no output", at: input.position)
            }
            let schemas = inputs.compactMap { built[$0.stage]?.runner.outputSchema }
            guard schemas.count == inputs.count else { continue }
            let known = diagnostics.diagnostics.count
            guard let runner = kind.build(config, inputs: schemas, context: context) else {
                // A stage must never vanish from the plan without a reason.
                if diagnostics.diagnostics.count == known {
                    diagnostics.error("stage '\(config.id)' (\(kind.spec.role.rawValue): \(kind.spec.kind)) could not be built from its options", at: config.position)
                }
                continue
            }
            let stage = PlannedStage(id: config.id, spec: kind.spec, inputs: inputs, runner: runner,
                                     description: config.string("description"))
            built[config.id] = stage
            result.append(stage)
        }
        return result
    }
}

extension Pipeline {
    /// The pipeline cut down to the named stages and every stage they read from (`run --only`).
    public func restricted(to ids: [String]) throws -> Pipeline {
        let known = stages.map(\.id)
        for id in ids where !known.contains(id) {
            throw DiagnosticList([Diagnostic("--only names unknown stage '\(id)'\(didYouMean(id, known)); stages: \(known.joined(separator: ", "))", at: nil)])
        }
        var needed = Set(ids)
        // Stages are in run order, so walking backwards reaches every input before it is checked.
        for stage in stages.reversed() where needed.contains(stage.id) {
            for input in stage.inputs { needed.insert(input.stage) }
        }
        var copy = self
        copy.stages = stages.filter { needed.contains($0.id) }
        return copy
    }
}
