import Foundation
import Testing
@testable import StockflowCore

/// A small database as Django's SQLite backend makes it: bare `decimal`, `bool`, naive UTC
/// `datetime`, JSON text with its CHECK, a blob, varchar(n), CHECKs, deferred FKs, named indexes,
/// and an order id (3) deleted after it was handed out.
private let djangoSchema = """
CREATE TABLE "stock_produit" ("code_prod" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "nom_prod" varchar(10) NOT NULL,
  "quantite" integer unsigned NOT NULL CHECK ("quantite" >= 0), "prix_unit" decimal NOT NULL, "is_deleted" bool NOT NULL,
  "date_creation" datetime NOT NULL, "photo" blob NULL);
CREATE TABLE "stock_commande" ("code_cmd" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "quantite_cmd" integer unsigned NOT NULL CHECK ("quantite_cmd" >= 0),
  "montant_commande" decimal NOT NULL, "date_commande" datetime NOT NULL, "details" text NULL CHECK ((JSON_VALID("details") OR "details" IS NULL)),
  "produit_id" integer NOT NULL REFERENCES "stock_produit" ("code_prod") DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT "commande_quantite_cmd_min_1" CHECK ("quantite_cmd" >= 1));
CREATE INDEX "stock_commande_produit_id_e247d645" ON "stock_commande" ("produit_id");
INSERT INTO stock_produit VALUES (1, 'vis', 10, 12.5, 0, '2025-03-30 22:15:00', x'00ff10'), (2, 'écrou "M6"', 0, 12, 1, '2025-01-01 00:00:00.000001', NULL);
INSERT INTO stock_commande VALUES (1, 2, 25, '2025-12-31 23:30:00.5', '{"b": 1, "a": [true, null]}', 1),
  (2, 1, 12.1, '2025-06-01 08:00:00', NULL, 2), (3, 1, 1, '2025-06-01 08:00:00', NULL, 2);
DELETE FROM stock_commande WHERE code_cmd = 3;
"""

private func makeSource(_ scratch: Scratch, _ sql: String) throws -> String {
    let path = scratch.url.appendingPathComponent("app.sqlite3").path
    let database = try SQLiteDatabase(path: path, readOnly: false)
    try database.execute(sql)
    return path
}

private func options(_ source: String, _ target: ScratchDatabase, _ scratch: Scratch) -> MigrationOptions {
    var options = MigrationOptions(sqlitePath: source, connection: PostgresConnectionOptions(target.url, retries: 0))
    options.rejectsPath = scratch.url.appendingPathComponent("rejects.csv").path
    return options
}

@Suite(.serialized, .tags(.postgres)) struct MigrationTests {
    @Test func djangoTypesArriveExactlyAndInstantsStayUTCWhateverTheServerZone() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let source = try makeSource(scratch, djangoSchema)
        let report = try Migration(options(source, target, scratch)).run()
        #expect(report.tables.filter { !$0.matches }.isEmpty)
        let db = try target.connect()
        try db.execute("SET TimeZone TO 'Asia/Tokyo'")
        let rows = try db.query("""
            SELECT code_cmd, montant_commande::text, to_char(date_commande AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), details->>'b', jsonb_typeof(details)
            FROM stock_commande ORDER BY code_cmd
            """)
        #expect(rows == [["1", "25.00", "2025-12-31 23:30:00.500000", "1", "object"], ["2", "12.10", "2025-06-01 08:00:00.000000", nil, nil]])
        let products = try db.query("SELECT nom_prod, prix_unit::text, is_deleted::text, encode(photo, 'hex') FROM stock_produit ORDER BY code_prod")
        #expect(products == [["vis", "12.50", "false", "00ff10"], ["écrou \"M6\"", "12.00", "true", nil]])
        let types = try db.query("SELECT column_name, data_type, coalesce(character_maximum_length::text, numeric_scale::text, '') FROM information_schema.columns WHERE table_name = 'stock_produit' ORDER BY ordinal_position")
        #expect(types.map { $0[1] ?? "" } == ["bigint", "character varying", "integer", "numeric", "boolean", "timestamp with time zone", "bytea"])
        #expect(types[1][2] == "10" && types[3][2] == "2")
    }

    @Test func nextIdIsPastTheDeletedOneAndConstraintsHold() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        _ = try Migration(options(try makeSource(scratch, djangoSchema), target, scratch)).run()
        let db = try target.connect()
        let id = try db.scalar("INSERT INTO stock_commande (quantite_cmd, montant_commande, date_commande, produit_id) VALUES (1, 1, now(), 1) RETURNING code_cmd")
        #expect(id == "4")  // 3 was deleted in SQLite; sqlite_sequence remembers it
        #expect(throws: PostgresError.self) { try db.execute("INSERT INTO stock_commande (quantite_cmd, montant_commande, date_commande, produit_id) VALUES (0, 1, now(), 1)") }
        #expect(throws: PostgresError.self) { try db.execute("INSERT INTO stock_produit (nom_prod, quantite, prix_unit, is_deleted, date_creation) VALUES ('x', -1, 1, false, now())") }
        // Deferred: an orphan is refused at commit, not at insert.
        try db.execute("BEGIN; INSERT INTO stock_commande (quantite_cmd, montant_commande, date_commande, produit_id) VALUES (1, 1, now(), 99)")
        #expect(throws: PostgresError.self) { try db.execute("COMMIT") }
        let deferred = try db.scalar("SELECT bool_and(condeferrable AND condeferred)::text FROM pg_constraint WHERE contype = 'f'")
        #expect(deferred == "true")
        #expect(try db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'stock_commande_produit_id_e247d645'") == "1")
    }

    @Test func rowsThatCannotBeCarriedFailTheMigrationAndLeaveTheTargetAsItWas() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let source = try makeSource(scratch, djangoSchema + """
            INSERT INTO stock_commande VALUES (10, 1, 1, '2025-01-01 00:00:00', NULL, 77);
            INSERT INTO stock_produit VALUES (5, 'much too long a name', 1, 1, 0, '2025-01-01 00:00:00', NULL);
            PRAGMA ignore_check_constraints = 1;
            INSERT INTO stock_commande VALUES (11, 0, 1, '2025-01-01 00:00:00', NULL, 1);
            INSERT INTO stock_commande VALUES (12, 1, 1, 'yesterday', NULL, 1);
            """)
        var failure: MigrationFailure?
        do { _ = try Migration(options(source, target, scratch)).run() } catch let error as MigrationFailure { failure = error }
        #expect(failure?.exitStatus == .tooManyRejects)
        let rejects = scratch.read("rejects.csv") ?? ""
        #expect(rejects.contains("stock_commande,code_cmd=10,produit_id,foreign key"))
        #expect(rejects.contains("stock_commande,code_cmd=11,quantite_cmd,\"CHECK commande_quantite_cmd_min_1"))
        #expect(rejects.contains("stock_commande,code_cmd=12,date_commande"))
        #expect(rejects.contains("stock_produit,code_prod=5,nom_prod"))
        let db = try target.connect()
        #expect(try db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')") == "0")

        var carry = options(source, target, scratch)
        carry.carryValid = true
        let report = try Migration(carry).run()
        #expect(report.rejects == 4)
        #expect(report.tables.filter { !$0.matches }.isEmpty)
        #expect(try db.scalar("SELECT string_agg(code_cmd::text, ',' ORDER BY code_cmd) FROM stock_commande") == "1,2")
    }

    @Test func rowsBreakingOnlyConstraintsAreFoundWhenPostgresRefusesThemAndCarriedWithoutThem() throws {
        // No cell is bad, so the constraints are added first and fail; only then are the rows looked up.
        // An orphan order's product is itself valid; a product breaking its CHECK orphans its orders.
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let source = try makeSource(scratch, djangoSchema + """
            INSERT INTO stock_commande VALUES (10, 1, 1, '2025-01-01 00:00:00', NULL, 77);
            PRAGMA ignore_check_constraints = 1;
            INSERT INTO stock_produit VALUES (6, 'neg', -1, 1, 0, '2025-01-01 00:00:00', NULL);
            INSERT INTO stock_commande VALUES (13, 1, 1, '2025-01-01 00:00:00', NULL, 6);
            """)
        var failure: MigrationFailure?
        do { _ = try Migration(options(source, target, scratch)).run() } catch let error as MigrationFailure { failure = error }
        #expect(failure?.exitStatus == .tooManyRejects)
        let rejects = scratch.read("rejects.csv") ?? ""
        #expect(rejects.contains("stock_commande,code_cmd=10,produit_id,foreign key"))
        #expect(rejects.contains("stock_produit,code_prod=6,quantite,"))
        let db = try target.connect()
        #expect(try db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')") == "0")

        var carry = options(source, target, scratch)
        carry.carryValid = true
        let report = try Migration(carry).run()
        #expect(report.rejects == 3)  // order 10, product 6, and order 13 orphaned by product 6's removal
        #expect(report.tables.filter { !$0.matches }.isEmpty)
        #expect(try db.scalar("SELECT string_agg(code_cmd::text, ',' ORDER BY code_cmd) FROM stock_commande") == "1,2")
        #expect(try db.scalar("SELECT count(*) FROM pg_constraint WHERE contype IN ('c', 'f') AND conrelid = 'stock_commande'::regclass") == "3")
    }

    @Test func existingTablesAreKeptUnlessReplaceIsAsked() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let source = try makeSource(scratch, djangoSchema)
        _ = try Migration(options(source, target, scratch)).run()
        try target.connect().execute("UPDATE stock_commande SET montant_commande = 99 WHERE code_cmd = 2")
        #expect(throws: MigrationFailure.self) { try Migration(options(source, target, scratch)).run() }
        let verification = try Migration(options(source, target, scratch)).verify()
        #expect(verification.tables.filter { !$0.matches }.map(\.name) == ["stock_commande"])
        var replace = options(source, target, scratch)
        replace.ifExists = .replace
        replace.jobs = 3
        _ = try Migration(replace).run()
        #expect(try Migration(options(source, target, scratch)).verify().tables.filter { !$0.matches }.isEmpty)
    }
}

@Suite(.tags(.postgres)) struct PostgresConnectionTests {
    @Test(arguments: [
        ("postgres://ana:s3cret@db.example/app", "postgres://ana:***@db.example/app"),
        ("host=db password=s3cret dbname=app", "host=db password=*** dbname=app"),
        ("host=db password='s3 cret' dbname=app", "host=db password=*** dbname=app"),
        ("postgres://ana@db/app?password=s3cret&sslmode=require", "postgres://ana@db/app?password=***&sslmode=require"),
    ])
    func passwordsAreRedacted(input: String, expected: String) {
        #expect(redactPassword(input) == expected)
    }

    @Test func unreachableServerIsTemporaryAndNeverShowsThePassword() {
        do {
            _ = try PostgresConnection(PostgresConnectionOptions("postgresql://ana:s3cret@127.0.0.1:1/app", retries: 2, retryDelay: 0.05))
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(error.isTemporary)
            #expect(!error.description.contains("s3cret"))
            #expect(error.description.contains("after 3 attempts"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func copyStreamsRowsBothWays() throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute("CREATE TABLE t (id int, label text)")
        try db.copyIn("COPY t FROM STDIN") { writer in
            for id in 0..<50_000 { try writer.write(Array("\(id)\tligne \(id)\\ttab\n".utf8)) }
        }
        var count = 0
        var last = ""
        try db.copyOut("COPY (SELECT * FROM t ORDER BY id) TO STDOUT") { line in
            count += 1
            last = String(decoding: line, as: UTF8.self)
        }
        #expect(count == 50_000)
        #expect(last == "49999\tligne 49999\\ttab")
        #expect(try db.scalar("SELECT label FROM t WHERE id = 7") == "ligne 7\ttab")
    }

    @Test func rowHashMatchesPostgresHashtextextended() throws {
        let db = try PostgresConnection(PostgresConnectionOptions(try testServerURL()))
        // Every tail length (0...11 bytes after the 12-byte blocks), multi-byte text and a tab-joined row.
        var texts = (0...25).map { String("abcdefghijklmnopqrstuvwxyz".prefix($0)) }
        texts += [String(repeating: "é", count: 100), "1\tproduit\t966\t2023-01-01 03:26:10.793854\t\\N"]
        for text in texts {
            let ours = Array(text.utf8).withUnsafeBufferPointer { Int64(bitPattern: PostgresHash.bytesExtended($0)) }
            #expect(try db.scalar("SELECT hashtextextended($1, 0)", [text]) == String(ours), "\(text)")
        }
    }

    @Test func exactSumsWrapModulo2To64() {
        #expect(RowChecksum.wrapping(decimal: "-3") == UInt64.max - 2)
        #expect(RowChecksum.wrapping(decimal: "18446744073709551617") == 1)
        #expect(RowChecksum.wrapping(decimal: "0") == 0)
    }
}
