import Foundation
import Logging
import Testing
@testable import StockflowCore

/// `incremental:` of the SQLite and PostgreSQL extracts: rows past the committed watermark minus the
/// lookback, watermarks committed only with the outputs, and loads that stay right when rows come again.
@Suite("Incremental extracts")
struct IncrementalTests {
    // MARK: Options

    @Test(arguments: [("90s", Int64(90_000_000)), ("30m", 1_800_000_000), ("2h", 7_200_000_000), ("3d", 259_200_000_000),
                      ("1w", 604_800_000_000), ("0h", 0)])
    func lookbackDurationsAreReadInMicroseconds(text: String, micro: Int64) {
        #expect(IncrementalRead.parseDuration(text) == micro)
    }

    @Test(arguments: ["", "2", "h", "2x", "-1h", "1.5h", "99999999999999999d"])
    func malformedLookbacksAreNotDurations(text: String) {
        #expect(IncrementalRead.parseDuration(text) == nil)
    }

    @Test func theLowerBoundIsTheWatermarkMinusTheLookbackInTheColumnsOwnUnit() {
        func read(_ type: ColumnType, _ lookback: IncrementalRead.Lookback?) -> IncrementalRead {
            IncrementalRead(column: "c", sourceColumn: "c", index: 0, type: type, lookback: lookback,
                            position: SourcePosition(file: "p.yml", line: 1, column: 1))
        }
        #expect(read(.int, .count(100)).lowerBound(from: .int(1_000)) == .int(900))
        #expect(read(.int, .count(5)).lowerBound(from: .int(Int64.min + 1)) == .int(Int64.min))
        let noon = parseStoredDatetime("2026-11-25 12:00:00")!
        #expect(read(.datetime, .duration(7_200_000_000)).lowerBound(from: .datetime(noon))
                == .datetime(parseStoredDatetime("2026-11-25 10:00:00")!))
        // A lookback of hours on a date column reads the whole previous day again.
        #expect(read(.date, .duration(7_200_000_000)).lowerBound(from: .date(CivilDate(iso: "2026-11-25")!))
                == .date(CivilDate(iso: "2026-11-24")!))
        #expect(read(.text, nil).lowerBound(from: .text("2026-11-25T12")) == .text("2026-11-25T12"))
        #expect(read(.datetime, nil).sqliteText(.datetime(noon)) == "2026-11-25 12:00:00")
        #expect(read(.datetime, nil).postgresLiteral(.datetime(noon)) == "'2026-11-25T12:00:00Z'::timestamptz")
        #expect(read(.text, nil).postgresLiteral(.text("it's")) == "'it''s'")
    }

    private func database(in scratch: Scratch, rows: [(Int, String, String)]) throws -> URL {
        let url = scratch.url.appendingPathComponent("app.sqlite3")
        let database = try SQLiteDatabase(path: url.path, readOnly: false, busyTimeoutMilliseconds: 1_000)
        try database.execute("CREATE TABLE IF NOT EXISTS stock_commande (code_cmd integer PRIMARY KEY, code_prod text NOT NULL, quantite_cmd integer NOT NULL, updated_at datetime NOT NULL)")
        for (id, product, stamp) in rows {
            try database.execute("INSERT OR REPLACE INTO stock_commande VALUES (\(id), '\(product)', \(id * 10), '\(stamp)')")
        }
        return url
    }

    @Test func incrementalRowsIntoAWholeFileOrAnAggregateOrAnAppendAreRefusedWithTheirPosition() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        _ = try database(in: scratch, rows: [])
        let found = diagnostics(of: """
            version: 1
            name: refused
            stages:
              orders: {extract: sqlite, database: app.sqlite3, table: stock_commande, incremental: {column: updated_at, lookback: 2h}}
              kept: {transform: filter, input: orders, where: "quantite_cmd > 0"}
              workbook: {load: csv, input: kept, path: orders.csv}
              sums: {transform: aggregate, input: orders, group_by: [code_prod], measures: {n: count()}}
              appended: {load: postgres, input: orders, connection: "postgres://nowhere/x", table: t, mode: append}
              upserted: {load: postgres, input: kept, connection: "postgres://nowhere/x", table: t, mode: upsert, key: [code_cmd]}
            """, in: scratch)
        let messages = found.map { "\($0.position?.line ?? 0):\($0.message)" }
        #expect(found.count == 3, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("6:stage 'workbook' (load: csv) reads the incremental rows of 'orders'") && $0.contains("mode: upsert") })
        #expect(messages.contains { $0.hasPrefix("7:stage 'sums' (transform: aggregate)") && $0.contains("only the rows read since the last run") })
        #expect(messages.contains { $0.hasPrefix("8:stage 'appended' (load: postgres)") && $0.contains("append would add twice") })
    }

    @Test(arguments: [
        ("{column: nope}", "incremental column 'nope' is not among the columns"),
        ("{column: code_prod, lookback: 2h}", "text column 'code_prod' takes no lookback"),
        ("{column: code_cmd, lookback: 2h}", "lookback of integer column 'code_cmd' is a count"),
        ("{column: updated_at, lookback: 2 hours}", "lookback must be a duration like 90s"),
        ("{lookback: 2h}", "needs 'column'"),
        ("{column: updated_at, lookbak: 2h}", "unknown key 'lookbak' in 'incremental'"),
    ])
    func badIncrementalOptionsAreReported(option: String, expected: String) throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        _ = try database(in: scratch, rows: [])
        let found = diagnostics(of: """
            version: 1
            name: bad
            stages:
              orders: {extract: sqlite, database: app.sqlite3, table: stock_commande, incremental: \(option)}
              upserted: {load: postgres, input: orders, connection: "postgres://nowhere/x", table: t, mode: upsert, key: [code_cmd]}
            """, in: scratch)
        #expect(found.contains { $0.message.contains(expected) && $0.position?.line == 4 }, "\(found.map(\.message))")
    }

    // MARK: Runs against real SQLite and PostgreSQL

    private func session(_ scratch: Scratch, url: String, fullRefresh: Bool = false, csv: String = "id\n1\n") throws -> RunSession {
        scratch.write("side.csv", csv)
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: incremental-orders
            settings: {max_rejects: 0}
            stages:
              orders: {extract: sqlite, database: app.sqlite3, table: stock_commande, incremental: {column: updated_at, lookback: 2h}}
              upserted: {load: postgres, input: orders, connection: "\(url)", table: commandes, mode: upsert, key: [code_cmd]}
              side: {extract: csv, path: side.csv, columns: {id: int}}
              side_copy: {load: csv, input: side, path: side.csv}
            """)
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        return RunSession(pipeline: pipeline, asOf: CivilDate(iso: "2026-11-25")!, runID: "run-\(UUID().uuidString.prefix(8))",
                          options: RunSession.Options(outputDirectory: scratch.url.appendingPathComponent("out"),
                                                      statePath: scratch.url.appendingPathComponent("state/state.sqlite").path,
                                                      fullRefresh: fullRefresh),
                          logger: Logger(label: "test"))
    }

    private func run(_ session: RunSession) -> RunReport? {
        guard case .ran(let report) = session.run() else { Issue.record("the session did not run"); return nil }
        return report
    }

    /// Runs the pipeline file in a session of its own, with the state database in `scratch`.
    private func run(_ file: URL, in scratch: Scratch) throws -> RunReport? {
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        return run(RunSession(pipeline: pipeline, asOf: CivilDate(iso: "2026-11-25")!, runID: "run-\(UUID().uuidString.prefix(8))",
                              options: RunSession.Options(outputDirectory: scratch.url.appendingPathComponent("out"),
                                                          statePath: scratch.url.appendingPathComponent("state.sqlite").path),
                              logger: Logger(label: "test")))
    }

    private func rowsIn(_ report: RunReport?, _ stage: String = "orders") -> Int? {
        report?.stages.first { $0.id == stage }?.rowsIn
    }

    private func table(_ database: ScratchDatabase) throws -> [[String?]] {
        try database.connect().query("SELECT code_cmd::text, code_prod, quantite_cmd::text, updated_at::text FROM commandes ORDER BY code_cmd")
    }

    @Test func lateRowsInsideTheLookbackAreReadAgainAndCountedOnceInTheUpsertedTable() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        _ = try database(in: scratch, rows: [(1, "A", "2026-11-25 08:00:00"), (2, "B", "2026-11-25 10:00:00"), (3, "C", "2026-11-25 12:00:00")])
        let first = run(try session(scratch, url: server.url))
        #expect(first?.exitCode == 0 && rowsIn(first) == 3)
        let marks = try WatermarkStore(path: scratch.url.appendingPathComponent("state/state.sqlite").path).marks(pipeline: "incremental-orders")
        #expect(marks["orders"] == WatermarkLedger.Mark(column: "updated_at", value: "2026-11-25T12:00:00Z"))

        // 11:00 arrives late (inside the 2 h lookback), 09:00 too late; order 2 is updated; 13:00 is new.
        _ = try database(in: scratch, rows: [(4, "D", "2026-11-25 11:00:00"), (5, "E", "2026-11-25 09:00:00"),
                                             (2, "B2", "2026-11-25 12:30:00"), (6, "F", "2026-11-25 13:00:00")])
        let second = run(try session(scratch, url: server.url))
        // From 10:00: orders 3 (12:00), 4 (11:00), 2 (12:30) and 6 (13:00), not 1 nor 5.
        #expect(second?.exitCode == 0 && rowsIn(second) == 4)
        let rows = try table(server)
        #expect(rows.map { $0[0] } == ["1", "2", "3", "4", "6"])
        #expect(rows.first { $0[0] == "2" }?[1] == "B2")
        #expect(try server.connect().scalar("SELECT count(*) FROM commandes WHERE code_cmd = 3") == "1")

        // The same rows again give the same table.
        let third = run(try session(scratch, url: server.url))
        #expect(third?.exitCode == 0 && rowsIn(third) == 4)
        #expect(try table(server) == rows)

        // A full refresh reads everything, order 5 included.
        let full = run(try session(scratch, url: server.url, fullRefresh: true))
        #expect(full?.exitCode == 0 && rowsIn(full) == 6)
        #expect(try table(server).map { $0[0] } == ["1", "2", "3", "4", "5", "6"])
    }

    @Test func aFailedRunLeavesTheWatermarkSoTheNextRunReadsTheSameRowsAgain() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        let state = scratch.url.appendingPathComponent("state/state.sqlite").path
        _ = try database(in: scratch, rows: [(1, "A", "2026-11-25 08:00:00"), (2, "B", "2026-11-25 12:00:00")])
        #expect(run(try session(scratch, url: server.url))?.exitCode == 0)
        _ = try database(in: scratch, rows: [(3, "C", "2026-11-25 15:00:00"), (4, "D", "2026-11-25 16:00:00")])
        // A rejected row over max_rejects 0: the run fails and commits no output.
        let failed = run(try session(scratch, url: server.url, csv: "id\nnot-a-number\n"))
        #expect(failed?.exitCode == ExitStatus.tooManyRejects.rawValue)
        #expect(rowsIn(failed) == 3)
        #expect(try WatermarkStore(path: state).marks(pipeline: "incremental-orders")["orders"]?.value == "2026-11-25T12:00:00Z")
        let again = run(try session(scratch, url: server.url))
        #expect(again?.exitCode == 0 && rowsIn(again) == 3)
        #expect(try WatermarkStore(path: state).marks(pipeline: "incremental-orders")["orders"]?.value == "2026-11-25T16:00:00Z")
        #expect(try table(server).map { $0[0] } == ["1", "2", "3", "4"])
    }

    @Test func aPostgresQueryIsReadPastItsIntegerWatermarkMinusTheLookbackCount() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        let connection = try server.connect()
        try connection.execute("""
            CREATE TABLE mouvements (id bigint PRIMARY KEY, quantite integer NOT NULL, at timestamptz NOT NULL);
            INSERT INTO mouvements SELECT g, g * 2, timestamptz '2026-11-25 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 10) g;
            """)
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: pg-incremental
            stages:
              moves:
                extract: postgres
                connection: "\(server.url)"
                query: |
                  SELECT id, quantite, at FROM mouvements -- all of them
                incremental: {column: id, lookback: 2}
              copy: {load: postgres, input: moves, connection: "\(server.url)", table: copie, mode: upsert, key: [id]}
            """)
        func runOnce() throws -> RunReport? { try run(file, in: scratch) }
        #expect(rowsIn(try runOnce(), "moves") == 10)
        try connection.execute("INSERT INTO mouvements VALUES (11, 22, now()), (12, 24, now())")
        // From 10 − 2 = 8: ids 8 to 12.
        let second = try runOnce()
        #expect(rowsIn(second, "moves") == 5)
        #expect(second?.stages.first?.notes.contains("incremental: read id from 8 up to 12") == true)
        #expect(try connection.scalar("SELECT count(*) || ' ' || sum(quantite) FROM copie") == "12 156")
    }

    @Test func aDatetimeWatermarkOnPostgresComparesAsAnInstantWhateverTheServersZone() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let server = try ScratchDatabase(); defer { server.drop() }
        let connection = try server.connect()
        try connection.execute("""
            CREATE TABLE stock (code_prod bigint PRIMARY KEY, quantite integer, updated_at timestamptz);
            INSERT INTO stock VALUES (1, 5, '2026-11-25 10:00:00+00'), (2, 7, '2026-11-25 12:00:00+00'), (3, 1, NULL);
            """)
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: pg-datetime
            stages:
              stock: {extract: postgres, connection: "\(server.url)", table: stock, incremental: {column: updated_at, lookback: 30m}}
              copy: {load: postgres, input: stock, connection: "\(server.url)", table: copie, mode: upsert, key: [code_prod]}
            """)
        func runOnce() throws -> RunReport? { try run(file, in: scratch) }
        #expect(rowsIn(try runOnce(), "stock") == 3)
        // 11:40 UTC written as Paris time: inside the 30 minutes before the 12:00 watermark.
        try connection.execute("INSERT INTO stock VALUES (4, 2, '2026-11-25 12:40:00+01'), (5, 3, '2026-11-25 12:20:00+01')")
        let second = try runOnce()
        // 11:30 onwards: products 2 (12:00) and 4 (11:40), not 5 (11:20) nor 3 (no date).
        #expect(rowsIn(second, "stock") == 2)
        #expect(try connection.scalar("SELECT string_agg(code_prod::text, ',' ORDER BY code_prod) FROM copie") == "1,2,3,4")
    }
}
