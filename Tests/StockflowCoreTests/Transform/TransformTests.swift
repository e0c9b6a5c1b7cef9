import Foundation
import Testing
@testable import StockflowCore

/// The transforms run end to end (csv extract → transform → csv load) on the hand-written golden
/// data of fixtures/golden, whose README shows how every expected figure was computed.
@Suite struct TransformTests {
    // MARK: Helpers

    /// The text of a golden file.
    static func golden(_ path: String) -> String {
        let url = repositoryRoot.appendingPathComponent("fixtures/golden").appendingPathComponent(path)
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// Copies golden inputs into the scratch folder under their own names.
    static func copyGolden(_ folder: String, _ names: [String], to scratch: Scratch) {
        for name in names { scratch.write(name, golden("\(folder)/\(name)")) }
    }

    /// Records of an output CSV under `out/`, header first; empty when the file is missing.
    static func output(_ name: String, in scratch: Scratch) -> [[String]] {
        readCSV(scratch.read("out/\(name)") ?? "")
    }

    /// Rows of rejects.csv or findings.csv (header dropped), as dictionaries by column.
    static func issues(_ name: String, in scratch: Scratch) -> [[String: String]] {
        let records = output(name, in: scratch)
        guard let header = records.first else { return [] }
        return records.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    /// DOMAIN rule 8, for every stage of a run: rows in = rows out + rejected + filtered.
    static func expectNothingLost(_ report: RunReport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!report.stages.isEmpty, sourceLocation: sourceLocation)
        for stage in report.stages {
            #expect(stage.rowsIn == stage.rowsOut + stage.rowsRejected + stage.rowsFiltered,
                    "stage \(stage.id): in \(stage.rowsIn) ≠ out \(stage.rowsOut) + rejected \(stage.rowsRejected) + filtered \(stage.rowsFiltered)",
                    sourceLocation: sourceLocation)
            #expect(stage.filteredReasons.values.reduce(0, +) == stage.rowsFiltered,
                    "stage \(stage.id): every filtered row has a reason", sourceLocation: sourceLocation)
        }
    }

    static func stage(_ id: String, of report: RunReport) -> RunReport.StageReport? {
        report.stages.first { $0.id == id }
    }

    // MARK: order_totals (rules 1 and 2)

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

    // MARK: warehouse_rollup (rule 5)

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

    // MARK: filter, select, join, aggregate

    static let linesColumns = "{code_cmd: int, categorie_id: {type: int, nullable: true}, mois: text, quantite: int, montant: decimal}"

    /// A pipeline reading the golden lines (and categories, tags), running `stages`, writing `out` to out.csv.
    static func transformsPipeline(_ stages: String, output: String) -> String {
        """
        version: 1
        name: golden-transforms
        stages:
          lines:
            extract: csv
            path: lines.csv
            columns: \(linesColumns)
          categories:
            extract: csv
            path: categories.csv
            columns: {id: int, nom: text}
          tags:
            extract: csv
            path: tags.csv
            columns: {categorie_id: int, tag: text}
        \(stages)
          out:
            load: csv
            input: \(output)
            path: out.csv
        """
    }

    static func runTransforms(_ stages: String, output: String, in scratch: Scratch) throws -> RunReport {
        copyGolden("transforms", ["lines.csv", "categories.csv", "tags.csv"], to: scratch)
        let report = try runPipeline(transformsPipeline(stages, output: output), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        expectNothingLost(report)
        return report
    }

    @Test func filterKeepsMatchingRowsAndCountsTheOthersAsFilteredWithTheCondition() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          kept:
            transform: filter
            input: lines
            where: "quantite >= 2 and mois = '2026-11'"
        """, output: "kept", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_filter.csv")))
        let kept = try #require(Self.stage("kept", of: report))
        #expect((kept.rowsIn, kept.rowsOut, kept.rowsFiltered) == (7, 3, 4))
        #expect(kept.filteredReasons.keys.first?.contains("quantite >= 2") == true)
    }

    @Test func filterLeavesOutRowsWhoseConditionIsNull() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          kept:
            transform: filter
            input: lines
            where: "categorie_id < 2"
        """, output: "kept", in: scratch)
        let codes = Self.output("out.csv", in: scratch).dropFirst().map { $0[0] }
        #expect(codes == ["1", "3", "6"])  // line 4 has no category: the comparison is false
        #expect(Self.stage("kept", of: report)?.rowsFiltered == 4)
    }

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

    @Test func innerJoinCountsUnmatchedRowsAsFiltered() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: categories}
            on: {categorie_id: id}
            columns: [{categorie: nom}]
        """, output: "joined", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_inner_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered) == (7, 5, 2))
        #expect(joined.filteredReasons == ["no match in the right input": 2])
    }

    @Test func leftJoinKeepsUnmatchedRowsWithNulls() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: categories}
            on: {categorie_id: id}
            type: left
            columns: [{categorie: nom}]
        """, output: "joined", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_left_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered) == (7, 7, 0))
    }

    @Test func aRowMatchingSeveralRightRowsIsRepeatedOncePerMatch() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: tags}
            on: categorie_id
          picked:
            transform: select
            input: joined
            columns: [code_cmd, tag]
        """, output: "picked", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_tags_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered, joined.rowsEmitted) == (7, 5, 2, 8))
    }

    @Test func nullJoinKeysNeverMatch() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("left.csv", "code,cat\n1,\n2,5\n")
        scratch.write("right.csv", "id,nom\n,Sans catégorie\n5,Cinq\n")
        let report = try runPipeline("""
        version: 1
        name: null-keys
        stages:
          left:
            extract: csv
            path: left.csv
            columns: {code: int, cat: {type: int, nullable: true}}
          right:
            extract: csv
            path: right.csv
            columns: {id: {type: int, nullable: true}, nom: text}
          joined:
            transform: join
            inputs: {left: left, right: right}
            on: {cat: id}
          out:
            load: csv
            input: joined
            path: out.csv
        """, in: scratch)
        // Like SQL: an unknown key is not equal to another unknown key.
        #expect(Self.output("out.csv", in: scratch) == [["code", "cat", "nom"], ["2", "5", "Cinq"]])
        #expect(Self.stage("joined", of: report)?.rowsFiltered == 1)
        Self.expectNothingLost(report)
    }

    static let aggregateStages = """
      grouped:
        transform: aggregate
        input: lines
        group_by: [mois, categorie_id]
        measures:
          nb: count()
          qte: sum(quantite)
          ca: sum(montant)
          min_mt: min(montant)
          max_mt: max(montant)
          nb_cat: count(categorie_id)
          nb_cmd: count_distinct(code_cmd)
    """

    @Test func aggregateGroupsAreSortedByTheirKeysWithExactSums() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms(Self.aggregateStages, output: "grouped", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_aggregate.csv")))
        let grouped = try #require(Self.stage("grouped", of: report))
        #expect((grouped.rowsIn, grouped.rowsOut, grouped.rowsEmitted) == (7, 7, 6))
    }

    @Test func aggregateWithoutKeysGivesOneOverallRow() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms("""
          overall:
            transform: aggregate
            input: lines
            measures:
              nb: count()
              qte: sum(quantite)
              ca: sum(montant)
              min_mt: min(montant)
              max_mt: max(montant)
              nb_cat: count(categorie_id)
              nb_mois: count_distinct(mois)
        """, output: "overall", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_aggregate_overall.csv")))
    }

    @Test func theSumOverGroupsEqualsTheOverallSum() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms(Self.aggregateStages, output: "grouped", in: scratch)
        let groups = Self.output("out.csv", in: scratch).dropFirst()
        let revenue = try groups.reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[4])!) }
        let units = groups.reduce(Int64(0)) { $0 + Int64($1[3])! }
        let lines = readCSV(Self.golden("transforms/lines.csv")).dropFirst()
        let expectedRevenue = try lines.reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[4])!) }
        #expect(revenue == expectedRevenue)
        #expect(revenue == Money("38.58")!)
        #expect(units == 14)
    }

    @Test func aggregateOfNoRowsGivesOneRowOfZerosWithoutKeysAndNoRowWithKeys() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms("""
          none:
            transform: filter
            input: lines
            where: "quantite > 100"
          overall:
            transform: aggregate
            input: none
            measures: {nb: count(), ca: sum(montant)}
          grouped:
            transform: aggregate
            input: none
            group_by: [mois]
            measures: {nb: count()}
          grouped_out:
            load: csv
            input: grouped
            path: grouped.csv
        """, output: "overall", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == [["nb", "ca"], ["0", "0"]])
        #expect(Self.output("grouped.csv", in: scratch) == [["mois", "nb"]])
    }

    @Test func everyStageOfAChainedPipelineBalancesItsRows() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: categories}
            on: {categorie_id: id}
            columns: [{categorie: nom}]
          big:
            transform: filter
            input: joined
            where: "montant > 3"
          shaped:
            transform: select
            input: big
            columns: [categorie, montant]
          grouped:
            transform: aggregate
            input: shaped
            group_by: [categorie]
            measures: {ca: sum(montant)}
        """, output: "grouped", in: scratch)
        // Papeterie 5.00 + 7.50 (2.50 is not over 3), Cahiers 3.35 + 6.70.
        #expect(Self.output("out.csv", in: scratch) == [["categorie", "ca"], ["Cahiers", "10.05"], ["Papeterie", "12.50"]])
        #expect(report.stages.count == 8)
    }
}

/// A small deterministic generator (SplitMix64), so shuffled tests are reproducible.
extension TransformTests {
    @Test func aggregateGroupsSortAccentedTextWhereAReaderLooksForIt() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "categorie,montant\nQuincaillerie,1\nÉlectricité,2\ndroguerie,3\nJardin,4\nÉlectricité,5\n")
        let report = try runPipeline("""
        version: 1
        name: collation
        stages:
          rows: {extract: csv, path: in.csv, columns: {categorie: text, montant: int}}
          groups: {transform: aggregate, input: rows, group_by: [categorie], measures: {total: sum(montant)}}
          out: {load: csv, input: groups, path: out.csv}
        """, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(Self.output("out.csv", in: scratch) == [["categorie", "total"], ["droguerie", "3"], ["Électricité", "7"],
                                                        ["Jardin", "4"], ["Quincaillerie", "1"]])
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49EB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Stage options that would silently lose every row are refused when the pipeline is read.
@Suite struct TransformValidationTests {
    static let header = """
    version: 1
    name: t
    stages:
      left:
        extract: csv
        path: left.csv
        columns: {code: int, cat: int}
      right:
        extract: csv
        path: right.csv
        columns: {id: text, nom: text}

    """

    @Test func joinKeysOfDifferentTypesAreAnError() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.header + """
          joined:
            transform: join
            inputs: {left: left, right: right}
            on: {cat: id}
          out:
            load: csv
            input: joined
            path: out.csv
        """, in: scratch)
        let problem = try #require(problems.first { $0.message.contains("join key") })
        #expect(problem.message.contains("int"))
        #expect(problem.message.contains("text"))
        #expect(problem.position?.line == 15)
    }

    @Test(arguments: ["code", "code + 1", "cat * 2", "month(code)", "coalesce(cat, 0)"])
    func aFilterConditionThatIsNotTrueOrFalseIsAnError(condition: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.header + """
          kept:
            transform: filter
            input: left
            where: "\(condition)"
          out:
            load: csv
            input: kept
            path: out.csv
        """, in: scratch)
        #expect(problems.contains { $0.message.contains("must be a condition") && $0.position?.line == 15 }, "\(problems)")
    }
}
