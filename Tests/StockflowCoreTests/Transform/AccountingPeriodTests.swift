import Foundation
import Testing
@testable import StockflowCore

/// DOMAIN.md "Accounting periods and names": the bundled monthly-finance pipeline books an invoice in the
/// month of its invoice date and a refund in the month of its return, in the pipeline's time zone, on the
/// hand-computed golden data of fixtures/golden/periods.
@Suite struct AccountingPeriodTests {
    static let goldenFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../fixtures/golden/periods").standardized
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..").standardized

    /// Runs pipelines/monthly-finance.yml on a database made from the app's schema and the golden rows,
    /// with a CSV copy of its "Factures par mois" stage beside the workbook.
    static func runMonthlyFinance(in scratch: Scratch) throws -> (RunReport, [[String]]) {
        let database = scratch.url.appendingPathComponent("inventory.sqlite3").path
        let schema = try String(contentsOf: repository.appendingPathComponent("fixtures/schema/django-sqlite.sql"), encoding: .utf8)
        let rows = try String(contentsOf: goldenFolder.appendingPathComponent("data.sql"), encoding: .utf8)
        do {
            let connection = try SQLiteDatabase(path: database, readOnly: false)
            try connection.execute(schema)
            try connection.execute(rows)
        }
        var pipeline = try String(contentsOf: repository.appendingPathComponent("pipelines/monthly-finance.yml"), encoding: .utf8)
        pipeline += """

          period_check:
            load: csv
            input: invoices_by_month
            path: invoices_by_month.csv

        """
        let report = try runPipeline(pipeline, in: scratch, asOf: "2026-12-31", environment: ["STOCKFLOW_FIXTURES": scratch.url.path])
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        return (report, readCSV(scratch.read("out/invoices_by_month.csv") ?? ""))
    }

    @Test func invoicesCountInTheMonthOfTheirInvoiceDateAndRefundsInTheMonthOfTheirReturn() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (report, months) = try Self.runMonthlyFinance(in: scratch)
        let expected = readCSV(try String(contentsOf: Self.goldenFolder.appendingPathComponent("expected_by_month.csv"), encoding: .utf8))
        #expect(months == expected)
        #expect(report.rejects == 0)
    }

    @Test func anInvoiceDatedInTheMonthAfterItsOrderIsNotInTheOrdersMonth() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, months) = try Self.runMonthlyFinance(in: scratch)
        // Order 301 is dated 28 September; its invoice of 2 October counts in October.
        #expect(!months.contains { $0.first == "2026-09" })
        #expect(months.first { $0.first == "2026-10" }?[3] == "15.00")
    }

    @Test func aReturnInALaterMonthLeavesTheInvoicesMonthUnchanged() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, months) = try Self.runMonthlyFinance(in: scratch)
        // The November return against October's invoice 602 is a November credit note: October stays at 15.00 net.
        #expect(months.first { $0.first == "2026-10" }.map { [$0[4], $0[5]] } == ["0.00", "15.00"])
        #expect(months.first { $0.first == "2026-11" }.map { [$0[4], $0[5]] } == ["2.50", "7.50"])
        // December has a refund and no invoice.
        #expect(months.first { $0.first == "2026-12" } == ["2026-12", "0", "0", "0.00", "5.00", "-5.00"])
    }

    @Test func anInvoiceLateOnTheLastDayInUTCIsTheNextMonthInParis() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, months) = try Self.runMonthlyFinance(in: scratch)
        // Invoice 603 at 23:40 UTC on 31 October is 1 November in Paris, beside the generated invoice of 304.
        #expect(months.first { $0.first == "2026-11" }.map { [$0[1], $0[2], $0[3]] } == ["2", "1", "10.00"])
    }
}
