import Foundation
import Testing
@testable import StockflowCore

/// One way of getting a stage's inputs wrong, and what the diagnostics must say about it.
struct PortMistake: Sendable, CustomTestStringConvertible {
    /// `role: kind` of the stage.
    var kind: String
    /// What is wrong.
    var mistake: String
    /// The stage's lines after its role line (each indented by four spaces).
    var lines: [String]
    /// A diagnostic must contain every one of these.
    var fragments: [String]

    var testDescription: String { "\(kind): \(mistake)" }
}

/// The stage under test starts on this line of the pipeline file, after `probeHeader` (lines 1-6).
private let stageLine = 7

/// A misspelling of `name` that is still close enough for a "did you mean".
private func misspelled(_ name: String) -> String {
    name.count > 3 ? String(name.dropLast()) + "x" : name + "x"
}

/// Every port mistake of every stage kind that declares ports: each port missing, each misspelled,
/// and an extra unknown port, plus the misspelled `input:` key for one-port kinds.
private let portMistakes: [PortMistake] = StageRegistry.all.flatMap { kind -> [PortMistake] in
    let spec = kind.spec
    let name = "\(spec.role.rawValue): \(spec.kind)"
    let ports = spec.ports.map(\.name)
    guard !ports.isEmpty else { return [] }
    func inputs(_ names: [String]) -> String {
        "    inputs: {\(names.map { "\($0): src" }.joined(separator: ", "))}"
    }
    var cases: [PortMistake] = []
    for port in ports {
        let others = ports.filter { $0 != port }
        cases.append(PortMistake(kind: name, mistake: "no '\(port)'", lines: [others.isEmpty ? "    description: no input" : inputs(others)],
                                 fragments: ports.count == 1 && others.isEmpty ? ["stage 'probe'", "needs 'input: <stage id>'"]
                                     : ["stage 'probe'", "is missing input '\(port)'"]))
        let typo = misspelled(port)
        cases.append(PortMistake(kind: name, mistake: "'\(typo)' for '\(port)'", lines: [inputs(others + [typo])],
                                 fragments: ["stage 'probe'", "has no input '\(typo)'", "did you mean '\(port)'?"]))
    }
    cases.append(PortMistake(kind: name, mistake: "an extra port", lines: [inputs(ports + ["bogus"])],
                             fragments: ["has no input 'bogus'", "its inputs are \(ports.joined(separator: ", "))"]))
    if ports.count == 1 {
        cases.append(PortMistake(kind: name, mistake: "'inptu:' for 'input:'", lines: ["    inptu: src"],
                                 fragments: ["unknown key 'inptu' in stage 'probe'", "did you mean 'input'?"]))
        cases.append(PortMistake(kind: name, mistake: "a second stage on its one port", lines: ["    inputs: [src, src]"],
                                 fragments: ["input '\(ports[0])' of stage 'probe'", "takes one stage"]))
    } else {
        cases.append(PortMistake(kind: name, mistake: "one 'input:' for several ports", lines: ["    input: src"],
                                 fragments: ["unknown key 'input' in stage 'probe'"]))
    }
    return cases
}

@Suite struct StageBuildValidationTests {
    static let mistakes = portMistakes

    @Test(arguments: mistakes)
    func aWrongPortIsReportedAtTheStageWithoutCrashing(_ mistake: PortMistake) {
        let role = mistake.kind.split(separator: ":").first.map(String.init) ?? ""
        let kind = mistake.kind.split(separator: " ").last.map(String.init) ?? ""
        let yaml = probeHeader + "  probe:\n    \(role): \(kind)\n" + mistake.lines.joined(separator: "\n") + "\n"
        let (found, file) = validateProbe(yaml)
        let matching = found.filter { diagnostic in mistake.fragments.allSatisfy { diagnostic.message.contains($0) } }
        #expect(!matching.isEmpty, "expected \(mistake.fragments) among:\n\(found.map(\.description).joined(separator: "\n"))")
        for diagnostic in matching {
            #expect(diagnostic.position?.file == file)
            #expect((diagnostic.position?.line ?? 0) >= stageLine, "\(diagnostic)")
        }
        #expect(found.allSatisfy { $0.position != nil }, "every problem has a place: \(found)")
    }

    /// Every kind's documented example with its input keys misspelled still validates to located
    /// diagnostics (this covers the kinds whose inputs sit in sheets, charts or KPIs).
    @Test(arguments: StageRegistry.all.map { "\($0.spec.role.rawValue): \($0.spec.kind)" })
    func theExampleWithMisspelledInputKeysIsReportedWithoutCrashing(_ key: String) throws {
        let spec = try #require(StageRegistry.all.first { "\($0.spec.role.rawValue): \($0.spec.kind)" == key }?.spec)
        let mangled = spec.example.replacingOccurrences(of: "inputs:", with: "inptus:")
            .replacingOccurrences(of: "input:", with: "inptu:")
        let indented = mangled.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        let (found, _) = validateProbe(probeHeader + indented + "\n")
        #expect(!found.isEmpty)
        #expect(found.allSatisfy { $0.position != nil }, "\(found)")
        if spec.example.contains("input") {
            #expect(found.contains { $0.message.contains("inptu") || $0.message.contains("needs 'input") || $0.message.contains("missing input") },
                    "\(found)")
        }
    }

    /// The build of each kind with ports, called with none of its inputs bound, reports the missing
    /// input and returns nil: the checked accessor is a last guard when the pipeline's check is bypassed.
    @Test(arguments: StageRegistry.all.filter { !$0.spec.ports.isEmpty }.map { "\($0.spec.role.rawValue): \($0.spec.kind)" })
    func aBuildGivenNoInputsReportsTheMissingOne(_ key: String) throws {
        let kind = try #require(StageRegistry.all.first { "\($0.spec.role.rawValue): \($0.spec.kind)" == key })
        let position = SourcePosition(file: "probe.yml", line: 3, column: 3)
        let node = ConfigNode(content: .mapping([(key: kind.spec.role.rawValue, keyPosition: position,
                                                   value: ConfigNode(content: .scalar(kind.spec.kind), position: position))]),
                              position: position)
        let collector = DiagnosticCollector()
        let config = StageConfig(id: "probe", node: node, spec: kind.spec, diagnostics: collector,
                                 baseDirectory: URL(fileURLWithPath: NSTemporaryDirectory()))
        let runner = kind.build(config, inputs: [], context: BuildContext(settings: PipelineSettings(), baseDirectory: config.baseDirectory))
        #expect(runner == nil)
        #expect(collector.diagnostics.contains { $0.message.contains("is missing input") && $0.position == position },
                "\(collector.diagnostics)")
    }

    @Test func allProblemsOfSeveralStagesAreReportedAtOnce() {
        let yaml = probeHeader + """
          totals:
            transform: order_totals
            inputs: {orders: src, product: src}
          joined:
            transform: join
            input: totals
            on: code
          out:
            load: csv
            path: out.csv

        """
        let (found, file) = validateProbe(yaml)
        let texts = found.map(\.description)
        #expect(texts.contains("\(file):9:27: error: stage 'totals' (order_totals) has no input 'product' (did you mean 'products'?); its inputs are orders, products"), "\(texts)")
        #expect(texts.contains { $0.hasPrefix("\(file):9:13: error: stage 'totals' (order_totals) is missing input 'products'") }, "\(texts)")
        #expect(texts.contains { $0.hasPrefix("\(file):12:5: error: unknown key 'input' in stage 'joined'") }, "\(texts)")
        #expect(texts.contains { $0.hasPrefix("\(file):12:12: error: stage 'joined' (join) is missing input 'left'") }, "\(texts)")
        #expect(texts.contains { $0.hasPrefix("\(file):15:5: error: stage 'out' (csv) needs 'input: <stage id>'") }, "\(texts)")
    }

    @Test(arguments: [
        (String(repeating: "(", count: 100_000) + "code > 1" + String(repeating: ")", count: 100_000), "nests more than 64 levels"),
        (String(repeating: "not ", count: 50_000) + "code > 1", "nests more than 64 levels"),
        (String(repeating: "month(", count: 10_000) + "code" + String(repeating: ")", count: 10_000), "nests more than 64 levels"),
        (Array(repeating: "code", count: 20_000).joined(separator: " + ") + " > 1", "more than 1000 operators"),
    ])
    func aHostilyDeepConditionIsRefusedNotOverflowingTheStack(_ condition: String, _ fragment: String) {
        let yaml = probeHeader + "  keep:\n    transform: filter\n    input: src\n    where: \"\(condition)\"\n"
        let (found, file) = validateProbe(yaml)
        #expect(found.contains { $0.message.contains(fragment) && $0.position?.file == file && $0.position?.line == 10 },
                "\(found.map(\.message).map { String($0.prefix(200)) })")
    }

    @Test func optionsLeftOutTakeTheDefaultsTheirSpecStates() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code,nom\n1,a\n")
        let file = scratch.write("pipeline.yml", probeHeader + """
          out:
            load: csv
            input: src
            path: out.csv

        """)
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        let settings = PipelineSettings()
        for option in PipelineSettings.options {
            guard let value = option.defaultValue else { continue }
            switch option.name {
            case "currency": #expect(settings.currency == value)
            case "locale": #expect(settings.locale == value)
            case "low_stock_threshold": #expect(String(settings.lowStockThreshold) == value)
            case "pushdown": #expect(settings.pushdown.rawValue == value)
            default: Issue.record("settings option '\(option.name)' has a default this test does not check")
            }
        }
        #expect(pipeline.settings.timezone == PipelineSchedule.options.first { $0.name == "timezone" }?.defaultValue)
        #expect(pipeline.settings.maxRejects == nil)
        let retries = RetryPolicy()
        let stated = Dictionary(uniqueKeysWithValues: RetryPolicy.options.compactMap { option in option.defaultValue.map { (option.name, $0) } })
        #expect(stated["max_retries"].flatMap { Int($0) } == retries.maxRetries)
        #expect(stated["initial_delay"].flatMap { Double($0) } == retries.initialDelay)
        #expect(stated["max_delay"].flatMap { Double($0) } == retries.maxDelay)
        #expect(stated["multiplier"].flatMap { Double($0) } == retries.multiplier)
        #expect(stated["jitter"].flatMap { Double($0) } == retries.jitter)
        #expect(pipeline.retries == retries)
        let alert = FailureAlert(to: ["ops@example.com"])
        #expect(FailureAlert.emailOptions.first { $0.name == "subject" }?.defaultValue == alert.subject)
        #expect(FailureAlert.emailOptions.first { $0.name == "log_lines" }?.defaultValue == String(alert.logLines))
    }

    @Test func aStageOptionReadWithoutASpecDefaultIsReportedNotCrashed() {
        let position = SourcePosition(file: "probe.yml", line: 1, column: 1)
        let collector = DiagnosticCollector()
        let table = OptionTable(ConfigNode(content: .mapping([]), position: position),
                                options: [OptionSpec("free", .string, "No default.")], place: "stage 'probe'", diagnostics: collector)
        #expect(table.text("free") == "")
        #expect(table.string("free") == nil)
        #expect(collector.diagnostics.map(\.message) == ["option 'free' of stage 'probe' is read with its default, but its spec states none (a bug in stockflow; please report it)"])
    }

    @Test(arguments: [
        ("settings: {currency: euro}", 3, "'currency' must be an ISO 4217 code like EUR, found 'euro'"),
        ("settings: {curency: EUR}", 3, "unknown key 'curency' in settings (did you mean 'currency'?)"),
        ("settings: {timezone: Europe/Pariss}", 3, "unknown time zone 'Europe/Pariss'; use an IANA name like Europe/Paris (did you mean 'Europe/Paris'?)"),
        ("schedule: {cron: \"0 2 * * *\", timezon: UTC}", 3, "unknown key 'timezon' in schedule (did you mean 'timezone'?)"),
        ("retries: {jitter: 2}", 3, "retries 'jitter' must be a fraction from 0 to 1, found '2'"),
        ("on_failure: {email: {to: [ops@example.com], log_line: 5}}", 3, "unknown key 'log_line' in on_failure email (did you mean 'log_lines'?)"),
    ])
    func pipelineWideBlocksAreCheckedAgainstTheirTables(_ yaml: String, _ line: Int, _ message: String) {
        let text = "version: 1\nname: probe\n\(yaml)\nstages:\n  src: {extract: csv, path: in.csv}\n"
        let (found, file) = validateProbe(text)
        #expect(found.contains { $0.message == message && $0.position?.line == line && $0.position?.file == file }, "\(found)")
    }
}
