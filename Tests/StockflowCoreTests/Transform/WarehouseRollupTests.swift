import Foundation
import Testing
@testable import StockflowCore

/// `warehouse_rollup` (DOMAIN rule 5) on the golden data of fixtures/golden/warehouse_rollup.
@Suite struct WarehouseRollupTests: GoldenSupport {
    static func rollupPipeline(by: String, settingThreshold: Int? = nil, optionThreshold: Int? = nil) -> String {
        """
        version: 1
        name: golden-rollup
        \(settingThreshold.map { "settings: {low_stock_threshold: \($0)}" } ?? "")
        stages:
          stock:
            extract: csv
            path: stock.csv
            columns: {id: int, produit_id: int, entrepot_id: int, quantite: int}
          products:
            extract: csv
            path: products.csv
            columns: {code_prod: int, nom_prod: text, prix_unit: decimal, is_deleted: bool, quantite: int}
          warehouses:
            extract: csv
            path: warehouses.csv
            columns: {code_entrepot: int, nom_entrepot: text, is_actif: bool}
          rollup:
            transform: warehouse_rollup
            inputs: {stock: stock, products: products, warehouses: warehouses}
            by: \(by)
            \(optionThreshold.map { "low_stock_threshold: \($0)" } ?? "")
          out:
            load: csv
            input: rollup
            path: rollup.csv
        """
    }

    static func runRollup(by: String, settingThreshold: Int? = nil, optionThreshold: Int? = nil,
                          in scratch: Scratch) throws -> RunReport {
        copyGolden("warehouse_rollup", ["stock.csv", "products.csv", "warehouses.csv"], to: scratch)
        return try runPipeline(rollupPipeline(by: by, settingThreshold: settingThreshold, optionThreshold: optionThreshold), in: scratch)
    }

    @Test func stockByWarehouseMatchesTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRollup(by: "warehouse", in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("rollup.csv", in: scratch) == readCSV(Self.golden("warehouse_rollup/expected_by_warehouse.csv")))
        Self.expectNothingLost(report)
        let rollup = try #require(Self.stage("rollup", of: report))
        #expect(rollup.rowsIn == 10)
        #expect(rollup.rowsOut == 4)
        #expect(rollup.rowsRejected == 3)
        #expect(rollup.rowsFiltered == 3)
        #expect(rollup.filteredReasons == ["soft-deleted product": 1, "inactive warehouse": 2])
    }

    @Test func stockByProductMatchesTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRollup(by: "product", in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("rollup.csv", in: scratch) == readCSV(Self.golden("warehouse_rollup/expected_by_product.csv")))
        Self.expectNothingLost(report)
    }

    @Test func byProductAndByWarehouseAgreeOnUnitsAndValue() throws {
        var totals: [(Int64, Money)] = []
        for (by, unitsColumn, valueColumn) in [("warehouse", 3, 4), ("product", 2, 3)] {
            let scratch = Scratch()
            defer { scratch.cleanup() }
            _ = try Self.runRollup(by: by, in: scratch)
            let rows = Self.output("rollup.csv", in: scratch).dropFirst()
            let units = rows.reduce(Int64(0)) { $0 + Int64($1[unitsColumn])! }
            let value = try rows.reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[valueColumn])!) }
            totals.append((units, value))
        }
        #expect(totals.count == 2)
        #expect(totals.allSatisfy { $0.0 == 49 && $0.1 == Money("148.00")! })
    }

    @Test func leftOutProductsAndWarehousesAreCountedInANote() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRollup(by: "warehouse", in: scratch)
        let notes = try #require(Self.stage("rollup", of: report)).notes
        #expect(notes.count == 1)
        let note = notes.first ?? ""
        #expect(note.contains("1 soft-deleted product(s) (1 stock lines)"), "\(note)")
        #expect(note.contains("1 inactive warehouse(s) (2 stock lines)"), "\(note)")
        let rows = Self.output("rollup.csv", in: scratch)
        #expect(!rows.contains { $0.first == "30" }, "inactive Lille is not in current figures")
    }

    @Test func stockLinesBreakingTheRulesAreRejectedWithTheirRule() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRollup(by: "warehouse", in: scratch)
        let rejects = Self.issues("rejects.csv", in: scratch)
        let expected = readCSV(Self.golden("warehouse_rollup/expected_issues.csv")).dropFirst()
        #expect(rejects.count == expected.count)
        for record in expected {
            let (rule, key, source) = (record[1], record[2], record[3])
            let match = rejects.first { $0["source"] == source }
            #expect(match?["rule"] == rule, "\(source)")
            #expect(match?["message"]?.contains(key) == true, "\(source): \(match?["message"] ?? "")")
            #expect(match?["stage"] == "rollup")
        }
    }

    @Test func aProductWhoseLegacyQuantityDiffersFromItsStockLinesIsAFinding() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRollup(by: "product", in: scratch)
        let findings = Self.issues("findings.csv", in: scratch)
        #expect(findings.count == 1, "\(findings)")
        let stylo = try #require(findings.first)
        #expect(stylo["rule"] == "stock-legacy-quantity")
        #expect(stylo["source"] == "products.csv:2")
        #expect(stylo["message"]?.contains("30") == true)
        #expect(stylo["message"]?.contains("28") == true)
        #expect(stylo["row"]?.contains("code_prod=1;") == true)
        #expect(Self.stage("rollup", of: report)?.findings == 1)
    }

    @Test func aProductWithNoStockLinesHasZeroUnitsAndIsLowStock() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRollup(by: "product", in: scratch)
        let gomme = Self.output("rollup.csv", in: scratch).first { $0.first == "4" }
        #expect(gomme == ["4", "Gomme", "0", "0.00", "true"])
    }

    @Test(arguments: [
        // (setting, option, Paris low lines, Lyon low lines)
        (Int?.none, Int?.none, 0, 2), (9, nil, 0, 1), (nil, 13, 1, 2), (9, 13, 1, 2), (30, 0, 0, 0),
    ])
    func lowStockCountsUseTheThresholdOptionOverTheSetting(setting: Int?, option: Int?, paris: Int, lyon: Int) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRollup(by: "warehouse", settingThreshold: setting, optionThreshold: option, in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        let rows = Self.output("rollup.csv", in: scratch)
        #expect(rows.first { $0.first == "10" }?.last == String(paris))
        #expect(rows.first { $0.first == "20" }?.last == String(lyon))
    }

    @Test func lowStockByProductUsesTheThresholdOption() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRollup(by: "product", optionThreshold: 13, in: scratch)
        let low = Self.output("rollup.csv", in: scratch).dropFirst().filter { $0.last == "true" }.map { $0[0] }
        #expect(low == ["2", "4", "5"])  // Cahier 12, Gomme 0, Classeur 9 are under 13; Stylo 28 is not
    }

    /// DOMAIN.md "Low stock": per warehouse, products are counted, not stock lines. Cahier has two lines in
    /// Paris (4 + 8 = 12 units, not under 10) and Classeur two empty-ish ones in Lyon (0 + 3): Paris holds
    /// 2 products with 0 under the threshold, Lyon 2 products with 2 under it (Stylo 8, Classeur 3).
    @Test func productsUnderTheThresholdPerWarehouseCountProductsNotStockLines() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        Self.copyGolden("warehouse_rollup", ["products.csv", "warehouses.csv"], to: scratch)
        scratch.write("stock.csv", """
            id,produit_id,entrepot_id,quantite
            1,1,10,20
            2,2,10,4
            3,2,10,8
            4,1,20,8
            5,5,20,0
            6,5,20,3

            """)
        let report = try runPipeline(Self.rollupPipeline(by: "warehouse"), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        let rows = Self.output("rollup.csv", in: scratch)
        #expect(rows.first { $0.first == "10" } == ["10", "Paris", "2", "32", "90.20", "0"])
        #expect(rows.first { $0.first == "20" } == ["20", "Lyon", "2", "11", "32.60", "2"])
        Self.expectNothingLost(report)
    }
}
