import Foundation
import Testing
@testable import StockflowCore

/// Orders and invoices as the app stores them, with what a FULL JOIN must get right: an order with
/// no invoice, one with two, invoices pointing at no order or at none (null), keys stored as text
/// or real (a value SQLite's equality never matches with an integer), a NULL in a required column
/// and invoices written out of key order.
private let ordersAndInvoices = """
CREATE TABLE "stock_commande" ("code_cmd" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "quantite_cmd" integer NOT NULL,
    "date_commande" datetime NOT NULL, "client_id" integer NULL);
CREATE TABLE "stock_facture" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "montant_total" decimal NULL,
    "date_facture" datetime NOT NULL, "commande_id" integer NULL);
CREATE INDEX "stock_facture_commande_id" ON "stock_facture" ("commande_id");
INSERT INTO stock_commande (code_cmd, quantite_cmd, date_commande, client_id) VALUES
    (1, 3, '2025-01-05 10:00:00', 7), (2, 1, '2025-01-06 10:00:00', NULL), (4, 2, '2025-02-01 08:30:00', 7),
    (5, 9, '2025-02-03 09:00:00', 8), (9, 1, '2025-03-01 00:00:00', 9);
INSERT INTO stock_facture (id, montant_total, date_facture, commande_id) VALUES
    (10, '30.00', '2025-01-05 11:00:00', 4), (11, '12.50', '2025-01-07 11:00:00', 1), (12, '7', '2025-02-02 11:00:00', 99),
    (13, NULL, '2025-02-04 11:00:00', NULL), (14, '1.10', '2025-02-05 11:00:00', 5), (15, '2.20', '2025-02-06 11:00:00', 5),
    (16, '3.30', '2025-02-07 11:00:00', 'abc'), (17, '4.40', '2025-02-08 11:00:00', 4.5), (18, '5.50', 'not a date', 9),
    (19, '6.60', '2025-02-09 11:00:00', 3);
"""

private let fullJoinQuery = """
SELECT c.code_cmd, c.quantite_cmd, c.client_id, c.date_commande,
       f.id AS facture_id, f.montant_total, f.date_facture
FROM stock_commande c FULL JOIN stock_facture f ON f.commande_id = c.code_cmd
"""

/// The extract of `query` into out.csv, rejects into rejects.csv.
private func fullJoinPipeline(_ query: String) -> String {
    """
    version: 1
    name: full-join-sqlite
    stages:
      src:
        extract: sqlite
        database: db.sqlite3
        query: |
    \(query.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        columns:
          code_cmd: {type: int, nullable: true}
          quantite_cmd: {type: int, nullable: true}
          client_id: {type: int, nullable: true}
          date_commande: {type: datetime, nullable: true}
          facture_id: {type: int, nullable: true}
          montant_total: {type: decimal, scale: 2, nullable: true}
          date_facture: {type: datetime, nullable: true}
      out:
        load: csv
        input: src
        path: out.csv
    """
}

@Suite struct SQLiteFullJoinTests {
    /// Builds the pipeline's extract and tells whether it reads the query as a merge of two scans.
    static func readsAsMerge(_ query: String, in scratch: Scratch) throws -> Bool {
        let file = scratch.write("pipeline.yml", fullJoinPipeline(query))
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        let extract = try #require(pipeline.stages.first { $0.id == "src" }?.runner as? SQLiteExtract)
        return extract.fullJoin != nil
    }

    /// Runs the pipeline and returns out.csv and rejects.csv.
    static func outputs(_ query: String, in scratch: Scratch) throws -> (rows: String, rejects: String) {
        let report = try runPipeline(fullJoinPipeline(query), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        expectStageCountsReconcile(report)
        return (scratch.read("out/out.csv") ?? "", scratch.read("out/rejects.csv") ?? "")
    }

    @Test func aFullJoinOnThePrimaryKeyReadsAsTwoScansWithSQLitesRowsAndRejects() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = scratch.url.appendingPathComponent("db.sqlite3").path
        try SQLiteDatabase(path: path, readOnly: false).execute(ordersAndInvoices)
        #expect(try Self.readsAsMerge(fullJoinQuery, in: scratch))
        let merged = try Self.outputs(fullJoinQuery, in: scratch)
        // The same query with a WHERE that keeps every row is not the shape: SQLite runs it.
        let asWritten = "\(fullJoinQuery) WHERE 1"
        #expect(try !Self.readsAsMerge(asWritten, in: scratch))
        let bySQLite = try Self.outputs(asWritten, in: scratch)
        #expect(merged.rows == bySQLite.rows)
        #expect(merged.rejects == bySQLite.rejects)
        let rows = readCSV(merged.rows)
        // Orders by key (5 twice: two invoices; 9 with invoice 18 is rejected), then the invoices of no
        // order by id: 99 and 3 are no order, null, text and real keys match nothing.
        #expect(rows.dropFirst().map { $0[0] } == ["1", "2", "4", "5", "5", "", "", "", "", ""])
        #expect(rows.dropFirst().map { $0[4] } == ["11", "", "10", "14", "15", "12", "13", "16", "17", "19"])
        // Invoice 18's date does not read: rejected with the row's cells, as SQLite's result gives them.
        #expect(readCSV(merged.rejects).dropFirst().map { $0.joined(separator: ",") }.contains { $0.contains("not a date") })
    }

    @Test(arguments: [
        // The left key is not the INTEGER PRIMARY KEY of the left table.
        "SELECT c.code_cmd, f.id AS facture_id FROM stock_commande c FULL JOIN stock_facture f ON f.commande_id = c.client_id",
        // Not a FULL JOIN, or more than the shape.
        "SELECT c.code_cmd, f.id AS facture_id FROM stock_commande c LEFT JOIN stock_facture f ON f.commande_id = c.code_cmd",
        "SELECT c.code_cmd, f.id AS facture_id FROM stock_commande c FULL JOIN stock_facture f ON f.commande_id = c.code_cmd -- note",
        "SELECT c.code_cmd, f.id + 1 AS facture_id FROM stock_commande c FULL JOIN stock_facture f ON f.commande_id = c.code_cmd",
        "SELECT c.code_cmd, f.code_cmd FROM stock_commande c FULL JOIN stock_facture f ON f.commande_id = c.code_cmd",
    ])
    func otherQueriesRunInSQLiteAsWritten(query: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = scratch.url.appendingPathComponent("db.sqlite3").path
        try SQLiteDatabase(path: path, readOnly: false).execute(ordersAndInvoices)
        let file = scratch.write("pipeline.yml", """
        version: 1
        name: not-a-merge
        stages:
          src:
            extract: sqlite
            database: db.sqlite3
            query: "\(query)"
          out: {load: csv, input: src, path: out.csv}
        """)
        let pipeline = try? Pipeline.load(path: file.path, environment: [:])
        let extract = pipeline?.stages.first { $0.id == "src" }?.runner as? SQLiteExtract
        #expect(extract?.fullJoin == nil)
    }

    @Test func aRightKeyWithoutAnIndexIsLeftToSQLite() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = scratch.url.appendingPathComponent("db.sqlite3").path
        try SQLiteDatabase(path: path, readOnly: false).execute(ordersAndInvoices + "\nDROP INDEX stock_facture_commande_id;")
        #expect(try !Self.readsAsMerge(fullJoinQuery, in: scratch))
    }
}
