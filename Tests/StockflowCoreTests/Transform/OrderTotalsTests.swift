import Foundation
import Testing
@testable import StockflowCore

/// `order_totals` (DOMAIN rules 1 and 2) on the golden data of fixtures/golden/order_totals.
@Suite struct OrderTotalsTests: GoldenSupport {
    static func orderTotalsPipeline(ordersFile: String = "orders.csv") -> String {
        """
        version: 1
        name: golden-order-totals
        stages:
          orders:
            extract: csv
            path: \(ordersFile)
            columns:
              code_cmd: int
              code_prod: int
              quantite_cmd: int
              montant_commande: {type: decimal, nullable: true}
              date_commande: date
          products:
            extract: csv
            path: products.csv
            columns: {code_prod: int, nom_prod: text, prix_unit: decimal, is_deleted: bool}
          totals:
            transform: order_totals
            inputs: {orders: orders, products: products}
          out:
            load: csv
            input: totals
            path: totals.csv
        """
    }

    @Test func orderTotalsMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["orders.csv", "products.csv"], to: scratch)
        let report = try runPipeline(Self.orderTotalsPipeline(), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("totals.csv", in: scratch) == readCSV(Self.golden("order_totals/expected.csv")))
        Self.expectNothingLost(report)
        let totals = try #require(Self.stage("totals", of: report))
        #expect(totals.rowsIn == 11)
        #expect(totals.rowsOut == 8)
        #expect(totals.rowsRejected == 3)
        #expect(totals.rowsFiltered == 0)
        #expect(totals.findings == 2)
        #expect(report.rejects == 3)
        #expect(report.findings == 2)
    }

    @Test func rejectedOrdersAndFindingsNameTheirRuleAndSourceLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["orders.csv", "products.csv"], to: scratch)
        _ = try runPipeline(Self.orderTotalsPipeline(), in: scratch)
        let expected = readCSV(Self.golden("order_totals/expected_issues.csv")).dropFirst()
        for file in ["rejects", "findings"] {
            let rows = Self.issues("\(file).csv", in: scratch)
            let wanted = expected.filter { $0[0] == file }
            #expect(rows.count == wanted.count, "\(file): \(rows)")
            for record in wanted {
                let (rule, code, line) = (record[1], record[2], record[3])
                let match = rows.first { $0["row"]?.contains("code_cmd=\(code);") == true }
                #expect(match?["rule"] == rule, "\(file) for order \(code)")
                #expect(match?["source"] == "orders.csv:\(line)", "\(file) for order \(code)")
                #expect(match?["stage"] == "totals")
            }
        }
    }

    @Test func aStoredTotalOffByMoreThanACentIsAFindingWithItsEvidence() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["orders.csv", "products.csv"], to: scratch)
        _ = try runPipeline(Self.orderTotalsPipeline(), in: scratch)
        let findings = Self.issues("findings.csv", in: scratch)
        let order103 = try #require(findings.first { $0["row"]?.contains("code_cmd=103;") == true })
        let message = try #require(order103["message"])
        // The stored figure, the computation and the difference are all in the message.
        #expect(message.contains("6.80"))
        #expect(message.contains("2 × 3.35 = 6.70"))
        #expect(message.contains("0.10"))
        #expect(order103["row"]?.contains("montant_commande=6.80") == true)
        // The output keeps the recomputed total and shows the stored one beside it.
        let line = try #require(Self.output("totals.csv", in: scratch).first { $0.first == "103" })
        #expect(line.suffix(2) == ["6.70", "6.80"])
    }

    @Test func aStoredTotalOffByExactlyOneCentIsNotAFinding() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["orders.csv", "products.csv"], to: scratch)
        _ = try runPipeline(Self.orderTotalsPipeline(), in: scratch)
        let findings = Self.issues("findings.csv", in: scratch)
        for code in ["102", "106"] {
            #expect(!findings.contains { $0["row"]?.contains("code_cmd=\(code);") == true }, "order \(code)")
        }
    }

    @Test func anOrderForASoftDeletedProductIsStillRevenue() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["orders.csv", "products.csv"], to: scratch)
        _ = try runPipeline(Self.orderTotalsPipeline(), in: scratch)
        let line = Self.output("totals.csv", in: scratch).first { $0.first == "104" }
        #expect(line == ["104", "3", "1", "2026-11-04", "Agrafeuse", "12.99", "12.99", "12.99"])
        let total = try Self.output("totals.csv", in: scratch).dropFirst()
            .reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[6])!) }
        #expect(total == Money("48.60")!)
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func orderTotalsDoNotDependOnTheOrderOfTheOrders(seed: UInt64) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("order_totals", ["products.csv"], to: scratch)
        var lines = Self.golden("order_totals/orders.csv").split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        var generator = SeededGenerator(seed: seed)
        lines.shuffle(using: &generator)
        scratch.write("shuffled.csv", ([header] + lines).joined(separator: "\n") + "\n")
        let report = try runPipeline(Self.orderTotalsPipeline(ordersFile: "shuffled.csv"), in: scratch)
        let output = Self.output("totals.csv", in: scratch)
        let expected = readCSV(Self.golden("order_totals/expected.csv"))
        #expect(output.first == expected.first)
        #expect(output.dropFirst().sorted { $0.lexicographicallyPrecedes($1) } == expected.dropFirst().sorted { $0.lexicographicallyPrecedes($1) })
        let findings = Self.issues("findings.csv", in: scratch).compactMap { $0["row"]?.split(separator: ";").first }.sorted()
        #expect(findings == ["code_cmd=103", "code_cmd=110"])
        let rejects = Self.issues("rejects.csv", in: scratch).map { "\($0["row"]?.split(separator: ";").first ?? "") \($0["rule"] ?? "")" }.sorted()
        #expect(rejects == ["code_cmd=107 order-unknown-product", "code_cmd=108 order-quantity", "code_cmd=111 order-quantity"])
        Self.expectNothingLost(report)
    }
}
