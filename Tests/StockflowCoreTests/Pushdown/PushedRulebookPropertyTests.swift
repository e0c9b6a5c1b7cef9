import Foundation
import PropertyBased
import Testing
@testable import StockflowCore

/// Random small tables in the private PostgreSQL server through the rulebook stages returns, invoices
/// and suppliers with `pushdown: off` and `pushdown: required`: the same rows in the same order, the
/// same rejects and findings (rules, messages, sources), the same counts.
@Suite(.serialized, .tags(.postgres)) struct PushedRulebookPropertyTests {
    /// One random return: its invoice (0: null, 4: unknown), quantity (-1: null), reason (an index in
    /// `reasons`) and refund in thousandths (-2: null, the default refund; -1: negative).
    struct ReturnSpec: Sendable, CustomStringConvertible {
        var invoice: Int, quantity: Int, reason: Int, refund: Int
        var description: String { "f\(invoice) q\(quantity) r\(reason) m\(refund)" }
    }

    static let reasons = ["'defaut'", "'insatisfaction'", "'rupture'", "'autre'", "NULL", "'Defaut'"]
    static let returnGen = zip(Gen.int(in: 0...4), Gen.int(in: -1...4), Gen.int(in: 0...7), Gen.int(in: -2...9_000))
        .map { ReturnSpec(invoice: $0.0, quantity: $0.1, reason: $0.2 % reasons.count, refund: $0.3) }

    /// Invoices: 1 for 3 units at a half-cent price, 2 for 1 unit, 3 with no order (unknown), a
    /// null-keyed one for 2 units (the returns without an invoice meet it); returns checked in order,
    /// a rejected one adding nothing to its invoice.
    static let invoices = """
        CREATE TABLE factures (id bigint, quantite_cmd int, prix_unit numeric(7,3));
        INSERT INTO factures VALUES (1, 3, 2.125), (2, 1, 0.335), (3, NULL, 4.5), (NULL, 2, 1.005);
        """

    static func returnsPipeline(_ mode: PushdownMode) -> String {
        """
        version: 1
        name: returns-property
        settings: {pushdown: \(mode.rawValue), timezone: Europe/Paris}
        stages:
          raw:
            extract: postgres
            connection: "${PG}"
            query: "SELECT r.id, r.facture_id, r.quantite, r.raison, r.montant_remboursement, f.quantite_cmd, f.prix_unit FROM retours r LEFT JOIN factures f ON f.id = r.facture_id OR (f.id IS NULL AND r.facture_id IS NULL) ORDER BY r.id"
          valid: {transform: returns, input: raw}
          by_invoice: {transform: aggregate, input: valid, group_by: [facture_id], measures: {n: count(), units: sum(quantite), refunds: sum(montant_remboursement), restocked: sum(unites_restockees), lost: sum(unites_perdues)}}
          valid_out: {load: csv, input: valid, path: valid.csv}
          by_invoice_out: {load: csv, input: by_invoice, path: by_invoice.csv}
        """
    }

    static func fillReturns(_ db: PostgresConnection, _ returns: [ReturnSpec]) throws {
        let values = returns.enumerated().map { index, spec in
            let refund = spec.refund == -2 ? "NULL" : spec.refund == -1 ? "-0.005" : Money(units: Int64(spec.refund), scale: 3).description
            return "(\(index + 1), \(spec.invoice == 0 ? "NULL" : "\(spec.invoice)"), \(spec.quantity < 0 ? "NULL" : "\(spec.quantity)"), \(reasons[spec.reason]), \(refund))"
        }
        try db.execute("DROP TABLE IF EXISTS retours; CREATE TABLE retours (id int, facture_id bigint, quantite int, raison text, montant_remboursement numeric(9,3))")
        if !values.isEmpty { try db.execute("INSERT INTO retours VALUES " + values.joined(separator: ", ")) }
    }

    @Test func pushedReturnsAcceptsAndRejectsWhatInProcessReturnsDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute(Self.invoices)
        await propertyCheck(count: 30, input: Self.returnGen.array(of: 0...24)) { returns in
            try Self.fillReturns(db, returns)
            let outputs = try PushdownPropertyTests.bothWays(Self.returnsPipeline, url: target.url, files: ["valid.csv", "by_invoice.csv", "rejects.csv"])
            #expect(!outputs[0].contains { $0.hasPrefix("(missing") })
            #expect(outputs[1] == outputs[0])
        }
    }

    /// A return too large for its invoice is rejected and the smaller one after it still passes
    /// (a running sum of every earlier return would reject both); every rule acts once.
    @Test func aRejectedReturnAddsNothingToItsInvoice() throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute(Self.invoices)
        try Self.fillReturns(db, [
            ReturnSpec(invoice: 1, quantity: 2, reason: 0, refund: -2), ReturnSpec(invoice: 1, quantity: 2, reason: 1, refund: -2),
            ReturnSpec(invoice: 1, quantity: 1, reason: 2, refund: 9_000), ReturnSpec(invoice: 1, quantity: 1, reason: 2, refund: 1_005),
            ReturnSpec(invoice: 4, quantity: 1, reason: 0, refund: -2), ReturnSpec(invoice: 2, quantity: 0, reason: 0, refund: -2),
            ReturnSpec(invoice: 2, quantity: 1, reason: 3, refund: -2), ReturnSpec(invoice: 2, quantity: 1, reason: 0, refund: -1),
        ])
        let outputs = try PushdownPropertyTests.bothWays(Self.returnsPipeline, url: target.url, files: ["valid.csv", "rejects.csv"])
        #expect(outputs[1] == outputs[0])
        let rejects = outputs[1].last ?? ""
        for rule in ["return-over-quantity", "return-over-refund", "return-unknown-invoice", "return-quantity", "return-reason", "return-refund-negative"] {
            #expect(rejects.contains(",\(rule),"), "\(rule)")
        }
        // Returns 1 and 4 pass (4.25 for 2 units by default, then 1.01 of the 6.38 gross, half away from zero).
        let valid = outputs[1][outputs[1].count - 2]
        #expect(valid.split(whereSeparator: \.isNewline).count == 3, "\(valid)")
        #expect(valid.contains("1.01"), "\(valid)")
    }

    /// One random order with its invoice: the order (false: an invoice without an order), its product
    /// (0: null, 5: unknown), quantity (-1: null), invoice (false: none, generated), the stored total off
    /// the gross by `off` cents (-1: null) and its instant (around midnight in Paris, across the end of
    /// summer time: the month of a generated invoice is its order's).
    struct InvoiceSpec: Sendable, CustomStringConvertible {
        var order: Bool, product: Int, quantity: Int, invoice: Bool, off: Int, minutes: Int
        var description: String { "o\(order) p\(product) q\(quantity) f\(invoice) off\(off) m\(minutes)" }
    }

    static let invoiceGen = zip(Gen.int(in: 0...9), Gen.int(in: 0...5), Gen.int(in: -1...4), Gen.int(in: 0...4), Gen.int(in: -1...3),
                                Gen.int(in: 0...3_000))
        .map { InvoiceSpec(order: $0.0 > 0, product: $0.1, quantity: $0.2, invoice: $0.3 > 0, off: $0.4, minutes: $0.5) }

    static func invoicesPipeline(_ mode: PushdownMode) -> String {
        """
        version: 1
        name: invoices-property
        settings: {pushdown: \(mode.rawValue), timezone: Europe/Paris}
        stages:
          orders: {extract: postgres, connection: "${PG}", query: "SELECT code_cmd, produit_id, client_id, quantite_cmd, date_commande, facture_id, montant_total, date_facture FROM commandes ORDER BY id"}
          products: {extract: postgres, connection: "${PG}", table: produits}
          raw:
            extract: postgres
            connection: "${PG}"
            query: "SELECT r.id, r.facture_id, r.quantite, r.raison, r.montant_remboursement, f.quantite_cmd, f.prix_unit FROM retours r LEFT JOIN factures f ON f.id = r.facture_id OR (f.id IS NULL AND r.facture_id IS NULL) ORDER BY r.id"
          valid: {transform: returns, input: raw}
          invoiced: {transform: invoices, inputs: {orders: orders, products: products, returns: valid}}
          months: {transform: select, input: invoiced, columns: [{mois: "month(date_facture)"}, facture_generee, brut, net]}
          by_month: {transform: aggregate, input: months, group_by: [mois], measures: {n: count(), generated: count_true(facture_generee), brut: sum(brut), net: sum(net)}}
          invoiced_out: {load: csv, input: invoiced, path: invoiced.csv}
          by_month_out: {load: csv, input: by_month, path: by_month.csv}
        """
    }

    @Test func pushedInvoicesGivesWhatInProcessInvoicesDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // Product 3 twice (the last row wins), a missing price, half cents, a null-keyed product (which
        // the orders without a product meet); the returns' invoices are 1 to 4 (the orders' invoice ids).
        try db.execute(Self.invoices + """
            CREATE TABLE produits (code_prod bigint, nom_prod text, prix_unit numeric(7,3));
            INSERT INTO produits VALUES (1, 'Stylo', 2.125), (2, 'Gomme', -0.335), (3, 'Agrafe', 0.333), (4, 'Vide', NULL),
                                        (3, 'Agrafe bis', 1.005), (NULL, 'Sans code', 7.5);
            """)
        await propertyCheck(count: 25, input: Self.invoiceGen.array(of: 0...16), Self.returnGen.array(of: 0...8)) { orders, returns in
            try Self.fillReturns(db, returns)
            let values = orders.enumerated().map { index, spec in
                let product = spec.product == 0 ? "NULL" : "\(spec.product)"
                let at = "timestamptz '2026-10-24 21:00:00+00' + interval '\(spec.minutes) minutes'"
                let stored = spec.off < 0 ? "NULL" : "round(coalesce((SELECT prix_unit FROM produits WHERE code_prod = \(spec.product) LIMIT 1), 1) * \(max(spec.quantity, 0)), 2) + \(spec.off) * 0.01 - 0.01"
                let invoice = spec.invoice ? "\(index % 5 + 1), \(stored), \(at) + interval '\(spec.minutes % 7) hours'" : "NULL, NULL, NULL"
                let order = spec.order ? "\(index + 1), \(product), \(index % 3), \(spec.quantity < 0 ? "NULL" : "\(spec.quantity)"), \(at)"
                    : "NULL, NULL, NULL, NULL, NULL"
                return "(\(index + 1), \(order), \(invoice))"
            }
            try db.execute("DROP TABLE IF EXISTS commandes; CREATE TABLE commandes (id int, code_cmd int, produit_id bigint, client_id int, quantite_cmd int, date_commande timestamptz, facture_id bigint, montant_total numeric(10,2), date_facture timestamptz)")
            if !values.isEmpty { try db.execute("INSERT INTO commandes VALUES " + values.joined(separator: ", ")) }
            let outputs = try PushdownPropertyTests.bothWays(Self.invoicesPipeline, url: target.url, files: ["invoiced.csv", "by_month.csv", "rejects.csv", "findings.csv"])
            #expect(!outputs[0].contains { $0.hasPrefix("(missing") })
            #expect(outputs[1] == outputs[0])
        }
    }

    /// One random sale or stock line for suppliers: its product (0: null, 6: unknown) and amount in
    /// thousandths (-1: null; some negative), so that shares divide with remainders and half units.
    struct FigureSpec: Sendable, CustomStringConvertible {
        var stock: Bool, product: Int, amount: Int
        var description: String { "\(stock ? "s" : "v") p\(product) a\(amount)" }
    }

    static let figureGen = zip(Gen.int(in: 0...1), Gen.int(in: 0...6), Gen.int(in: -1_001...50_000))
        .map { FigureSpec(stock: $0.0 == 1, product: $0.1, amount: $0.2 < -1_000 ? -1 : $0.2) }

    @Test func pushedSuppliersGivesWhatInProcessSuppliersDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // Product 3 twice (the last row wins: another supplier), 4 with no supplier, 5 with a supplier no
        // row names; supplier 2 twice (two rows, the first name), a null-keyed supplier in some runs.
        try db.execute("""
            CREATE TABLE produits (code_prod bigint, fournisseur_id bigint);
            INSERT INTO produits VALUES (1, 1), (2, 2), (3, 1), (4, NULL), (3, 2), (5, 9), (NULL, 1);
            CREATE TABLE fournisseurs (id bigint, nom text);
            INSERT INTO fournisseurs VALUES (2, 'Martin'), (1, 'Électro'), (2, 'Martin bis'), (3, 'Sans produit');
            """)
        let yaml = { (mode: PushdownMode) in
            """
            version: 1
            name: suppliers-property
            settings: {pushdown: \(mode.rawValue)}
            stages:
              sales: {extract: postgres, connection: "${PG}", query: "SELECT code_prod, net FROM figures WHERE NOT stock ORDER BY id"}
              stock: {extract: postgres, connection: "${PG}", query: "SELECT code_prod, valeur FROM figures WHERE stock ORDER BY id"}
              products: {extract: postgres, connection: "${PG}", table: produits}
              suppliers: {extract: postgres, connection: "${PG}", table: fournisseurs}
              shares: {transform: suppliers, inputs: {sales: sales, stock: stock, products: products, suppliers: suppliers}}
              out: {load: csv, input: shares, path: shares.csv}
            """
        }
        await propertyCheck(count: 30, input: Self.figureGen.array(of: 0...16), Gen.int(in: 0...1)) { figures, nullSupplier in
            let values = figures.enumerated().map { index, spec in
                let amount = spec.amount == -1 ? "NULL" : Money(units: Int64(spec.amount - 1_000), scale: 3).description
                return "(\(index + 1), \(spec.stock), \(spec.product == 0 ? "NULL" : "\(spec.product)"), \(amount), \(amount))"
            }
            try db.execute("DROP TABLE IF EXISTS figures; CREATE TABLE figures (id int, stock boolean, code_prod bigint, net numeric(9,3), valeur numeric(9,3)); DELETE FROM fournisseurs WHERE id IS NULL")
            if nullSupplier == 1 { try db.execute("INSERT INTO fournisseurs VALUES (NULL, 'Comptoir')") }
            if !values.isEmpty { try db.execute("INSERT INTO figures VALUES " + values.joined(separator: ", ")) }
            let outputs = try PushdownPropertyTests.bothWays(yaml, url: target.url, files: ["shares.csv"])
            #expect(!outputs[0].contains { $0.hasPrefix("(missing") })
            #expect(outputs[1] == outputs[0])
        }
    }
}
