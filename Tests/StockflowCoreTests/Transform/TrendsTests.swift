import Foundation
import Testing
@testable import StockflowCore

/// `trends` (DOMAIN rule 7): by day, ISO week and month in the pipeline time zone.
@Suite struct TrendsTests: GoldenSupport {
    @Test func trendsByMonthWeekAndDayMatchTheHandComputedGoldenFiles() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRulebook(in: scratch)
        #expect(Golden.output("by_month.csv", in: scratch) == readCSV(Golden.golden("trends/expected_by_month.csv")))
        #expect(Golden.output("by_week.csv", in: scratch) == readCSV(Golden.golden("trends/expected_by_week.csv")))
        #expect(Golden.output("by_day.csv", in: scratch) == readCSV(Golden.golden("trends/expected_by_day.csv")))
        for id in ["by_month", "by_week", "by_day"] {
            let stage = try #require(Golden.stage(id, of: report))
            #expect((stage.rowsIn, stage.rowsOut, stage.rowsFiltered) == (8, 8, 0), "\(id)")
        }
        for name in ["by_month.csv", "by_week.csv", "by_day.csv"] {
            #expect(try Self.total(name, column: 2, in: scratch) == Money("39.27")!, "\(name)")
        }
    }

    @Test func trendsUseThePipelineTimeZone() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(timezone: "UTC", in: scratch)
        #expect(Golden.output("by_month.csv", in: scratch) == readCSV(Golden.golden("trends/expected_by_month_utc.csv")))
        let days = Golden.output("by_day.csv", in: scratch).map { $0[0] }
        #expect(days.contains("2026-10-31") && !days.contains("2026-11-01"))
    }

    @Test func theFirstDaysOfAYearCanBelongToTheLastIsoWeekOfThePreviousYear() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        // Monday 28 December 2026 and Friday 1 January 2027 are both in 2026-W53; Monday 4 January 2027 starts 2027-W01.
        let weeks = Golden.output("by_week.csv", in: scratch)
        #expect(weeks.first { $0.first == "2026-W53" } == ["2026-W53", "2", "9.20"])
        #expect(weeks.first { $0.first == "2027-W01" } == ["2027-W01", "1", "3.35"])
        #expect(!weeks.contains { $0.first == "2027-W53" })
    }

    @Test func salesWithoutADateAreFilteredFromTrendsWithTheirReason() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("sales.csv", "date_commande,net\n2026-11-02,1.10\n,2.00\n2026-11-30,0.15\n")
        let report = try runPipeline("""
        version: 1
        name: undated
        stages:
          sales:
            extract: csv
            path: sales.csv
            columns: {date_commande: {type: date, nullable: true}, net: decimal}
          by_month:
            transform: trends
            input: sales
          out: {load: csv, input: by_month, path: out.csv}
        """, in: scratch)
        #expect(Golden.output("out.csv", in: scratch) == [["periode", "nb_commandes", "chiffre_affaires"], ["2026-11", "2", "1.25"]])
        let stage = try #require(Golden.stage("by_month", of: report))
        #expect((stage.rowsIn, stage.rowsOut, stage.rowsFiltered) == (3, 2, 1))
        #expect(stage.filteredReasons == ["no order date": 1])
        Golden.expectNothingLost(report)
    }
}
