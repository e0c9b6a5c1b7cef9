import Foundation
import Testing
@testable import StockflowCore

/// `returns` (DOMAIN rule 4): every rule holding, and each way to break it, on fixtures/golden/returns.
@Suite struct ReturnsTests: GoldenSupport {
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
        // 1 + Int64.max units would overflow the running total: rejected, not a crash.
        BrokenReturn(before: ["1,700,1,defaut,2026-11-01,,2,2.50"], broken: "2,700,9223372036854775807,rupture,2026-11-02,0.00,2,2.50",
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
}
