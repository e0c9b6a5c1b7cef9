import Foundation
import Testing
@testable import StockflowCore

/// The corpus of fixtures/sqlite-corpus/: public sample databases' schemas and other frameworks'
/// SQLite conventions, each loaded with libsqlite3 and migrated into the real server.
@Suite(.serialized, .tags(.postgres)) struct MigrationCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../fixtures/sqlite-corpus").standardized

    @Test(arguments: [
        ("chinook", ["TopCustomers"]),
        ("northwind", ["Alphabetical list of products", "Order Subtotals"]),
        ("sakila", ["customer_list"]),
        ("rails", []),
        ("laravel", []),
        ("web2py", []),
        ("sqlalchemy", []),
    ])
    func realWorldSchemasMigrateAndVerify(script: String, views: [String]) throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let sql = try String(contentsOf: Self.corpus.appendingPathComponent("\(script).sql"), encoding: .utf8)
        let source = try migrationSource(scratch, sql)
        let report = try Migration(migrationOptions(source, target, scratch)).run()
        #expect(report.rejects == 0)
        #expect(report.tables.allSatisfy { $0.matches && $0.actual?.rows == $0.sourceRows })
        let db = try target.connect()
        let carried = try db.query("SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY viewname").compactMap { $0[0] }
        #expect(carried == views.sorted())
        for view in carried { _ = try db.query("SELECT * FROM \(quoteIdentifier(view))") }
        // Every foreign key of the source is a constraint on PostgreSQL.
        let sqlite = try SQLiteDatabase(path: source, readOnly: true)
        let keys = try sqlite.prepare("SELECT count(DISTINCT m.name || '.' || f.id) FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'")
        _ = try keys.step()
        #expect(try db.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f'") == String(keys.int64(0)))
    }

    @Test func corpusConstraintsHoldOnPostgreSQL() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let sql = try String(contentsOf: Self.corpus.appendingPathComponent("sqlalchemy.sql"), encoding: .utf8)
        _ = try Migration(migrationOptions(try migrationSource(scratch, sql), target, scratch)).run()
        let db = try target.connect()
        #expect(throws: PostgresError.self) { try db.execute("INSERT INTO account (id, name, is_active, kind) VALUES (3, 'x', true, 'other')") }
        #expect(throws: PostgresError.self) { try db.execute("INSERT INTO entry (id, account_id, amount) VALUES (9, 1, 0)") }
        try db.execute("INSERT INTO entry (id, account_id, amount) VALUES (9, 1, 5)")
        #expect(try db.scalar("SELECT booked IS NOT NULL FROM entry WHERE id = 9") == "t")
        try db.execute("DELETE FROM account WHERE id = 1")
        #expect(try db.scalar("SELECT count(*) FROM entry WHERE account_id = 1") == "0")
        #expect(try db.scalar("SELECT settings->>'currency' FROM account WHERE id = 1") == nil)
    }
}
