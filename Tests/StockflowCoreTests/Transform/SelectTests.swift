import Foundation
import Testing
@testable import StockflowCore

/// `select`: renamed and derived columns, calendar functions in the pipeline time zone.
@Suite struct SelectTests: GoldenSupport {
    @Test func selectRenamesAndDerivesColumnsExactly() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          shaped:
            transform: select
            input: lines
            columns:
              - {commande: code_cmd}
              - {categorie: "coalesce(categorie_id, 0)"}
              - {montant_ttc: "montant * 1.2"}
              - {quantite_double: "quantite * 2"}
              - {a_categorie: "not is_null(categorie_id)"}
        """, output: "shaped", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_select.csv")))
        let shaped = try #require(Self.stage("shaped", of: report))
        #expect((shaped.rowsIn, shaped.rowsOut, shaped.rowsFiltered, shaped.rowsRejected) == (7, 7, 0, 0))
    }

    @Test func selectDerivesCalendarColumns() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("days.csv", "jour\n2026-01-01\n2024-12-30\n2021-01-03\n29/02/2024\n")
        let report = try runPipeline("""
        version: 1
        name: calendar
        stages:
          days:
            extract: csv
            path: days.csv
            columns: {jour: date}
          shaped:
            transform: select
            input: days
            columns: [jour, {mois: "month(jour)"}, {semaine: "iso_week(jour)"}, {annee: "year(jour)"}]
          out:
            load: csv
            input: shaped
            path: out.csv
        """, in: scratch)
        #expect(Self.output("out.csv", in: scratch) == [
            ["jour", "mois", "semaine", "annee"],
            ["2026-01-01", "2026-01", "2026-W01", "2026"],
            ["2024-12-30", "2024-12", "2025-W01", "2024"],
            ["2021-01-03", "2021-01", "2020-W53", "2021"],
        ])
        // 29/02/2024 does not follow yyyy-MM-dd: rejected at the extract, with its line.
        #expect(Self.issues("rejects.csv", in: scratch).first?["source"] == "days.csv:5")
        Self.expectNothingLost(report)
    }

    @Test func calendarFunctionsReadDatetimesInThePipelineTimeZone() throws {
        // DOMAIN rule 7: trends are by day, week and month in the pipeline's time zone. 23:30 UTC on
        // 31 January 2026 is already 1 February (a Sunday, ISO week 5) in Paris.
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("moments.csv", "moment\n2026-01-31 23:30:00\n2026-01-31 22:30:00\n")
        _ = try runPipeline("""
        version: 1
        name: zoned
        settings: {timezone: Europe/Paris}
        stages:
          moments:
            extract: csv
            path: moments.csv
            columns: {moment: datetime}
          shaped:
            transform: select
            input: moments
            columns: [{mois: "month(moment)"}, {jour: "day(moment)"}, {semaine: "iso_week(moment)"}]
          out:
            load: csv
            input: shaped
            path: out.csv
        """, in: scratch)
        #expect(Self.output("out.csv", in: scratch) == [
            ["mois", "jour", "semaine"],
            ["2026-02", "2026-02-01", "2026-W05"],
            ["2026-01", "2026-01-31", "2026-W05"],
        ])
    }
}
