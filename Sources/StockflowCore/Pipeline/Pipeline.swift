import Foundation

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
    /// A run whose inputs are those of the last success for its date does nothing (`skip_unchanged:`).
    public var skipUnchanged = false
    /// Where each stage runs under `settings: pushdown:`, and the SQL sent (docs/pushdown.md).
    public var pushdown: PushdownPlan?

    /// The top-level keys of a pipeline file, with their docs.
    public static let topLevelOptions: [OptionSpec] = [
        OptionSpec("version", .int, required: true, "Format version; must be 1."),
        OptionSpec("name", .string, required: true, "Pipeline name, used in run.json, logs and output placeholders ({pipeline})."),
        OptionSpec("description", .string, "What the pipeline is for."),
        OptionSpec("schedule", .mapping, "When `stockflow schedule` runs the pipeline, e.g. `{cron: \"30 2 * * *\", timezone: Europe/Paris, catchup: latest}` (keys below)."),
        OptionSpec("retries", .mapping, "Retries of temporary failures (a server unreachable, a database locked) with exponential backoff and jitter, e.g. `{max_retries: 5, initial_delay: 2}` (keys below). When they run out the run exits 75."),
        OptionSpec("on_failure", .mapping, "An alert with the error and the log tail when a run fails: `{email: {to: [ops@example.com]}}` (keys below); SMTP keys as in the email load."),
        OptionSpec("settings", .mapping, "Pipeline-wide settings (below)."),
        OptionSpec("skip_unchanged", .bool, default: "false", "When true, a run whose inputs (files' content, SQLite databases' content, PostgreSQL tables' counters or `change_query`) and pipeline file are those of the last success for the same as-of date and output folder exits 0 with \"up to date (same inputs as run <id>)\", rewrites nothing and is recorded as `skipped`; `run --force` runs anyway."),
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
        let schedule = root["schedule"].flatMap { PipelineSchedule.read($0, diagnostics: diagnostics) }
        let settings = PipelineSettings.read(root["settings"], scheduleZone: schedule?.timezone, diagnostics: diagnostics)
        guard let stagesNode = root["stages"] else { return nil }
        guard let stageEntries = stagesNode.entries, !stageEntries.isEmpty else {
            diagnostics.error("'stages' must map stage ids to stages, found \(stagesNode.shapeName)", at: stagesNode.position)
            return nil
        }
        let retries = RetryPolicy.read(root["retries"], diagnostics: diagnostics)
        let context = BuildContext(settings: settings, baseDirectory: url.deletingLastPathComponent(), retries: retries,
                                   description: root["description"]?.scalar)
        let stages = buildStages(stageEntries, context: context, diagnostics: diagnostics)
        IncrementalRead.checkFlow(stages, diagnostics: diagnostics)
        var pipeline = Pipeline(name: name, description: root["description"]?.scalar, file: url, schedule: schedule,
                                settings: settings, stages: stages, retries: retries,
                                onFailure: FailureAlert.read(root["on_failure"], diagnostics: diagnostics))
        pipeline.skipUnchanged = InputFingerprint.readSetting(root["skip_unchanged"], stages: stages, diagnostics: diagnostics)
        (pipeline.stages, pipeline.pushdown) = PushdownPlanner.apply(stages, settings: settings, diagnostics: diagnostics)
        return pipeline
    }

    /// Builds stages in dependency order, reporting unknown kinds, unknown inputs and cycles.
    private static func buildStages(_ entries: [(key: String, keyPosition: SourcePosition, value: ConfigNode)],
                                    context: BuildContext, diagnostics: DiagnosticCollector) -> [PlannedStage] {
        var configs: [(config: StageConfig, kind: StageKind.Type, inputs: [InputReference], complete: Bool)] = []
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
            if let second = roles.dropFirst().first {
                diagnostics.error("stage '\(entry.key)' has both '\(roleEntry.key)' and '\(second.key)'; a stage has exactly one of extract, transform or load", at: second.keyPosition)
                continue
            }
            guard let role = StageRole(rawValue: roleEntry.key) else { continue }
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
            let inputs = kind.inputReferences(config)
            // Build code reads every port of its spec: a stage with a port missing, unknown or given
            // twice was reported above and is not built.
            configs.append((config, kind, inputs, config.covers(inputs)))
        }
        let ids = Set(entries.map(\.key))
        for item in configs {
            for input in item.inputs where !ids.contains(input.stage) {
                diagnostics.error("stage '\(item.config.id)' reads unknown stage '\(input.stage)'\(didYouMean(input.stage, Array(ids)))", at: input.position)
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
            let (config, kind, inputs, complete) = configs[index]
            for input in inputs where built[input.stage]?.spec.role == .load {
                diagnostics.error("stage '\(config.id)' reads '\(input.stage)', which is a load and has no output", at: input.position)
            }
            let schemas = inputs.compactMap { built[$0.stage]?.runner.outputSchema }
            guard complete, schemas.count == inputs.count else { continue }
            config.boundInputs = Array(zip(inputs, schemas))
            let known = diagnostics.diagnostics.count
            guard let runner = kind.build(config, inputs: schemas, context: context) else {
                // A stage must never vanish from the plan without a reason.
                if diagnostics.diagnostics.count == known {
                    diagnostics.error("stage '\(config.id)' (\(kind.spec.role.rawValue): \(kind.spec.kind)) could not be built from its options", at: config.position)
                }
                continue
            }
            let stage = PlannedStage(id: config.id, spec: kind.spec, inputs: inputs, runner: runner,
                                     description: config.string("description"), position: config.position)
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
