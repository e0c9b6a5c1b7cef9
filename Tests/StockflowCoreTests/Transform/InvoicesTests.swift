import Foundation
import Testing
@testable import StockflowCore

/// `invoices` (DOMAIN rule 3): one per order, generated ones, gross, refunds and net, on the golden data.
@Suite struct InvoicesTests: GoldenSupport {
    @Test func invoicesMatchTheHandComputedGoldenFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runRulebook(in: scratch)
        #expect(Golden.output("invoices.csv", in: scratch) == readCSV(Golden.golden("invoices/expected.csv")))
        let invoiced = try #require(Golden.stage("invoiced", of: report))
        #expect((invoiced.rowsIn, invoiced.rowsOut, invoiced.rowsRejected, invoiced.rowsFiltered, invoiced.findings) == (11, 8, 3, 0, 2))
        let returns = try #require(Golden.stage("valid_returns", of: report))
        #expect((returns.rowsIn, returns.rowsOut, returns.rowsRejected) == (6, 4, 2))
    }

    @Test func invoiceRejectsAndFindingsNameTheirRuleAndSourceLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let expected = readCSV(Golden.golden("invoices/expected_issues.csv")).dropFirst()
        for file in ["rejects", "findings"] {
            let rows = Golden.issues("\(file).csv", in: scratch)
            let wanted = expected.filter { $0[0] == file }
            #expect(rows.count == wanted.count, "\(file): \(rows)")
            for record in wanted {
                let (stage, rule, source) = (record[1], record[2], record[3])
                let match = rows.first { $0["source"] == source }
                #expect(match?["rule"] == rule, "\(file) at \(source)")
                #expect(match?["stage"] == stage, "\(file) at \(source)")
            }
        }
    }

    @Test func exactlyOneInvoicePerValidOrder() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let orders = Golden.output("invoices.csv", in: scratch).dropFirst().map { $0[0] }
        #expect(orders == ["201", "202", "203", "204", "205", "208", "209", "210"])
    }

    @Test func anOrderWithoutAnInvoiceGetsAGeneratedOneDatedOnTheOrderAndListed() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let row = Golden.output("invoices.csv", in: scratch).first { $0.first == "205" }
        #expect(row == ["205", "1", "", "2026-11-04T10:00:00Z", "", "2026-11-04T10:00:00Z", "true", "2", "2.50", "5.00", "0.00", "5.00"])
        let finding = try #require(Golden.issues("findings.csv", in: scratch).first { $0["rule"] == "invoice-generated" })
        #expect(finding["message"]?.contains("order 205") == true, "\(finding)")
        #expect(finding["message"]?.contains("5.00") == true, "\(finding)")
        #expect(Golden.output("invoices.csv", in: scratch).dropFirst().filter { $0[6] == "true" }.count == 1)
    }

    @Test func anInvoiceWithoutAnOrderIsRejected() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let reject = try #require(Golden.issues("rejects.csv", in: scratch).first { $0["rule"] == "invoice-without-order" })
        #expect(reject["message"]?.contains("508") == true)
        #expect(!Golden.output("invoices.csv", in: scratch).contains { $0.count > 4 && $0[4] == "508" })
    }

    @Test func aStoredInvoiceTotalOffByMoreThanACentIsAFindingAndTheGrossIsUsed() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let findings = Golden.issues("findings.csv", in: scratch).filter { $0["rule"] == "invoice-total-mismatch" }
        // 503 stores 12.00 for 1 × 12.99; 509 (10.05) and 511 (3.35) match, 510 stores 2.51 for 2.50 (one cent).
        #expect(findings.count == 1, "\(findings)")
        let message = findings.first?["message"] ?? ""
        #expect(message.contains("12.00") && message.contains("1 × 12.99 = 12.99"), "\(message)")
        #expect(Golden.output("invoices.csv", in: scratch).first { $0.first == "203" }?[9] == "12.99")
    }

    @Test func refundsOfRejectedReturnsAreNotSubtracted() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        let rows = Golden.output("invoices.csv", in: scratch)
        // 502: return 3 (3.35) kept, return 4 (5 units of 2) rejected; 503: return 5 (20.00 > 12.99) rejected.
        #expect(rows.first { $0.first == "202" }?.suffix(3) == ["6.70", "3.35", "3.35"])
        #expect(rows.first { $0.first == "203" }?.suffix(3) == ["12.99", "0.00", "12.99"])
    }

    @Test func netIsGrossMinusRefundsToTheCent() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runRulebook(in: scratch)
        for row in Golden.output("invoices.csv", in: scratch).dropFirst() {
            let (gross, refunds, net) = (Money(row[9])!, Money(row[10])!, Money(row[11])!)
            #expect(try gross.subtracting(refunds) == net, "order \(row[0])")
            #expect(refunds <= gross, "order \(row[0])")
        }
        #expect(try Self.total("invoices.csv", column: 9, in: scratch) == Money("53.47")!)
        #expect(try Self.total("invoices.csv", column: 10, in: scratch) == Money("14.20")!)
        #expect(try Self.total("invoices.csv", column: 11, in: scratch) == Money("39.27")!)
    }
}
