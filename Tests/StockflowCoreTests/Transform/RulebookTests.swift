import Foundation
import Testing
@testable import StockflowCore

/// DOMAIN.md rules 3, 4, 6 and 7 (returns, invoices, customers, suppliers, trends) and the `sql`
/// transform, run end to end on the hand-written golden data of fixtures/golden, whose README shows
/// how every expected figure was computed. Each rule has a test for the rule holding and one for
/// each way it can be broken.
@Suite struct RulebookTests {
    typealias Golden = TransformTests

    // MARK: returns (rule 4)

    static let returnColumns = """
        columns:
          id: int
          facture_id: int
          quantite: int
          raison: text
          date_retour: date
          montant_remboursement: {type: decimal, nullable: true}
          quantite_cmd: {type: int, nullable: true}
          prix_unit: {type: decimal, nullable: true}
    """

    /// Returns alone: raw returns (with their invoice's ordered quantity and unit price) → returns → csv,
    /// and the monthly-finance aggregate by reason.
    static let returnsPipeline = """
    version: 1
    name: golden-returns
    stages:
      returns_raw:
        extract: csv
        path: returns.csv
    \(returnColumns)
      valid_returns:
        transform: returns
        input: returns_raw
      by_reason:
        transform: aggregate
        input: valid_returns
        group_by: [raison, effet_stock]
        measures:
          nb_retours: count()
          quantite: sum(quantite)
          remboursements: sum(montant_remboursement)
          unites_restockees: sum(unites_restockees)
          unites_perdues: sum(unites_perdues)
      returns_out:
        load: csv
        input: valid_returns
        path: returns.csv
      by_reason_out:
        load: csv
        input: by_reason
        path: by_reason.csv
    """

    static let returnsHeader = "id,facture_id,quantite,raison,date_retour,montant_remboursement,quantite_cmd,prix_unit"

    /// Runs the returns pipeline on `lines` (CSV records without the header).
    static func runReturns(_ lines: [String], in scratch: Scratch) throws -> RunReport {
        scratch.write("returns.csv", ([returnsHeader] + lines).joined(separator: "\n") + "\n")
        return try runPipeline(returnsPipeline, in: scratch)
    }

    @Test func returnsMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("returns", ["returns.csv"], to: scratch)
        let report = try runPipeline(Self.returnsPipeline, in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Golden.output("returns.csv", in: scratch) == readCSV(Golden.golden("returns/expected.csv")))
        Golden.expectNothingLost(report)
        let stage = try #require(Golden.stage("valid_returns", of: report))
        #expect((stage.rowsIn, stage.rowsOut, stage.rowsRejected, stage.rowsFiltered, stage.findings) == (15, 7, 8, 0, 0))
    }

    @Test func everyBrokenReturnIsRejectedWithTheRuleItBreaksAndItsLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("returns", ["returns.csv"], to: scratch)
        _ = try runPipeline(Self.returnsPipeline, in: scratch)
        let rejects = Golden.issues("rejects.csv", in: scratch)
        let expected = readCSV(Golden.golden("returns/expected_issues.csv")).dropFirst()
        #expect(rejects.count == expected.count, "\(rejects)")
        for record in expected {
            let (rule, id, line) = (record[1], record[2], record[3])
            let match = rejects.first { $0["row"]?.hasPrefix("id=\(id);") == true }
            #expect(match?["rule"] == rule, "return \(id)")
            #expect(match?["source"] == "returns.csv:\(line)", "return \(id)")
            #expect(match?["stage"] == "valid_returns", "return \(id)")
        }
        #expect(Golden.issues("findings.csv", in: scratch).isEmpty)
    }

    @Test func returnsByReasonAddUpWithTheirStockEffect() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("returns", ["returns.csv"], to: scratch)
        _ = try runPipeline(Self.returnsPipeline, in: scratch)
        #expect(Golden.output("by_reason.csv", in: scratch) == readCSV(Golden.golden("returns/expected_by_reason.csv")))
    }

    /// One case of the broken-return matrix: the valid returns before it, the breaking return, the rule.
    struct BrokenReturn: Sendable, CustomTestStringConvertible {
        var before: [String]
        var broken: String
        var rule: String
        var testDescription: String { rule + ": " + broken }
    }

    // Invoice 700: 2 units at 2.50, gross 5.00.
    static let brokenReturns: [BrokenReturn] = [
        BrokenReturn(before: [], broken: "1,700,0,defaut,2026-11-01,,2,2.50", rule: "return-quantity"),
        BrokenReturn(before: [], broken: "1,700,-2,defaut,2026-11-01,,2,2.50", rule: "return-quantity"),
        BrokenReturn(before: [], broken: "1,700,1,perdu,2026-11-01,,2,2.50", rule: "return-reason"),
        BrokenReturn(before: [], broken: "1,700,1,DEFAUT,2026-11-01,,2,2.50", rule: "return-reason"),
        BrokenReturn(before: [], broken: "1,700,3,rupture,2026-11-01,0.00,2,2.50", rule: "return-over-quantity"),
        BrokenReturn(before: ["1,700,2,defaut,2026-11-01,,2,2.50"], broken: "2,700,1,rupture,2026-11-02,0.00,2,2.50",
                     rule: "return-over-quantity"),
        BrokenReturn(before: [], broken: "1,700,1,rupture,2026-11-01,-0.01,2,2.50", rule: "return-refund-negative"),
        BrokenReturn(before: [], broken: "1,700,1,rupture,2026-11-01,5.01,2,2.50", rule: "return-over-refund"),
        BrokenReturn(before: ["1,700,1,rupture,2026-11-01,4.00,2,2.50"], broken: "2,700,1,rupture,2026-11-02,1.01,2,2.50",
                     rule: "return-over-refund"),
        BrokenReturn(before: [], broken: "1,999,1,defaut,2026-11-01,,,", rule: "return-unknown-invoice"),
    ]

    @Test(arguments: brokenReturns)
    func aReturnBreakingRuleFourIsRejectedWithTheRuleItBreaks(_ testCase: BrokenReturn) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runReturns(testCase.before + [testCase.broken], in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        let rejects = Golden.issues("rejects.csv", in: scratch)
        #expect(rejects.count == 1, "\(rejects)")
        #expect(rejects.first?["rule"] == testCase.rule, "\(rejects)")
        #expect(rejects.first?["source"] == "returns.csv:\(testCase.before.count + 2)")
        #expect(Golden.output("returns.csv", in: scratch).count == testCase.before.count + 1, "the valid returns before it are kept")
        Golden.expectNothingLost(report)
    }

    @Test func returnsReachingExactlyTheOrderedQuantityAndTheGrossAreKept() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // Invoice 700: 2 units at 2.50 = 5.00. 1 + 1 units = 2; 2.49 + 2.51 = 5.00.
        let report = try Self.runReturns(["1,700,1,defaut,2026-11-01,2.49,2,2.50",
                                          "2,700,1,insatisfaction,2026-11-02,2.51,2,2.50"], in: scratch)
        #expect(Golden.issues("rejects.csv", in: scratch).isEmpty)
        #expect(Golden.output("returns.csv", in: scratch).dropFirst().map { $0[5] } == ["2.49", "2.51"])
        #expect(Golden.stage("valid_returns", of: report)?.rowsOut == 2)
    }

    @Test func aRejectedReturnDoesNotUseUpItsInvoice() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // 3 units of 2 is rejected; the 2 units after it still fit, and so does their 5.00 refund.
        _ = try Self.runReturns(["1,700,3,defaut,2026-11-01,0.00,2,2.50",
                                 "2,700,2,defaut,2026-11-02,,2,2.50"], in: scratch)
        #expect(Golden.issues("rejects.csv", in: scratch).map { $0["rule"] } == ["return-over-quantity"])
        #expect(Golden.output("returns.csv", in: scratch).dropFirst().map { [$0[0], $0[5]] } == [["2", "5.00"]])
    }

    @Test func returnsAgainstDifferentInvoicesAreCheckedSeparately() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // Each invoice has 2 units at 2.50: 2 units against each is within its own limit.
        _ = try Self.runReturns(["1,700,2,defaut,2026-11-01,,2,2.50", "2,701,2,defaut,2026-11-02,,2,2.50"], in: scratch)
        #expect(Golden.issues("rejects.csv", in: scratch).isEmpty)
    }

    @Test func aMissingRefundDefaultsToQuantityTimesUnitPriceRoundedToTheCent() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Golden.copyGolden("returns", ["returns.csv"], to: scratch)
        _ = try runPipeline(Self.returnsPipeline, in: scratch)
        let rows = Golden.output("returns.csv", in: scratch).dropFirst()
        let defaulted = rows.filter { $0[8] == "true" }.map { [$0[0], $0[5]] }
        // 2 × 2.50 = 5.00; 2 × 3.35 = 6.70; 1 × 0.125 = 0.125 → 0.13; 2 × 0.125 = 0.25.
        #expect(defaulted == [["1", "5.00"], ["10", "6.70"], ["12", "0.13"], ["13", "0.25"]])
        let given = rows.filter { $0[8] == "false" }.map { [$0[0], $0[5]] }
        #expect(given == [["2", "2.50"], ["5", "5.00"], ["11", "10.00"]])
    }

    @Test(arguments: [
        ("insatisfaction", "restocked", "3", "0"),
        ("defaut", "written_off", "0", "3"),
        ("rupture", "refund_only", "0", "0"),
    ])
    func eachReasonHasItsStockEffect(reason: String, effect: String, restocked: String, lost: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runReturns(["1,700,3,\(reason),2026-11-01,,3,1.00"], in: scratch)
        let row = try #require(Golden.output("returns.csv", in: scratch).dropFirst().first)
        #expect(Array(row.suffix(3)) == [effect, restocked, lost])
    }

    // MARK: invoices (rule 3), customers and suppliers (rule 6), trends (rule 7)

    /// Orders FULL JOINed with invoices, products, valid returns → invoices → customers, trends, suppliers.
    static func rulebookPipeline(timezone: String = "Europe/Paris") -> String {
        """
        version: 1
        name: golden-rulebook
        settings: {timezone: \(timezone)}
        stages:
          products:
            extract: csv
            path: products.csv
            columns: {code_prod: int, nom_prod: text, prix_unit: decimal, fournisseur_id: {type: int, nullable: true}}
          orders:
            extract: csv
            path: orders.csv
            columns:
              code_cmd: {type: int, nullable: true}
              produit_id: {type: int, nullable: true}
              client_id: {type: int, nullable: true}
              quantite_cmd: {type: int, nullable: true}
              date_commande: {type: datetime, nullable: true}
              facture_id: {type: int, nullable: true}
              montant_total: {type: decimal, nullable: true}
              date_facture: {type: datetime, nullable: true}
          returns_raw:
            extract: csv
            path: returns.csv
        \(returnColumns)
          customers:
            extract: csv
            path: customers.csv
            columns: {code_client: int, nom_client: text, is_actif: bool}
          suppliers:
            extract: csv
            path: suppliers.csv
            columns: {id: int, nom: text}
          stock:
            extract: csv
            path: stock.csv
            columns: {code_prod: int, valeur: decimal}
          valid_returns:
            transform: returns
            input: returns_raw
          invoiced:
            transform: invoices
            inputs: {orders: orders, products: products, returns: valid_returns}
          by_customer:
            transform: customers
            inputs: {sales: invoiced, customers: customers}
          by_month:
            transform: trends
            input: invoiced
            by: month
          by_week:
            transform: trends
            input: invoiced
            by: week
          by_day:
            transform: trends
            input: invoiced
            by: day
          shares:
            transform: suppliers
            inputs: {sales: invoiced, stock: stock, products: products, suppliers: suppliers}
          returns_out: {load: csv, input: valid_returns, path: returns.csv}
          invoiced_out: {load: csv, input: invoiced, path: invoices.csv}
          customers_out: {load: csv, input: by_customer, path: customers.csv}
          month_out: {load: csv, input: by_month, path: by_month.csv}
          week_out: {load: csv, input: by_week, path: by_week.csv}
          day_out: {load: csv, input: by_day, path: by_day.csv}
          shares_out: {load: csv, input: shares, path: suppliers.csv}
        """
    }

    /// Copies the golden rulebook inputs (invoices/, customers/, suppliers/) and runs the pipeline.
    static func runRulebook(timezone: String = "Europe/Paris", in scratch: Scratch) throws -> RunReport {
        Golden.copyGolden("invoices", ["products.csv", "orders.csv", "returns.csv"], to: scratch)
        Golden.copyGolden("customers", ["customers.csv"], to: scratch)
        Golden.copyGolden("suppliers", ["suppliers.csv", "stock.csv"], to: scratch)
        let report = try runPipeline(rulebookPipeline(timezone: timezone), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        Golden.expectNothingLost(report)
        return report
    }

    /// The sum of a money column of an output (header dropped).
    static func total(_ name: String, column: Int, in scratch: Scratch) throws -> Money {
        try Golden.output(name, in: scratch).dropFirst().reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[column])!) }
    }

    @Test func invoicesMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRulebook(in: scratch)
        #expect(Golden.output("invoices.csv", in: scratch) == readCSV(Golden.golden("invoices/expected.csv")))
        let invoiced = try #require(Golden.stage("invoiced", of: report))
        #expect((invoiced.rowsIn, invoiced.rowsOut, invoiced.rowsRejected, invoiced.rowsFiltered, invoiced.findings) == (11, 8, 3, 0, 2))
        let returns = try #require(Golden.stage("valid_returns", of: report))
        #expect((returns.rowsIn, returns.rowsOut, returns.rowsRejected) == (6, 4, 2))
    }

    @Test func invoiceRejectsAndFindingsNameTheirRuleAndSourceLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let expected = readCSV(Golden.golden("invoices/expected_issues.csv")).dropFirst()
        for file in ["rejects", "findings"] {
            let rows = Golden.issues("\(file).csv", in: scratch)
            let wanted = expected.filter { $0[0] == file }
            #expect(rows.count == wanted.count, "\(file): \(rows)")
            for record in wanted {
                let (stage, rule, source) = (record[1], record[2], record[3])
                let match = rows.first { $0["source"] == source }
                #expect(match?["rule"] == rule, "\(file) at \(source)")
                #expect(match?["stage"] == stage, "\(file) at \(source)")
            }
        }
    }

    @Test func exactlyOneInvoicePerValidOrder() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let orders = Golden.output("invoices.csv", in: scratch).dropFirst().map { $0[0] }
        #expect(orders == ["201", "202", "203", "204", "205", "208", "209", "210"])
    }

    @Test func anOrderWithoutAnInvoiceGetsAGeneratedOneDatedOnTheOrderAndListed() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let row = Golden.output("invoices.csv", in: scratch).first { $0.first == "205" }
        #expect(row == ["205", "1", "", "2026-11-04T10:00:00Z", "", "2026-11-04T10:00:00Z", "true", "2", "2.50", "5.00", "0.00", "5.00"])
        let finding = try #require(Golden.issues("findings.csv", in: scratch).first { $0["rule"] == "invoice-generated" })
        #expect(finding["message"]?.contains("order 205") == true, "\(finding)")
        #expect(finding["message"]?.contains("5.00") == true, "\(finding)")
        #expect(Golden.output("invoices.csv", in: scratch).dropFirst().filter { $0[6] == "true" }.count == 1)
    }

    @Test func anInvoiceWithoutAnOrderIsRejected() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let reject = try #require(Golden.issues("rejects.csv", in: scratch).first { $0["rule"] == "invoice-without-order" })
        #expect(reject["message"]?.contains("508") == true)
        #expect(!Golden.output("invoices.csv", in: scratch).contains { $0.count > 4 && $0[4] == "508" })
    }

    @Test func aStoredInvoiceTotalOffByMoreThanACentIsAFindingAndTheGrossIsUsed() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let findings = Golden.issues("findings.csv", in: scratch).filter { $0["rule"] == "invoice-total-mismatch" }
        // 503 stores 12.00 for 1 × 12.99; 509 (10.05) and 511 (3.35) match, 510 stores 2.51 for 2.50 (one cent).
        #expect(findings.count == 1, "\(findings)")
        let message = findings.first?["message"] ?? ""
        #expect(message.contains("12.00") && message.contains("1 × 12.99 = 12.99"), "\(message)")
        #expect(Golden.output("invoices.csv", in: scratch).first { $0.first == "203" }?[9] == "12.99")
    }

    @Test func refundsOfRejectedReturnsAreNotSubtracted() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let rows = Golden.output("invoices.csv", in: scratch)
        // 502: return 3 (3.35) kept, return 4 (5 units of 2) rejected; 503: return 5 (20.00 > 12.99) rejected.
        #expect(rows.first { $0.first == "202" }?.suffix(3) == ["6.70", "3.35", "3.35"])
        #expect(rows.first { $0.first == "203" }?.suffix(3) == ["12.99", "0.00", "12.99"])
    }

    @Test func netIsGrossMinusRefundsToTheCent() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        for row in Golden.output("invoices.csv", in: scratch).dropFirst() {
            let (gross, refunds, net) = (Money(row[9])!, Money(row[10])!, Money(row[11])!)
            #expect(try gross.subtracting(refunds) == net, "order \(row[0])")
            #expect(refunds <= gross, "order \(row[0])")
        }
        #expect(try Self.total("invoices.csv", column: 9, in: scratch) == Money("53.47")!)
        #expect(try Self.total("invoices.csv", column: 10, in: scratch) == Money("14.20")!)
        #expect(try Self.total("invoices.csv", column: 11, in: scratch) == Money("39.27")!)
    }

    @Test func customersMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRulebook(in: scratch)
        #expect(Golden.output("customers.csv", in: scratch) == readCSV(Golden.golden("customers/expected.csv")))
        let stage = try #require(Golden.stage("by_customer", of: report))
        #expect((stage.rowsIn, stage.rowsOut, stage.rowsEmitted) == (8, 8, 5))
    }

    @Test func aCustomersLastOrderDateIsTheDayInThePipelineTimeZone() throws {
        // Order 202 is at 23:30 UTC on 31 October 2026: 00:30 on 1 November in Paris (CET, UTC+1).
        for (zone, day) in [("Europe/Paris", "2026-11-01"), ("UTC", "2026-10-31")] {
            let scratch = Scratch()
            defer { scratch.cleanup() }
            _ = try Self.runRulebook(timezone: zone, in: scratch)
            let dupont = Golden.output("customers.csv", in: scratch).first { $0.first == "1" }
            #expect(dupont?.last == day, "\(zone)")
        }
    }

    @Test func theSumOverCustomersIsTheNetOfAllInvoices() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        #expect(try Self.total("customers.csv", column: 4, in: scratch) == Money("39.27")!)
        #expect(Golden.output("customers.csv", in: scratch).dropFirst().reduce(0) { $0 + Int($1[3])! } == 8)
    }

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

    @Test func supplierSharesMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRulebook(in: scratch)
        #expect(Golden.output("suppliers.csv", in: scratch) == readCSV(Golden.golden("suppliers/expected.csv")))
        let stage = try #require(Golden.stage("shares", of: report))
        #expect((stage.rowsIn, stage.rowsOut) == (12, 12))
        #expect(try Self.total("suppliers.csv", column: 2, in: scratch) == Money("160.00")!)
        #expect(try Self.total("suppliers.csv", column: 4, in: scratch) == Money("39.27")!)
    }

    @Test(arguments: [
        ("1", "3", "0.3333"), ("2", "3", "0.6667"), ("1", "32", "0.0313"), ("75.00", "160.00", "0.4688"),
        ("1", "20000", "0.0001"), ("1", "20001", "0.0000"), ("-1", "32", "-0.0313"), ("5", "0", "0.0000"),
        ("0.00", "0.00", "0.0000"), ("39.27", "39.27", "1.0000"),
    ])
    func sharesAreRoundedHalfAwayFromZeroToFourPlaces(part: String, whole: String, share: String) throws {
        let value = try Suppliers.share(Money(part)!, of: Money(whole)!)
        #expect(value.description == share)
    }

    @Test func withNothingSoldNorStockedEverySupplierHasAZeroShare() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        // Same pipeline, no orders at all and no stock.
        scratch.write("orders.csv", "code_cmd,produit_id,client_id,quantite_cmd,date_commande,facture_id,montant_total,date_facture\n")
        scratch.write("returns.csv", Self.returnsHeader + "\n")
        scratch.write("stock.csv", "code_prod,valeur\n")
        let report = try runPipeline(Self.rulebookPipeline(), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Golden.output("suppliers.csv", in: scratch) == [
            ["fournisseur_id", "fournisseur", "valeur_stock", "part_stock", "chiffre_affaires", "part_ca"],
            ["1", "Papeterie Durand", "0.00", "0.0000", "0.00", "0.0000"],
            ["2", "Bureau Pro", "0.00", "0.0000", "0.00", "0.0000"],
            ["3", "Vide SARL", "0.00", "0.0000", "0.00", "0.0000"],
        ])
        #expect(Golden.output("customers.csv", in: scratch).dropFirst().allSatisfy { $0[3] == "0" && $0[4] == "0.00" && $0[5] == "" })
        #expect(Golden.output("by_month.csv", in: scratch) == [["periode", "nb_commandes", "chiffre_affaires"]])
    }

    @Test func aProductOfAnUnknownSupplierKeepsItsRevenueInItsOwnRow() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        // Agrafeuse (3) now names supplier 7, which the suppliers table does not have.
        scratch.write("products.csv", Golden.golden("invoices/products.csv").replacingOccurrences(of: "12.99,2", with: "12.99,7"))
        _ = try runPipeline(Self.rulebookPipeline(), in: scratch)
        let rows = Golden.output("suppliers.csv", in: scratch)
        #expect(rows.first { $0.first == "7" } == ["7", "(fournisseur inconnu 7)", "75.00", "0.4688", "12.99", "0.3308"], "\(rows)")
        #expect(try Self.total("suppliers.csv", column: 4, in: scratch) == Money("39.27")!)
        #expect(try Self.total("suppliers.csv", column: 2, in: scratch) == Money("160.00")!)
    }

    // MARK: sql

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
