import Foundation
import Testing
@testable import StockflowCore

/// A table as Django's SQLite backend creates and fills it: DecimalField values land as REAL or
/// INTEGER, BooleanField as 0/1, DateTimeField as naive UTC text with optional microseconds.
private let djangoTable = """
CREATE TABLE "stock_produit" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "nom" varchar(100) NOT NULL,
    "prix" decimal NOT NULL, "actif" bool NOT NULL, "cree" datetime NOT NULL);
INSERT INTO stock_produit (nom, prix, actif, cree) VALUES
    ('vis', '12.50', 1, '2025-03-30 22:15:00'),
    ('écrou', '0.10', 0, '2025-03-30 22:15:00.123456'),
    ('clou', '19.99', 1, '2025-01-01 00:00:00'),
    ('rondelle', '12.00', 0, '2024-12-31 23:59:59.000001');
"""

/// A pipeline reading `table` from `db.sqlite3`, written to out/out.csv.
private func sqlitePipeline(table: String = "stock_produit", options: [String] = [],
                            columns: String = "{id: int, nom: text, prix: {type: decimal, scale: 2}, actif: bool, cree: datetime}") -> String {
    var lines = ["version: 1", "name: sqlite-test", "stages:", "  src:", "    extract: sqlite",
                 "    database: db.sqlite3", "    table: \(table)"]
    lines += options.map { "    " + $0 }
    lines += ["    columns: \(columns)", "  out:", "    load: csv", "    input: src", "    path: out.csv", ""]
    return lines.joined(separator: "\n")
}

/// Makes db.sqlite3 in `scratch` by running `sql`.
@discardableResult
private func makeDatabase(_ scratch: Scratch, _ sql: String) throws -> String {
    let path = scratch.url.appendingPathComponent("db.sqlite3").path
    try SQLiteDatabase(path: path, readOnly: false).execute(sql)
    return path
}

/// Runs only the stage `id` of a loaded pipeline and returns the rows it emits.
private func extractedRows(_ pipeline: Pipeline, stage id: String, in scratch: Scratch) throws -> [Row] {
    guard let stage = pipeline.stages.first(where: { $0.id == id }) else { return [] }
    let outputs = try OutputSet(directory: scratch.url.appendingPathComponent("direct"))
    let run = try RunContext(pipelineName: pipeline.name, asOf: CivilDate(iso: "2026-11-25")!,
                             settings: pipeline.settings, outputs: outputs)
    var rows: [Row] = []
    try stage.runner.produce(StageContext(stageID: id, run: run)) { batch in rows += batch.rows }
    outputs.discardAll()
    return rows
}

@Suite struct SQLiteExtractTests {
    @Test func djangoStoredDecimalsBooleansAndNaiveDatetimesReadBackExactly() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        try makeDatabase(scratch, djangoTable)
        // The premise: NUMERIC affinity turned the decimal texts into REAL and INTEGER.
        let check = try SQLiteDatabase(path: scratch.url.appendingPathComponent("db.sqlite3").path, readOnly: true)
            .prepare("SELECT typeof(prix) FROM stock_produit ORDER BY id")
        var storage: [String] = []
        while try check.step() { storage.append(check.text(0)) }
        #expect(storage == ["real", "real", "real", "integer"])

        let file = scratch.write("pipeline.yml", sqlitePipeline())
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        let rows = try extractedRows(pipeline, stage: "src", in: scratch)
        let prices = rows.compactMap { row -> Money? in if case .decimal(let money) = row[2] { return money } else { return nil } }
        #expect(prices.map(\.description) == ["12.50", "0.10", "19.99", "12.00"])
        #expect(prices.map(\.scale) == [2, 2, 2, 2])
        #expect(prices == ["12.50", "0.10", "19.99", "12"].map { Money($0)! })
        #expect(rows.map { $0[3] } == [.bool(true), .bool(false), .bool(true), .bool(false)])
        let march30 = CivilDate(year: 2025, month: 3, day: 30)!
        #expect(rows.map { $0[4] } == [
            .datetime(Timestamp(date: march30, hour: 22, minute: 15, second: 0)),
            .datetime(Timestamp(date: march30, hour: 22, minute: 15, second: 0, microsecond: 123_456)),
            .datetime(Timestamp(date: CivilDate(year: 2025, month: 1, day: 1)!, hour: 0, minute: 0, second: 0)),
            .datetime(Timestamp(date: CivilDate(year: 2024, month: 12, day: 31)!, hour: 23, minute: 59, second: 59, microsecond: 1)),
        ])
        #expect(rows.map { $0[1] } == [.text("vis"), .text("écrou"), .text("clou"), .text("rondelle")])

        let report = try runPipeline(sqlitePipeline(), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[2] } == ["prix", "12.50", "0.10", "19.99", "12.00"])
        expectStageCountsReconcile(report)
    }

    @Test func aValueOfTheWrongTypeIsRejectedUnderItsPrimaryKey() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // `int PRIMARY KEY` is not an alias of the rowid: the reject must name code_prod's own value.
        try makeDatabase(scratch, """
            CREATE TABLE produit (code_prod int PRIMARY KEY, prix decimal);
            INSERT INTO produit VALUES (100, 1.5), (200, 'douze'), (300, 3);
            CREATE TABLE categorie (id integer NOT NULL PRIMARY KEY, prix decimal);
            INSERT INTO categorie VALUES (7, 'sept'), (8, 8);
            """)
        let report = try runPipeline(sqlitePipeline(table: "produit", columns: "{code_prod: int, prix: decimal}"), in: scratch)
        #expect(report.exitCode == 0)
        let rejects = rejectedRecords(scratch)
        #expect(rejects.map { [$0[1], $0[2]] } == [["produit rowid=2", "sqlite-type"]])
        #expect(rejects.first?[3].contains("'douze' is not a decimal") == true)
        #expect(stage("src", of: report).map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected] } == [3, 2, 1])

        _ = try runPipeline(sqlitePipeline(table: "categorie", columns: "{id: int, prix: decimal}"), in: scratch)
        #expect(rejectedRecords(scratch).map { $0[1] } == ["categorie id=7"])
    }

    @Test(arguments: [
        "SELECT nom, prix FROM stock_produit WHERE actif = 1;",
        "SELECT nom, prix FROM stock_produit WHERE actif = 1 -- actifs seulement",
    ])
    func aQueryThatValidatesAlsoRuns(query: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        try makeDatabase(scratch, djangoTable)
        let yaml = sqlitePipeline(columns: "{nom: text, prix: {type: decimal, scale: 2}}")
            .replacingOccurrences(of: "table: stock_produit", with: "query: \"\(query)\"")
        let report = try runPipeline(yaml, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["nom", "prix"], ["vis", "12.50"], ["clou", "19.99"]])
    }

    @Test func aFileThatIsNotADatabaseIsAValidationError() {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("db.sqlite3", "code_prod;nom\n1;vis\n" + String(repeating: "du texte, pas une base\n", count: 100))
        let found = diagnostics(of: sqlitePipeline(), in: scratch)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("'db.sqlite3' is not an SQLite database") == true, "\(DiagnosticList(found))")
        #expect(found.first?.position?.line == 6)
        #expect(found.first?.position?.column == 15)
    }

    @Test func anUnknownTableSuggestsTheClosestName() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        try makeDatabase(scratch, djangoTable)
        let found = diagnostics(of: sqlitePipeline(table: "stock_produits"), in: scratch)
        #expect(found.map(\.message) == ["table 'stock_produits' does not exist in db.sqlite3 (did you mean 'stock_produit'?)"])
        #expect(found.first.map { [$0.position?.line, $0.position?.column] } == [7, 12])
    }

    @Test func aDatabaseLockedDuringValidationIsReportedAsLocked() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = try makeDatabase(scratch, djangoTable)
        let holder = try SQLiteDatabase(path: path, readOnly: false)
        try holder.execute("BEGIN EXCLUSIVE")
        defer { try? holder.execute("ROLLBACK") }
        let found = diagnostics(of: sqlitePipeline(options: ["busy_timeout_ms: 100"]), in: scratch)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("database db.sqlite3 is locked by another process") == true, "\(DiagnosticList(found))")
        #expect(found.first?.temporary == true, "a lock is worth a retry: exit 75, not 2")
    }

    @Test func aDatabaseLockedDuringTheRunFailsWithTheTemporaryExitCode() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = try makeDatabase(scratch, djangoTable)
        let file = scratch.write("pipeline.yml", sqlitePipeline(options: ["busy_timeout_ms: 100"]))
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        let holder = try SQLiteDatabase(path: path, readOnly: false)
        try holder.execute("BEGIN EXCLUSIVE")
        defer { try? holder.execute("ROLLBACK") }
        let report = PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("out"),
                                    asOf: CivilDate(iso: "2026-11-25")!).run()
        #expect(report.exitCode == 75)
        #expect(report.status == "failed")
        #expect(report.error?.contains("database is locked by another process (waited 100 ms)") == true, "\(report.error ?? "")")
        #expect(scratch.read("out/out.csv") == nil)
    }
}
