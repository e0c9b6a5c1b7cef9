import Foundation
import Testing
@testable import StockflowCore

/// Checks rows_in = rows_out + rows_rejected + rows_filtered for every stage of a run.
func expectStageCountsReconcile(_ report: RunReport, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!report.stages.isEmpty, sourceLocation: sourceLocation)
    for stage in report.stages {
        #expect(stage.rowsIn == stage.rowsOut + stage.rowsRejected + stage.rowsFiltered,
                "\(report.pipeline) stage '\(stage.id)': in \(stage.rowsIn) ≠ out \(stage.rowsOut) + rejected \(stage.rowsRejected) + filtered \(stage.rowsFiltered)",
                sourceLocation: sourceLocation)
    }
}

/// Runs the pipeline file at `path` (with no environment, so `${VAR:-default}` takes the default) into `scratch`/out.
func runPipelineFile(_ path: String, in scratch: Scratch, environment: [String: String] = [:]) throws -> RunReport {
    let pipeline = try Pipeline.load(path: path, environment: environment)
    return PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("out"),
                          asOf: CivilDate(iso: "2026-11-25")!).run()
}

/// The records of out/rejects.csv in `scratch`, without the header: stage, source, rule, message, row.
func rejectedRecords(_ scratch: Scratch) -> [[String]] {
    Array(readCSV(scratch.read("out/rejects.csv") ?? "").dropFirst())
}

/// The report of one stage.
func stage(_ id: String, of report: RunReport) -> RunReport.StageReport? {
    report.stages.first { $0.id == id }
}

/// Temporary output files (`.name.tmp-PID`) left anywhere under out/ in `scratch`.
func temporaryFiles(_ scratch: Scratch) -> [String] {
    let out = scratch.url.appendingPathComponent("out")
    let names = (FileManager.default.enumerator(atPath: out.path)?.allObjects as? [String]) ?? []
    return names.filter { $0.contains(".tmp-") }
}

/// Two CSV extracts written to a CSV file each and to one workbook.
private let twoSourcePipeline = """
version: 1
name: atomic
stages:
  a:
    extract: csv
    path: a.csv
    columns: {code: int, nom: text}
  b:
    extract: csv
    path: b.csv
    columns: {code: int, nom: text}
  a_csv:
    load: csv
    input: a
    path: a-{as_of}.csv
  b_csv:
    load: csv
    input: b
    path: sub/b.csv
  book:
    load: xlsx
    path: "book-{as_of}.xlsx"
    sheets:
      - {name: A, input: a}
      - {name: B, input: b}

"""

@Suite struct RunnerTests {
    private let outputs = ["a-2026-11-25.csv", "sub/b.csv", "book-2026-11-25.xlsx"]

    private func outputBytes(_ scratch: Scratch) throws -> [Data] {
        try outputs.map { try Data(contentsOf: scratch.url.appendingPathComponent("out/\($0)")) }
    }

    @Test func aRunFailingHalfwayLeavesThePreviousOutputsByteForByte() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("a.csv", "code,nom\n1,un\n2,deux\n")
        scratch.write("b.csv", "code,nom\n3,trois\n")
        let first = try runPipeline(twoSourcePipeline, in: scratch)
        #expect(first.exitCode == 0, "\(first.error ?? "")")
        #expect(first.outputs.sorted() == outputs.map { scratch.url.appendingPathComponent("out/\($0)").standardizedFileURL.path }.sorted())
        let before = try outputBytes(scratch)

        // a is read (and written to temporaries) before b turns out to be empty.
        scratch.write("a.csv", "code,nom\n1,un\n2,deux\n9,neuf\n")
        scratch.write("b.csv", "")
        let failed = try runPipeline(twoSourcePipeline, in: scratch)
        #expect(failed.exitCode == 1)
        #expect(failed.status == "failed")
        #expect(failed.outputs.isEmpty)
        #expect(stage("a", of: failed)?.rowsOut == 3)
        #expect(try outputBytes(scratch) == before)
        #expect(temporaryFiles(scratch).isEmpty, "\(temporaryFiles(scratch))")
    }

    @Test func tooManyRejectsExitsWith65AndKeepsThePreviousOutputs() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let strict = twoSourcePipeline.replacingOccurrences(of: "name: atomic\n", with: "name: atomic\nsettings: {max_rejects: 0}\n")
        scratch.write("a.csv", "code,nom\n1,un\n")
        scratch.write("b.csv", "code,nom\n3,trois\n")
        #expect(try runPipeline(strict, in: scratch).exitCode == 0)
        let before = try outputBytes(scratch)

        scratch.write("b.csv", "code,nom\n3,trois\nquatre,4\n")
        let report = try runPipeline(strict, in: scratch)
        #expect(report.exitCode == 65)
        #expect(report.status == "too_many_rejects")
        #expect(report.error?.contains("over the pipeline's max_rejects of 0") == true)
        #expect(try outputBytes(scratch) == before)
        #expect(temporaryFiles(scratch).isEmpty)
        // The rejects of the failed run are still written, so the person can see why.
        #expect(rejectedRecords(scratch).map { [$0[0], $0[1], $0[2]] } == [["b", "b.csv:3", "int"]])
    }

    @Test func runJSONRecordsStatusExitCodeAndReconcilingCounts() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("a.csv", "code,nom\n1,un\nx,bad\n2,deux\n")
        scratch.write("b.csv", "code,nom\n3,trois\n")
        let report = try runPipeline(twoSourcePipeline, in: scratch)
        let data = try Data(contentsOf: scratch.url.appendingPathComponent("out/run.json"))
        let written = try JSONDecoder().decode(RunReport.self, from: data)
        #expect(written.status == "succeeded")
        #expect(written.exitCode == 0)
        #expect(written.pipeline == "atomic")
        #expect(written.asOf == "2026-11-25")
        #expect(written.rejects == 1)
        #expect(written.stages.map(\.id) == report.stages.map(\.id))
        #expect(written.stages.map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected, $0.rowsFiltered] }
            == [[3, 2, 1, 0], [1, 1, 0, 0], [2, 2, 0, 0], [1, 1, 0, 0], [3, 3, 0, 0]])
        expectStageCountsReconcile(written)

        scratch.write("b.csv", "")
        _ = try runPipeline(twoSourcePipeline, in: scratch)
        let failed = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: scratch.url.appendingPathComponent("out/run.json")))
        #expect(failed.status == "failed")
        #expect(failed.exitCode == 1)
        #expect(failed.error?.contains("empty") == true)
    }

    @Test func everyStageOfEveryBundledPipelineReconcilesItsRows() throws {
        let folder = repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(!files.isEmpty)
        for name in files {
            let scratch = Scratch()
            defer { scratch.cleanup() }
            // The migration pipeline needs a PostgreSQL target: the private test server, in a schema of its own.
            var environment: [String: String] = [:]
            if name.hasPrefix("migrate") {
                guard let url = ProcessInfo.processInfo.environment["STOCKFLOW_TEST_PG_URL"] else {
                    Issue.record("\(name) needs STOCKFLOW_TEST_PG_URL: run `make test`, or `scripts/with-postgres.sh swift test`")
                    continue
                }
                environment = ["STOCKFLOW_MIGRATE_URL": url,
                               "STOCKFLOW_MIGRATE_SCHEMA": "runner_\(UUID().uuidString.prefix(8).lowercased())"]
            }
            let report = try runPipelineFile(folder.appendingPathComponent(name).path, in: scratch, environment: environment)
            #expect(report.exitCode == 0, "\(name): \(report.error ?? "")")
            expectStageCountsReconcile(report)
        }
    }
}
