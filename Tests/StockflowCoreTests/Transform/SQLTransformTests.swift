import Foundation
import Testing
@testable import StockflowCore

/// `sql`: queries over the inputs in an in-memory SQLite, with exact types back.
@Suite struct SQLTransformTests: GoldenSupport {
    static func sqlPipeline(_ query: String, columns: String? = nil) -> String {
        """
        version: 1
        name: golden-sql
        stages:
          ventes:
            extract: csv
            path: ventes.csv
            columns: {client: int, montant: {type: decimal, scale: 2}}
          result:
            transform: sql
            inputs: {ventes: ventes}
            query: \(query)
        \(columns.map { "    columns: \($0)" } ?? "")
          out: {load: csv, input: result, path: out.csv}
        """
    }

    @Test func aDecimalColumnSummedInSQLStaysExactToTheCent() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("sql", ["ventes.csv"], to: scratch)
        // 0.10 + 0.20 is 0.30000000000000004 in binary floating point; the result must be 0.30.
        let report = try runPipeline(Self.sqlPipeline("SELECT client, SUM(montant) AS total, COUNT(*) AS nb FROM ventes GROUP BY client ORDER BY client",
                                                      columns: "{total: decimal, nb: int}"), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Golden.output("out.csv", in: scratch) == readCSV(Golden.golden("sql/expected_sum.csv")))
        let stage = try #require(Golden.stage("result", of: report))
        #expect((stage.rowsIn, stage.rowsOut, stage.rowsEmitted) == (7, 7, 3))
        Golden.expectNothingLost(report)
    }

    @Test func aPlainColumnComesBackWithItsOwnTypeAndScale() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("sql", ["ventes.csv"], to: scratch)
        let report = try runPipeline(Self.sqlPipeline("SELECT client, montant FROM ventes WHERE montant > 1 ORDER BY montant"), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Golden.output("out.csv", in: scratch) == readCSV(Golden.golden("sql/expected_passthrough.csv")))
    }

    @Test func aComputedColumnWithoutATypeIsAValidationErrorAtTheQuery() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.sqlPipeline("SELECT client, SUM(montant) AS total FROM ventes GROUP BY client"), in: scratch)
        let problem = try #require(problems.first { $0.message.contains("'total'") }, "\(problems)")
        #expect(problem.message.contains("columns"), "\(problem)")
        // `query:` is on line 11; its value starts at column 12.
        #expect(problem.position?.line == 11, "\(problem)")
        #expect(problem.position?.column == 12, "\(problem)")
        #expect(!problems.contains { $0.message.contains("'client'") }, "a plain column needs no type")
    }

    @Test(arguments: ["SELECT nope FROM ventes", "SELECT client FROM absent", "SELEC client FROM ventes"])
    func aQueryThatDoesNotCompileIsAValidationError(query: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.sqlPipeline(query), in: scratch)
        let problem = try #require(problems.first { $0.message.contains("does not compile") }, "\(problems)")
        #expect(problem.position?.line == 11, "\(problem)")
    }
}
