import Foundation
import Testing
@testable import StockflowCore

/// The committed fuzz seeds and regressions (fuzz/corpus/<target>/) under the ordinary test build,
/// read as the fuzz targets read them, so CI catches a regression without building the fuzzers.
private let corpus = repositoryRoot.appendingPathComponent("fuzz/corpus")

private func inputs(_ target: String) -> [String] {
    let folder = corpus.appendingPathComponent(target)
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
}

private func bytes(_ target: String, _ name: String) -> [UInt8] {
    (try? [UInt8](Data(contentsOf: corpus.appendingPathComponent(target).appendingPathComponent(name)))) ?? []
}

@Suite struct FuzzCorpusTests {
    @Test func everyTargetHasSeeds() {
        for target in ["csv", "pipeline", "cron", "expression"] {
            #expect(inputs(target).count >= 5, "fuzz/corpus/\(target)")
        }
    }

    /// As fuzz/Sources/FuzzCSV: an option byte (delimiter, lenient_quotes, encoding, tiny quote limits), then the file.
    @Test(arguments: inputs("csv"))
    func csvSeedsRunThroughTheExtractAndReconcile(_ name: String) throws {
        let input = bytes("csv", name)
        let option = input.first ?? 0
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let file = scratch.write("in.csv", bytes: Array(input.dropFirst()))
        let tiny = option & 32 != 0
        let environment = [
            "FUZZ_CSV": file.path, "FUZZ_DELIMITER": [",", ";", "\\t", "|"][Int(option & 3)],
            "FUZZ_ENCODING": ["utf-8", "windows-1252", "iso-8859-1", "utf-8"][Int(option >> 3 & 3)],
            "FUZZ_LENIENT": option & 4 != 0 ? "true" : "false",
            "FUZZ_MAX_QUOTED_LINES": tiny ? "2" : "256", "FUZZ_MAX_QUOTED_BYTES": tiny ? "64" : "1048576",
        ]
        let pipeline = try Pipeline.load(path: repositoryRoot.appendingPathComponent("fuzz/csv-pipeline.yml").path,
                                         environment: environment)
        let report = PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("out"),
                                    asOf: CivilDate(iso: "2026-11-25")!).run()
        #expect(report.exitCode == 0 || report.exitCode == 1, "\(report.error ?? "")")
        if report.exitCode == 0 {
            expectStageCountsReconcile(report)
        } else {
            #expect(scratch.read("out/out.csv") == nil, "a failed run writes no output")
        }
    }

    /// As fuzz/Sources/FuzzPipeline: the file is validated in pipelines/, next to the repository's fixtures/.
    @Test(arguments: inputs("pipeline"))
    func pipelineSeedsValidateOrReportDiagnostics(_ name: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        try FileManager.default.createSymbolicLink(at: scratch.url.appendingPathComponent("fixtures"),
                                                   withDestinationURL: repositoryRoot.appendingPathComponent("fixtures"))
        scratch.write("pipelines/in.csv", "code,nom,prix\n1,a,2.50\n")
        let file = scratch.write("pipelines/p.yml", bytes: [])
        try Data(bytes("pipeline", name)).write(to: file)
        do {
            let pipeline = try Pipeline.load(path: file.path, environment: ["HOME": "/nonexistent"])
            #expect(!pipeline.stages.isEmpty)
        } catch let list as DiagnosticList {
            #expect(!list.diagnostics.isEmpty)
            #expect(list.diagnostics.allSatisfy { $0.position == nil || $0.position!.line >= 1 }, "\(list)")
        }
    }

    /// As fuzz/Sources/FuzzCron: a zone byte, then the expression; one that parses fires.
    @Test(arguments: inputs("cron"))
    func cronSeedsParseToExpressionsThatFireOrAreRefused(_ name: String) {
        let input = bytes("cron", name)
        let zones = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"]
        let zone = TimeZone(identifier: zones[Int(input.first ?? 0) % zones.count])!
        guard let cron = try? CronExpression(String(decoding: input.dropFirst(), as: UTF8.self)) else { return }
        let plan = CronSchedule(cron: cron, timeZone: zone)
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        let fire = plan.nextFire(after: start)
        #expect(fire != nil, "'\(cron.text)' parses but never fires")
        if let fire { #expect(fire > start) }
    }

    /// As fuzz/Sources/FuzzExpression: parsed over a schema of every type, evaluated on values and nulls.
    @Test(arguments: inputs("expression"))
    func expressionSeedsParseAndEvaluateOrAreRefused(_ name: String) {
        let schema = Schema([Column("qty", .int), Column("price", .decimal, scale: 2), Column("name", .text),
                             Column("day", .date), Column("at", .datetime), Column("ok", .bool)])
        let text = String(decoding: bytes("expression", name), as: UTF8.self)
        let parsed = try? Expression.parse(text, schema: schema)
        // The hand-written seeds are valid; found inputs (named by libFuzzer) need not be.
        #expect(parsed != nil || !name.hasPrefix("seed-"), "'\(text)'")
        guard let expression = parsed else { return }
        let values: Row = [.int(3), .decimal(Money(units: 1250, scale: 2)), .text("Vis"), .date(CivilDate(iso: "2026-11-25")!),
                           .datetime(Timestamp(microseconds: 1_795_000_000_000_000)), .bool(true)]
        _ = expression.resultType(schema)
        _ = try? expression.evaluate(values)
        _ = try? expression.evaluate(Row(repeating: .null, count: 6))
    }
}
