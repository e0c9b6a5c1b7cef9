import Foundation
import Testing
@testable import StockflowCore

/// `extract: postgres`, `load: postgres` and `extract: sqlite_migration` in pipelines, against the private test server.
@Suite(.serialized) struct PostgresStageTests {
    private func sourceTable(_ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE mouvements (id bigint PRIMARY KEY, montant numeric(10,2), quand timestamptz, actif boolean, details jsonb, photo bytea, libelle text);
            INSERT INTO mouvements VALUES
              (1, 12.5, '2025-03-30 22:15:00+00', true, '{"b": 1, "a": [true, null]}', '\\x00ff10', 'tab\there'),
              (2, 0, '2025-01-01 00:00:00.000001+00', false, NULL, NULL, 'écrou "M6"'),
              (3, NULL, NULL, NULL, '[]', '\\x', NULL);
            """)
    }

    @Test func extractStreamsExactTypesWithTheirScaleAndInstantsInUTC() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try sourceTable(db)
        // The server's zone (and this session's) must not shift an instant.
        try db.execute("ALTER DATABASE \(quoteIdentifier(target.name)) SET TimeZone TO 'Asia/Tokyo'")
        let report = try runPipeline("""
            version: 1
            name: pg-extract
            stages:
              rows: {extract: postgres, connection: "${PG}", table: public.mouvements}
              sorted: {transform: sql, inputs: {m: rows}, query: "SELECT * FROM m ORDER BY id"}
              out: {load: csv, input: sorted, path: rows.csv}
            """, in: scratch, environment: ["PG": target.url])
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let records = readCSV(scratch.read("out/rows.csv") ?? "")
        #expect(records.first == ["id", "montant", "quand", "actif", "details", "photo", "libelle"])
        try #require(records.count == 4)
        #expect(records[1][0] == "1" && records[1][1] == "12.50" && records[1][3] == "true")
        #expect(records[1][2].hasPrefix("2025-03-30") && records[1][2].contains("22:15"))
        #expect(records[1][4] == #"{"a": [true, null], "b": 1}"#)
        #expect(records[1][5] == "\\x00ff10" && records[1][6] == "tab\there")
        #expect(records[2][1] == "0.00" && records[2][3] == "false" && records[2][6] == "écrou \"M6\"")
        #expect(records[2][2].contains("00:00:00.000001"))
    }

    @Test func extractOfAnUnreachableServerIsTemporaryWithoutThePassword() throws {
        // The extract reads its columns at validation, so the failure comes from loading the pipeline.
        let scratch = Scratch(); defer { scratch.cleanup() }
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: pg-down
            stages:
              rows: {extract: postgres, connection: "postgresql://app:s3cret@127.0.0.1:1/x", table: t, retries: 0}
              out: {load: csv, input: rows, path: rows.csv}
            """)
        do {
            _ = try Pipeline.load(path: file.path, environment: [:])
            Issue.record("an unreachable server validated")
        } catch let error as DiagnosticList {
            #expect(error.description.contains("cannot connect") && !error.description.contains("s3cret"))
            #expect(error.isTemporary)
        }
    }

    private func loadPipeline(mode: String, rows: String, key: String = "") -> String {
        """
        version: 1
        name: pg-load
        stages:
          rows: {extract: csv, path: rows.csv, columns: {code: int, montant: {type: decimal, scale: 2}, quand: datetime, actif: bool, nom: {type: text, nullable: true}}}
          out: {load: postgres, input: rows, connection: "${PG}", table: public.cible, mode: \(mode)\(key)}
        """
    }

    @Test(arguments: ["append", "replace", "upsert"])
    func loadWritesExactTypesInOneTransaction(mode: String) throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute("CREATE TABLE cible (code bigint UNIQUE, montant numeric(38,2), quand timestamptz, actif boolean, nom text); INSERT INTO cible VALUES (1, 1.00, now(), false, 'ancien'), (9, 9.00, now(), true, 'garde')")
        scratch.write("rows.csv", "code,montant,quand,actif,nom\n1,12.5,2025-03-30 22:15:00,true,\"a\\tb, \"\"c\"\"\"\n2,0.1,2025-01-01 00:00:00,false,\n")
        let key = mode == "upsert" ? ", key: [code]" : ""
        let pipeline = loadPipeline(mode: mode, rows: "", key: key)
        if mode == "append" { try db.execute("ALTER TABLE cible DROP CONSTRAINT cible_code_key") }
        let report = try runPipeline(pipeline, in: scratch, environment: ["PG": target.url])
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let rows = try db.query("SELECT code::text, montant::text, to_char(quand AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), actif::text, nom FROM cible ORDER BY code, nom")
        let new = [["1", "12.50", "2025-03-30 22:15:00", "true", "a\\tb, \"c\""], ["2", "0.10", "2025-01-01 00:00:00", "false", nil]]
        switch mode {
        case "append": #expect(rows.count == 4 && rows.contains(new[0]) && rows.contains(new[1]))
        case "replace": #expect(rows == new)
        default: #expect(rows == new + [["9", "9.00", rows.last?[2] ?? "", "true", "garde"]])
        }
    }

    @Test func aFailedLoadLeavesTheTableAsItWas() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // The server refuses code 2 (a CHECK, kept by replace's copy of the table): the COPY fails after row 1 was sent.
        try db.execute("CREATE TABLE cible (code bigint CHECK (code < 2), montant numeric(38,2), quand timestamptz, actif boolean, nom text); INSERT INTO cible VALUES (1, 9, now(), true, 'garde')")
        scratch.write("rows.csv", "code,montant,quand,actif,nom\n1,12.5,2025-03-30 22:15:00,true,a\n2,0.1,2025-01-01 00:00:00,false,\n")
        for mode in ["append", "replace"] {
            let report = try runPipeline(loadPipeline(mode: mode, rows: ""), in: scratch, environment: ["PG": target.url])
            #expect(report.exitCode == 1, "\(mode)")
            #expect(try db.query("SELECT code::text, nom FROM cible") == [["1", "garde"]], "\(mode)")
        }
    }

    @Test func loadStreamsManyRows() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        var text = "code,montant,quand,actif,nom\n"
        for code in 0..<60_000 { text += "\(code),\(code % 1000).25,2025-01-01 00:00:00,true,n\(code)\n" }
        scratch.write("rows.csv", text)
        let report = try runPipeline(loadPipeline(mode: "append", rows: ""), in: scratch, environment: ["PG": target.url])
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let db = try target.connect()
        #expect(try db.query("SELECT count(*)::text, sum(montant)::text FROM cible") == [["60000", "29985000.00"]])
    }

    @Test func theBundledMigrationPipelineMigratesAndReportsEveryTable() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let file = repositoryRoot.appendingPathComponent("pipelines/migrate-sqlite-to-postgres.yml").path
        let pipeline = try Pipeline.load(path: file, environment: ["STOCKFLOW_MIGRATE_URL": target.url])
        let report = PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("out"),
                                    asOf: CivilDate(iso: "2026-11-25")!).run()
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let records = readCSV(scratch.read("out/migration-2026-11-25.csv") ?? "")
        #expect(records.first == ["table", "rows_source", "rows_rejected", "rows_target", "checksum", "checksum_ok"])
        #expect(records.count > 10)
        #expect(records.dropFirst().allSatisfy { $0[5] == "true" && $0[1] == $0[3] })
        #expect(records.contains { $0[0] == "stock_commande" && Int($0[1]) ?? 0 > 0 })

        // Again: the tables exist now, and if_exists defaults to fail, touching nothing.
        let again = PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("again"),
                                   asOf: CivilDate(iso: "2026-11-25")!).run()
        #expect(again.exitCode == 1)
        #expect(again.error?.contains("already exist") == true)
    }

    @Test func theMigrationPipelineWithoutATargetFailsFastAsTemporary() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let file = repositoryRoot.appendingPathComponent("pipelines/migrate-sqlite-to-postgres.yml").path
        let report = try runPipelineFile(file, in: scratch)
        #expect(report.exitCode == 75)
        #expect(report.status == "failed")
    }

    @Test func migrationRejectsGoToTheRunsRejectsFile() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let database = try SQLiteDatabase(path: scratch.url.appendingPathComponent("app.sqlite3").path, readOnly: false)
        try database.execute("""
            CREATE TABLE "p" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "nom" varchar(3) NOT NULL);
            CREATE TABLE "c" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "p_id" integer NOT NULL REFERENCES "p" ("id") DEFERRABLE INITIALLY DEFERRED);
            INSERT INTO p VALUES (1, 'abc'), (2, 'trop long');
            INSERT INTO c VALUES (1, 1), (2, 5);
            """)
        let yaml = """
            version: 1
            name: m
            stages:
              migration:
                extract: sqlite_migration
                database: app.sqlite3
                connection: ${PG}
                carry_valid: ${CARRY}
              out: {load: csv, input: migration, path: m.csv}
            """
        let strict = try runPipeline(yaml, in: scratch, environment: ["PG": target.url, "CARRY": "false"])
        #expect(strict.exitCode == 1)
        #expect(strict.error?.contains("2 row(s) cannot be carried") == true, "\(strict.error ?? "")")
        let listed = rejectedRecords(scratch)
        #expect(listed.count == 2)
        #expect(listed.contains { $0[2] == "migrate" && $0[3].hasPrefix("p id=2 nom:") && $0[4] == "trop long" })
        #expect(listed.contains { $0[3].hasPrefix("c id=2 p_id: foreign key") })

        let carried = try runPipeline(yaml, in: scratch, environment: ["PG": target.url, "CARRY": "true"])
        #expect(carried.exitCode == 0, "\(carried.error ?? "")")
        #expect(carried.rejects == 2)
        expectStageCountsReconcile(carried)
        let child = readCSV(scratch.read("out/m.csv") ?? "").first { $0.first == "c" }
        #expect(child.map { [$0[1], $0[2], $0[3], $0[5]] } == ["2", "1", "1", "true"])
    }
}
