import Foundation
import Testing
@testable import StockflowCore

/// `suppliers` (DOMAIN rule 6): shares of stock value and of revenue.
@Suite struct SuppliersTests: GoldenSupport {
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
        scratch.write("returns.csv", ReturnsTests.returnsHeader + "\n")
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
}
