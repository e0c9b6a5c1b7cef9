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
}
