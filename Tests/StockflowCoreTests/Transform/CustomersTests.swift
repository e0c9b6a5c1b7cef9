import Foundation
import Testing
@testable import StockflowCore

/// `customers` (DOMAIN rule 6): orders, revenue net of refunds and last order date per customer.
@Suite struct CustomersTests: GoldenSupport {
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
}
