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

    /// Periods kept by number (the last day's entry reused) against labels computed apart, with
    /// Foundation's ISO 8601 calendar: random dates over twelve years, in runs of the same day and
    /// scattered back and forth, so that a period is met again after others.
    @Test(arguments: ["day", "week", "month"])
    func randomDatesInAnyOrderGiveThePeriodsOfAnIndependentCalendar(period: String) throws {
        var random = SeededGenerator(seed: 7)
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let start = try #require(calendar.date(from: DateComponents(year: 2019, month: 1, day: 1)))
        var csv = "date_commande,net\n"
        var expected: [String: (orders: Int, cents: Int)] = [:]
        func pad(_ value: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
        for _ in 0..<600 {
            let date = try #require(calendar.date(byAdding: .day, value: Int.random(in: 0..<(12 * 366), using: &random), to: start))
            let parts = calendar.dateComponents([.year, .month, .day, .yearForWeekOfYear, .weekOfYear], from: date)
            let (year, month, day) = (parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
            let label = switch period {
            case "day": "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
            case "week": "\(pad(parts.yearForWeekOfYear ?? 0, 4))-W\(pad(parts.weekOfYear ?? 0, 2))"
            default: "\(pad(year, 4))-\(pad(month, 2))"
            }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let cents = Int.random(in: 0..<50_000, using: &random)
                csv += "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)),\(cents / 100).\(pad(cents % 100, 2))\n"
                let known = expected[label] ?? (0, 0)
                expected[label] = (known.orders + 1, known.cents + cents)
            }
        }
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("sales.csv", csv)
        let report = try runPipeline("""
        version: 1
        name: random-periods
        stages:
          sales: {extract: csv, path: sales.csv, columns: {date_commande: date, net: decimal}}
          periods: {transform: trends, input: sales, by: \(period)}
          out: {load: csv, input: periods, path: out.csv}
        """, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let rows = expected.keys.sorted().map { label in
            [label, "\(expected[label]?.orders ?? 0)", "\((expected[label]?.cents ?? 0) / 100).\(pad((expected[label]?.cents ?? 0) % 100, 2))"]
        }
        #expect(Golden.output("out.csv", in: scratch) == [["periode", "nb_commandes", "chiffre_affaires"]] + rows)
    }
}
