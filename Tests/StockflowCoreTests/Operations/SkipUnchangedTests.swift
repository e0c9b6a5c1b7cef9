import Foundation
import Logging
import Testing
@testable import StockflowCore

/// `skip_unchanged: true`: a run whose inputs and pipeline file are those of the last success for its
/// date and folder does nothing, says so, and is recorded as skipped.
@Suite("Skipping unchanged runs")
struct SkipUnchangedTests {
    private let pipelineText = """
        version: 1
        name: skip-orders
        skip_unchanged: true
        stages:
          orders: {extract: csv, path: orders.csv, columns: {id: int, montant: {type: decimal, scale: 2}}}
          products: {extract: sqlite, database: app.sqlite3, table: produits}
          out: {load: csv, input: orders, path: "orders-{as_of}.csv"}
          catalogue: {load: csv, input: products, path: "produits-{as_of}.csv"}
        """

    private func prepare(_ scratch: Scratch) throws {
        scratch.write("orders.csv", "id,montant\n1,12.50\n2,3.10\n")
        let database = try SQLiteDatabase(path: scratch.url.appendingPathComponent("app.sqlite3").path, readOnly: false,
                                          busyTimeoutMilliseconds: 1_000)
        try database.execute("CREATE TABLE IF NOT EXISTS produits (code_prod integer PRIMARY KEY, nom text); INSERT OR REPLACE INTO produits VALUES (1, 'vis')")
        scratch.write("pipeline.yml", pipelineText)
    }

    private func session(_ scratch: Scratch, asOf: String = "2026-11-25", force: Bool = false) throws -> RunSession {
        let pipeline = try Pipeline.load(path: scratch.url.appendingPathComponent("pipeline.yml").path, environment: [:])
        return RunSession(pipeline: pipeline, asOf: CivilDate(iso: asOf)!, runID: "run-\(UUID().uuidString.prefix(8))",
                          options: RunSession.Options(outputDirectory: scratch.url.appendingPathComponent("out"),
                                                      statePath: scratch.url.appendingPathComponent("state/state.sqlite").path,
                                                      force: force),
                          logger: Logger(label: "test"))
    }

    /// Runs a session; returns its status and the `up to date` message, if any.
    private func run(_ scratch: Scratch, asOf: String = "2026-11-25", force: Bool = false) throws -> (status: String, upToDate: String?, runID: String) {
        let session = try session(scratch, asOf: asOf, force: force)
        guard case .ran(let report) = session.run() else { Issue.record("the session did not run"); return ("", nil, "") }
        #expect(report.exitCode == 0)
        return (report.status, session.upToDate, session.runID)
    }

    /// Every file of the output folder with its bytes and modification time.
    private func snapshot(_ scratch: Scratch) throws -> [String: (Data, Date)] {
        let folder = scratch.url.appendingPathComponent("out")
        var result: [String: (Data, Date)] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let url = folder.appendingPathComponent(name)
            let modified = try FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date ?? .distantPast
            result[name] = (try Data(contentsOf: url), modified)
        }
        return result
    }

    private func statuses(_ scratch: Scratch) throws -> [String] {
        try RunHistory(path: scratch.url.appendingPathComponent("state/state.sqlite").path).runs(pipeline: "skip-orders").map(\.status)
    }

    @Test func aRunWithTheSameInputsIsSkippedLeavingTheOutputsByteForByteAndIsInTheHistory() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        let first = try run(scratch)
        #expect(first.status == "succeeded" && first.upToDate == nil)
        let before = try snapshot(scratch)
        #expect(before.keys.sorted() == ["findings.csv", "orders-2026-11-25.csv", "produits-2026-11-25.csv", "rejects.csv", "run.json"])
        let second = try run(scratch)
        #expect(second.status == "skipped")
        #expect(second.upToDate == "up to date (same inputs as run \(first.runID))")
        let after = try snapshot(scratch)
        #expect(after.keys.sorted() == before.keys.sorted())
        for (name, (bytes, modified)) in before {
            #expect(after[name]?.0 == bytes, "\(name) changed")
            #expect(after[name]?.1 == modified, "\(name) was rewritten")
        }
        #expect(try statuses(scratch) == ["skipped", "succeeded"])
        // A skip compares with the last success, not with itself: a third run is skipped the same way.
        #expect(try run(scratch).upToDate == "up to date (same inputs as run \(first.runID))")
    }

    @Test func forceRunsAnyway() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        _ = try run(scratch)
        let forced = try run(scratch, force: true)
        #expect(forced.status == "succeeded" && forced.upToDate == nil)
        // The forced run is now the last success, with the same inputs.
        #expect(try run(scratch).upToDate == "up to date (same inputs as run \(forced.runID))")
    }

    @Test func aChangedFileADifferentDateOrARemovedOutputRunsAgain() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        _ = try run(scratch)
        scratch.write("orders.csv", "id,montant\n1,12.50\n2,3.11\n")
        #expect(try run(scratch).status == "succeeded")
        #expect(scratch.read("out/orders-2026-11-25.csv")?.contains("3.11") == true)
        #expect(try run(scratch, asOf: "2026-11-26").status == "succeeded")
        #expect(try run(scratch, asOf: "2026-11-26").status == "skipped")
        try FileManager.default.removeItem(at: scratch.url.appendingPathComponent("out/orders-2026-11-26.csv"))
        #expect(try run(scratch, asOf: "2026-11-26").status == "succeeded")
        #expect(FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("out/orders-2026-11-26.csv").path))
    }

    @Test func onlyAPartOfTheStagesIsAnotherRun() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        let pipeline = try Pipeline.load(path: scratch.url.appendingPathComponent("pipeline.yml").path, environment: [:])
        #expect(try InputFingerprint.compute(pipeline.restricted(to: ["out"])) != InputFingerprint.compute(pipeline))
        #expect(try InputFingerprint.compute(pipeline) == InputFingerprint.compute(pipeline))
    }

    @Test func aChangedSQLiteDatabaseOrPipelineFileRunsAgain() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        _ = try run(scratch)
        let database = try SQLiteDatabase(path: scratch.url.appendingPathComponent("app.sqlite3").path, readOnly: false,
                                          busyTimeoutMilliseconds: 1_000)
        try database.execute("UPDATE produits SET nom = 'écrou' WHERE code_prod = 1")
        #expect(try run(scratch).status == "succeeded")
        #expect(scratch.read("out/produits-2026-11-25.csv")?.contains("écrou") == true)
        #expect(try run(scratch).status == "skipped")
        scratch.write("pipeline.yml", pipelineText + "\ndescription: the same, described\n")
        #expect(try run(scratch).status == "succeeded")
    }

    @Test func aFailedRunIsNotASuccessToSkipOn() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        try prepare(scratch)
        scratch.write("pipeline.yml", pipelineText.replacingOccurrences(of: "skip_unchanged: true", with: "skip_unchanged: true\nsettings: {max_rejects: 0}"))
        scratch.write("orders.csv", "id,montant\nx,12.50\n")
        let first = try session(scratch)
        guard case .ran(let report) = first.run() else { Issue.record("no run"); return }
        #expect(report.status == "too_many_rejects")
        let again = try session(scratch)
        guard case .ran(let second) = again.run() else { Issue.record("no run"); return }
        #expect(second.status == "too_many_rejects" && again.upToDate == nil)
    }

    @Test func aPostgresQueryNeedsAChangeQuery() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        try server.connect().execute("CREATE TABLE t (id bigint)")
        let found = diagnostics(of: """
            version: 1
            name: pg-skip
            skip_unchanged: true
            stages:
              rows: {extract: postgres, connection: "\(server.url)", query: SELECT id FROM t}
              out: {load: csv, input: rows, path: t.csv}
            """, in: scratch)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("give the stage a 'change_query'") == true)
        #expect(found.first?.position?.line == 3)
    }

    @Test func aPostgresTableIsFingerprintedByItsCountersAndAQueryByItsChangeQuery() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        let connection = try server.connect()
        try connection.execute("CREATE TABLE t (id bigint, updated_at timestamptz); INSERT INTO t VALUES (1, '2026-11-25 10:00:00+00')")
        scratch.write("pipeline.yml", """
            version: 1
            name: skip-orders
            skip_unchanged: true
            stages:
              table_rows: {extract: postgres, connection: "\(server.url)", table: t}
              query_rows: {extract: postgres, connection: "\(server.url)", query: SELECT id FROM t WHERE id > 0, change_query: "SELECT count(*), max(updated_at) FROM t"}
              out: {load: csv, input: table_rows, path: t.csv}
              out2: {load: csv, input: query_rows, path: q.csv}
            """)
        let pipeline = try Pipeline.load(path: scratch.url.appendingPathComponent("pipeline.yml").path, environment: [:])
        // A backend reports a write's counters when idle (at most once a second, at the latest 10 s later or
        // when it disconnects): wait until they show, so each fingerprint below sees a settled state.
        try waitForStatistics(server, "n_tup_ins = 1 AND n_tup_upd = 0")
        let initial = try InputFingerprint.compute(pipeline)
        let writer = try server.connect()
        try writer.execute("UPDATE t SET id = 1")
        try waitForStatistics(server, "n_tup_upd = 1")
        let changed = try InputFingerprint.compute(pipeline)
        #expect(changed != initial)
        #expect(try InputFingerprint.compute(pipeline) == changed)
        #expect(try run(scratch).status == "succeeded")
        #expect(try run(scratch).status == "skipped")
        // A change the change_query sees (a new row) makes the run go.
        try writer.execute("INSERT INTO t VALUES (2, '2026-11-25 11:00:00+00')")
        try waitForStatistics(server, "n_tup_ins = 2")
        #expect(try run(scratch).status == "succeeded")
        #expect(scratch.read("out/q.csv")?.contains("2") == true)
    }

    private func waitForStatistics(_ server: ScratchDatabase, _ condition: String) throws {
        let connection = try server.connect()
        for _ in 0..<300 {
            if try connection.scalar("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 't' AND \(condition)") == "1" { return }
            usleep(100_000)
        }
        Issue.record("pg_stat_user_tables never showed \(condition)")
    }
}
