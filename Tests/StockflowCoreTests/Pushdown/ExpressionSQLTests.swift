import Foundation
import Testing
@testable import StockflowCore

/// Row expressions compiled to PostgreSQL (Pushdown/ExpressionSQL.swift): the same result for every row,
/// and a refusal with its reason where SQL would differ.
@Suite struct ExpressionSQLTests {
    static let schema = Schema([Column("n", .int), Column("amount", .decimal, scale: 2), Column("name", .text),
                                Column("flag", .bool), Column("day", .date), Column("at", .datetime)])

    static func sql(_ text: String, timezone: String = "Europe/Paris") throws -> String {
        let expression = try Expression.parse(text, schema: schema)
        return try ExpressionSQL(columns: ["c1", "c2", "c3", "c4", "c5", "c6"], schema: schema, timezone: timezone).compile(expression)
    }

    @Test func comparisonsWithNullAreFalseNotNull() throws {
        #expect(try Self.sql("n < 10") == "coalesce(c1 < 10::int8, false)")
        #expect(try Self.sql("n != null") == "coalesce(c1 <> NULL, false)")
    }

    @Test func andAndOrReadNullAsFalse() throws {
        #expect(try Self.sql("flag and n > 1") == "(coalesce(c4, false) AND coalesce(coalesce(c1 > 1::int8, false), false))")
        #expect(try Self.sql("not flag or flag") == "(coalesce((NOT c4), false) OR coalesce(c4, false))")
    }

    @Test func textComparesByteForByte() throws {
        #expect(try Self.sql("name >= 'É'") == "coalesce((c3 COLLATE \"C\") >= ('É'::text COLLATE \"C\"), false)")
        // A quote in a literal is doubled, never closing the literal.
        #expect(try Self.sql("name = 'l''été'") == "coalesce((c3 COLLATE \"C\") = ('l''été'::text COLLATE \"C\"), false)")
    }

    @Test func decimalLiteralsKeepTheirScaleAndIntegersStayBigint() throws {
        #expect(try Self.sql("amount * 2 + 0.50") == "((c2 * 2::int8) + 0.50::numeric)")
        #expect(try Self.sql("-n") == "(-c1)")
    }

    @Test func calendarFunctionsReadInstantsInThePipelinesTimeZone() throws {
        #expect(try Self.sql("month(at)") == "to_char((c6 AT TIME ZONE 'Europe/Paris')::date, 'YYYY-MM')")
        #expect(try Self.sql("iso_week(day)") == "to_char(c5, 'IYYY-\"W\"IW')")
        #expect(try Self.sql("year(at)", timezone: "UTC") == "(extract(year FROM (c6 AT TIME ZONE 'UTC')::date))::int8")
        #expect(try Self.sql("day(at)").hasPrefix("((c6 AT TIME ZONE 'Europe/Paris')::date)::date"))
    }

    @Test func aDateComparedWithADatetimeUsesItsUTCDay() throws {
        #expect(try Self.sql("day = at") == "coalesce(c5 = ((c6) AT TIME ZONE 'UTC')::date, false)")
    }

    @Test func aDateComparedWithTextComparesItsISOText() throws {
        #expect(try Self.sql("day >= '2026-01-01'") == "coalesce((to_char(c5, 'YYYY-MM-DD') COLLATE \"C\") >= ('2026-01-01'::text COLLATE \"C\"), false)")
    }

    @Test(arguments: [
        ("not n", "'not' applies to a int"),
        ("name + 1", "'+' reads a text ('name')"),
        ("-name", "'-' applies to a text"),
        ("n and flag", "'and' reads a int ('n')"),
        ("coalesce(n, amount)", "coalesce mixes int and decimal"),
        ("month(n)", "month reads a int"),
    ])
    func whatSQLWouldComputeDifferentlyIsRefusedWithItsReason(text: String, reason: String) throws {
        do {
            _ = try Self.sql(text)
            Issue.record("'\(text)' was compiled")
        } catch let refusal as PushdownRefusal {
            #expect(refusal.reason.contains(reason), "\(refusal.reason)")
        }
    }

    @Test func aPipelineThatReadsACSVCannotRequirePushdown() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        scratch.write("rows.csv", "n\n1\n")
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: no-pg
            settings: {pushdown: required}
            stages:
              rows: {extract: csv, path: rows.csv, columns: {n: int}}
              small: {transform: filter, input: rows, where: "n < 2"}
              out: {load: csv, input: small, path: out.csv}
            """)
        do {
            _ = try Pipeline.load(path: file.path, environment: [:])
            Issue.record("validated")
        } catch let error as DiagnosticList {
            #expect(error.description.contains("pipeline.yml:5:9: error: pushdown: required, but stage 'rows' (extract: csv) cannot run in PostgreSQL: it reads a CSV file, not PostgreSQL"), "\(error)")
        }
    }

    @Test func autoRunsWhatCannotBePushedInProcessAndSaysWhy() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        scratch.write("rows.csv", "n\n1\n3\n")
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: no-pg
            settings: {pushdown: auto}
            stages:
              rows: {extract: csv, path: rows.csv, columns: {n: int}}
              small: {transform: filter, input: rows, where: "n < 2"}
              out: {load: csv, input: small, path: out.csv}
            """)
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        #expect(pipeline.pushdown?.placements["small"]?.inPostgres == false)
        #expect(pipeline.pushdown?.placements["small"]?.reason == "its input 'rows' runs in-process")
        let report = try runPipeline(String(decoding: try Data(contentsOf: file), as: UTF8.self), in: scratch)
        #expect(report.exitCode == 0 && report.stages.first { $0.id == "small" }?.rowsFiltered == 1)
    }

    @Test func anUnknownModeIsAValidationError() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        scratch.write("rows.csv", "n\n1\n")
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: bad
            settings: {pushdown: always}
            stages:
              rows: {extract: csv, path: rows.csv, columns: {n: int}}
              out: {load: csv, input: rows, path: out.csv}
            """)
        #expect(throws: DiagnosticList.self) { _ = try Pipeline.load(path: file.path, environment: [:]) }
        do { _ = try Pipeline.load(path: file.path, environment: [:]) } catch let error as DiagnosticList {
            #expect(error.description.contains("pipeline.yml:3:22: error: 'pushdown' must be off, auto or required, found 'always'"), "\(error)")
        }
    }
}
