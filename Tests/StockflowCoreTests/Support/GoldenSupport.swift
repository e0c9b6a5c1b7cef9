import Foundation
import Testing
@testable import StockflowCore

/// The golden-data helpers the transform suites share (fixtures/golden, whose README shows how every
/// expected figure was computed): a suite conforming to it calls them as `Self.output(...)`.
protocol GoldenSupport {}

/// The helpers for callers outside a golden suite: `Golden.golden("order_totals/expected.csv")`.
enum Golden: GoldenSupport {}

extension GoldenSupport {
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

    static var linesColumns: String { "{code_cmd: int, categorie_id: {type: int, nullable: true}, mois: text, quantite: int, montant: decimal}" }

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
        \(ReturnsTests.returnColumns)
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
}
