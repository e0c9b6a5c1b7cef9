import Foundation
import PropertyBased
import Testing
@testable import StockflowCore

/// Invariants of the rulebook (DOMAIN.md rules 3, 4, 6, 7 and 8) checked on small random books of
/// orders, invoices and returns, run through the real returns → invoices → customers, trends and
/// suppliers pipeline of `GoldenSupport.rulebookPipeline`.
@Suite struct PropertyTests {

    /// One random order: which product and customer, how many units, whether it has an invoice and
    /// how far its stored total is off, and when it was placed.
    struct OrderSpec: Sendable, CustomStringConvertible {
        /// Index in `products` (the last one is a product that does not exist).
        var product: Int
        /// 0: no customer; 1...3: known customers; 4: a customer missing from the customers table.
        var customer: Int
        /// 0 breaks rule 2.
        var quantity: Int
        /// 0: no invoice (one is generated); otherwise the stored total is off by `storedOff - 3` cents.
        var storedOff: Int
        /// Days after 2026-10-20 (crosses the end of summer time and the new year).
        var day: Int
        var minute: Int
        var description: String { "p\(product) c\(customer) q\(quantity) inv\(storedOff) d\(day) m\(minute)" }
    }

    /// One random return: against which order, how many units, why, and its refund.
    struct ReturnSpec: Sendable, CustomStringConvertible {
        /// Index of the order (modulo the order count); 20 and over: an unknown invoice.
        var target: Int
        /// 0 breaks rule 4.
        var quantity: Int
        /// Index in `reasons` (the last one is not a valid reason).
        var reason: Int
        /// -2: a negative refund; -1: no refund (the default applies); otherwise cents.
        var refund: Int
        var description: String { "o\(target) q\(quantity) r\(reason) €\(refund)" }
    }

    static let products: [(code: Int, price: String)] = [(1, "2.50"), (2, "3.35"), (3, "12.99"), (4, "0.125"), (9, "")]
    static let reasons = ["defaut", "insatisfaction", "rupture", "perdu"]
    static let customers = ["", "1", "2", "3", "8"]

    static let orderGen = zip(Gen.int(in: 0...4), Gen.int(in: 0...4), Gen.int(in: 0...4), Gen.int(in: 0...6),
                              Gen.int(in: 0...90), Gen.int(in: 0...1439))
        .map { OrderSpec(product: $0.0, customer: $0.1, quantity: $0.2, storedOff: $0.3, day: $0.4, minute: $0.5) }
    static let returnGen = zip(Gen.int(in: 0...21), Gen.int(in: 0...3), Gen.int(in: 0...3), Gen.int(in: -2...1500))
        .map { ReturnSpec(target: $0.0, quantity: $0.1, reason: $0.2, refund: $0.3) }

    /// The CSV inputs of the rulebook pipeline for a random book, in the given order of orders.
    struct Book {
        var orders: [String] = []
        var returns: [String] = []
        var orderCount = 0

        init(orders specs: [OrderSpec], returns: [ReturnSpec], orphans: Int) {
            let start = CivilDate(year: 2026, month: 10, day: 20)!
            var invoices: [Int: (id: Int, quantity: Int, price: String)] = [:]
            for (index, spec) in specs.enumerated() {
                let product = PropertyTests.products[spec.product]
                let date = CivilDate(days: start.days + Int32(spec.day))
                let stamp = "\(date) \(pad(spec.minute / 60, 2)):\(pad(spec.minute % 60, 2)):00"
                var invoice = ",,"
                if spec.storedOff > 0 {
                    let id = 5000 + index
                    let gross = Money(product.price).map { (try? $0.multiplied(by: Money(Int64(spec.quantity))))?.rounded(to: 2) } ?? nil
                    let stored = gross.flatMap { try? $0.adding(Money(units: Int64(spec.storedOff - 3), scale: 2)) }
                    invoice = "\(id),\(stored?.description ?? "1.00"),\(stamp)"
                    invoices[index] = (id, spec.quantity, product.price)
                }
                orders.append("\(1000 + index),\(product.code),\(PropertyTests.customers[spec.customer]),\(spec.quantity),\(stamp),\(invoice)")
            }
            for orphan in 0..<orphans { orders.append(",,,,,\(6000 + orphan),9.99,2026-11-15 10:00:00") }
            orderCount = orders.count
            for (index, spec) in returns.enumerated() {
                var against = "999,,"
                if spec.target < 20, !specs.isEmpty, let invoice = invoices[spec.target % specs.count] {
                    // Like the LEFT JOIN of monthly-finance: an unknown product leaves the price null.
                    against = "\(invoice.id),\(invoice.quantity),\(invoice.price)"
                }
                let parts = against.split(separator: ",", omittingEmptySubsequences: false)
                let refund = spec.refund == -2 ? "-0.50" : spec.refund == -1 ? "" : Money(units: Int64(spec.refund), scale: 2).description
                self.returns.append("\(index + 1),\(parts[0]),\(spec.quantity),\(PropertyTests.reasons[spec.reason]),2026-12-01,\(refund),\(parts[1]),\(parts[2])")
            }
        }

        /// Writes every input of the pipeline, the orders and lookups in a shuffled order when `seed` is given.
        func write(to scratch: Scratch, shuffledWith seed: UInt64? = nil) {
            var generator = SeededGenerator(seed: seed ?? 0)
            func lines(_ header: String, _ rows: [String]) -> String {
                let ordered = seed == nil ? rows : rows.shuffled(using: &generator)
                return ([header] + ordered).joined(separator: "\n") + "\n"
            }
            scratch.write("orders.csv", lines("code_cmd,produit_id,client_id,quantite_cmd,date_commande,facture_id,montant_total,date_facture", orders))
            // Returns are checked in input order by rule (the first ones use up the invoice): never shuffled.
            scratch.write("returns.csv", ([ReturnsTests.returnsHeader] + returns).joined(separator: "\n") + "\n")
            scratch.write("products.csv", lines("code_prod,nom_prod,prix_unit,fournisseur_id",
                                                ["1,Stylo,2.50,1", "2,Cahier,3.35,1", "3,Agrafeuse,12.99,2", "4,Gomme,0.125,"]))
            scratch.write("customers.csv", lines("code_client,nom_client,is_actif", ["1,Dupont,true", "2,Martin,true", "3,Durand,false", "4,Petit,true"]))
            scratch.write("suppliers.csv", lines("id,nom", ["1,Papeterie Durand", "2,Bureau Pro", "3,Vide SARL"]))
            scratch.write("stock.csv", lines("code_prod,valeur", ["1,50.00", "2,30.00", "3,75.00", "4,5.00"]))
        }
    }

    /// Every output of one run, read back.
    struct Outputs: Equatable {
        var returns: [[String]], invoices: [[String]], customers: [[String]], suppliers: [[String]]
        var months: [[String]], weeks: [[String]], days: [[String]], rejects: [String], findings: [String]

        init(_ scratch: Scratch) {
            /// The header, then the rows in a fixed order.
            func sorted(_ rows: [[String]]) -> [[String]] {
                Array(rows.prefix(1)) + rows.dropFirst().sorted { $0.lexicographicallyPrecedes($1) }
            }
            func issues(_ name: String) -> [String] {
                Golden.issues(name, in: scratch).map { "\($0["stage"] ?? "") \($0["rule"] ?? "") \($0["row"] ?? "")" }.sorted()
            }
            returns = Golden.output("returns.csv", in: scratch)
            invoices = sorted(Golden.output("invoices.csv", in: scratch))
            customers = Golden.output("customers.csv", in: scratch)
            suppliers = sorted(Golden.output("suppliers.csv", in: scratch))
            months = Golden.output("by_month.csv", in: scratch)
            weeks = Golden.output("by_week.csv", in: scratch)
            days = Golden.output("by_day.csv", in: scratch)
            rejects = issues("rejects.csv")
            findings = issues("findings.csv")
        }
    }

    static func run(_ book: Book, shuffledWith seed: UInt64? = nil) throws -> (RunReport, Outputs) {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        book.write(to: scratch, shuffledWith: seed)
        let report = try runPipeline(Golden.rulebookPipeline(), in: scratch)
        return (report, Outputs(scratch))
    }

    static func sum(_ rows: [[String]], _ column: Int) -> Money {
        rows.dropFirst().reduce(Money.zero(scale: 2)) { (try? $0.adding(Money($1[column]) ?? Money.zero())) ?? $0 }
    }

    static func count(_ rows: [[String]], _ column: Int) -> Int {
        rows.dropFirst().reduce(0) { $0 + (Int($1[column]) ?? 0) }
    }

    @Test func everyStageBalancesItsRows() async {
        await propertyCheck(count: 40, input: Self.orderGen.array(of: 0...12), Self.returnGen.array(of: 0...10), Gen.int(in: 0...2)) { orders, returns, orphans in
            let book = Book(orders: orders, returns: returns, orphans: orphans)
            let (report, _) = try Self.run(book)
            #expect(report.status == "succeeded", "\(report.error ?? "")")
            Golden.expectNothingLost(report)
            #expect(Golden.stage("invoiced", of: report)?.rowsIn == book.orderCount)
            #expect(Golden.stage("valid_returns", of: report)?.rowsIn == book.returns.count)
            // The rejects file holds exactly the rejected rows of every stage.
            #expect(report.rejects == report.stages.reduce(0) { $0 + $1.rowsRejected })
        }
    }

    @Test func refundsNeverExceedGrossAndNetIsGrossMinusRefundsToTheCent() async {
        await propertyCheck(count: 40, input: Self.orderGen.array(of: 1...12), Self.returnGen.array(of: 0...15)) { orders, returns in
            let (_, out) = try Self.run(Book(orders: orders, returns: returns, orphans: 0))
            // Per valid return line: units and refunds summed per invoice.
            var units: [String: Int] = [:], refunds: [String: Money] = [:]
            for row in out.returns.dropFirst() {
                units[row[1], default: 0] += Int(row[2])!
                refunds[row[1]] = try (refunds[row[1]] ?? Money.zero(scale: 2)).adding(Money(row[5])!)
                #expect(Money(row[5])! >= Money.zero(), "refund of return \(row[0])")
                #expect(Int(row[2])! >= 1, "quantity of return \(row[0])")
                #expect(units[row[1]]! <= Int(row[6])!, "returned units of invoice \(row[1])")
            }
            for row in out.invoices.dropFirst() {
                let (quantity, price) = (Money(Int64(row[7])!), Money(row[8])!)
                let (gross, refunded, net) = (Money(row[9])!, Money(row[10])!, Money(row[11])!)
                #expect(try price.multiplied(by: quantity).rounded(to: 2) == gross, "gross of order \(row[0])")
                #expect(refunded <= gross, "refunds of order \(row[0])")
                #expect(refunded >= Money.zero(), "refunds of order \(row[0])")
                #expect(try gross.subtracting(refunded) == net, "net of order \(row[0])")
                #expect(refunded == (refunds[row[4]] ?? Money.zero(scale: 2)), "refunds of invoice \(row[4]) are its valid returns'")
                #expect(net.scale == 2 && gross.scale == 2 && refunded.scale == 2, "order \(row[0]) is to the cent")
            }
            #expect(try Self.sum(out.invoices, 9).subtracting(Self.sum(out.invoices, 10)) == Self.sum(out.invoices, 11))
        }
    }

    @Test func theSumOverGroupsEqualsTheOverallSum() async {
        await propertyCheck(count: 40, input: Self.orderGen.array(of: 0...12), Self.returnGen.array(of: 0...10)) { orders, returns in
            let (_, out) = try Self.run(Book(orders: orders, returns: returns, orphans: 1))
            let net = Self.sum(out.invoices, 11)
            let invoices = out.invoices.count - 1
            #expect(Self.sum(out.customers, 4) == net, "customers")
            #expect(Self.count(out.customers, 3) == invoices, "customers' orders")
            for (name, rows) in [("months", out.months), ("weeks", out.weeks), ("days", out.days)] {
                #expect(Self.sum(rows, 2) == net, "\(name)")
                #expect(Self.count(rows, 1) == invoices, "\(name)' orders")
            }
            #expect(Self.sum(out.suppliers, 4) == net, "suppliers' revenue")
            #expect(Self.sum(out.suppliers, 2) == Money("160.00")!, "suppliers' stock value")
            // Every customer of the customers table is listed, with or without orders.
            #expect(Set(out.customers.dropFirst().map { $0[0] }).isSuperset(of: ["1", "2", "3", "4"]))
        }
    }

    @Test func resultsDoNotDependOnTheOrderOfTheInputs() async {
        await propertyCheck(count: 30, input: Self.orderGen.array(of: 0...12), Self.returnGen.array(of: 0...10),
                            Gen.uint64(in: 1...UInt64.max)) { orders, returns, seed in
            let book = Book(orders: orders, returns: returns, orphans: 1)
            let (_, original) = try Self.run(book)
            let (report, shuffled) = try Self.run(book, shuffledWith: seed)
            #expect(report.status == "succeeded", "\(report.error ?? "")")
            #expect(shuffled == original)
        }
    }
}
