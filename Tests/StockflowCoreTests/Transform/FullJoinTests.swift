import Foundation
import Testing
@testable import StockflowCore

/// `join` with `type: full`: rows of either side kept, unmatched right rows at the end in input
/// order with nulls on the left, counts reconciling.
@Suite struct FullJoinTests: GoldenSupport {
    static func runFullJoin(left: String, right: String, columns: String = "[{facture_id: id}, montant]",
                            in scratch: Scratch) throws -> RunReport {
        scratch.write("orders.csv", left)
        scratch.write("invoices.csv", right)
        return try runPipeline("""
        version: 1
        name: full-join
        stages:
          orders:
            extract: csv
            path: orders.csv
            columns: {code_cmd: {type: int, nullable: true}, quantite: int}
          invoices:
            extract: csv
            path: invoices.csv
            columns: {id: int, commande_id: {type: int, nullable: true}, montant: decimal}
          joined:
            transform: join
            inputs: {left: orders, right: invoices}
            on: {code_cmd: commande_id}
            type: full
            columns: \(columns)
          out:
            load: csv
            input: joined
            path: out.csv
        """, in: scratch)
    }

    @Test func keepsTheRowsOfBothSidesWithTheUnmatchedRightRowsLastInTheirOrder() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runFullJoin(
            left: "code_cmd,quantite\n1,3\n2,1\n3,5\n4,2\n",
            right: "id,commande_id,montant\n10,3,5.00\n11,9,7.50\n12,1,3.25\n13,8,1.00\n14,,2.00\n",
            in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("out.csv", in: scratch) == [
            ["code_cmd", "quantite", "facture_id", "montant"],
            ["1", "3", "12", "3.25"],
            ["2", "1", "", ""],
            ["3", "5", "10", "5.00"],
            ["4", "2", "", ""],
            // As SQL's FULL JOIN: right rows no order matched (a null key matches nothing), nulls on the left.
            ["", "", "11", "7.50"],
            ["", "", "13", "1.00"],
            ["", "", "14", "2.00"],
        ])
        let joined = try #require(Self.stage("joined", of: report))
        // 4 orders and the 3 invoices passing through come in; all 7 go out.
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered, joined.rowsEmitted) == (7, 7, 0, 7))
        Self.expectNothingLost(report)
    }

    @Test func aLeftRowMatchingSeveralRightRowsIsRepeatedInRightOrderAndTheyCountAsMatched() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runFullJoin(
            left: "code_cmd,quantite\n1,3\n2,1\n",
            right: "id,commande_id,montant\n10,2,5.00\n11,2,7.50\n12,2,3.25\n",
            in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("out.csv", in: scratch) == [
            ["code_cmd", "quantite", "facture_id", "montant"],
            ["1", "3", "", ""],
            ["2", "1", "10", "5.00"],
            ["2", "1", "11", "7.50"],
            ["2", "1", "12", "3.25"],
        ])
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsEmitted) == (2, 2, 4))
        Self.expectNothingLost(report)
    }

    @Test func nullLeftKeysAreKeptUnmatchedAndAnEmptyLeftSideEmitsEveryRightRow() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runFullJoin(
            left: "code_cmd,quantite\n,4\n",
            right: "id,commande_id,montant\n10,3,5.00\n11,,7.50\n",
            columns: "[{facture_id: id}, commande_id]", in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        #expect(Self.output("out.csv", in: scratch) == [
            ["code_cmd", "quantite", "facture_id", "commande_id"],
            ["", "4", "", ""],
            ["", "", "10", "3"],
            ["", "", "11", ""],
        ])
        Self.expectNothingLost(report)
    }

    @Test func anUnknownJoinTypeIsAPipelineErrorNamingTheChoices() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("orders.csv", "code_cmd,quantite\n1,3\n")
        scratch.write("invoices.csv", "id,commande_id,montant\n10,1,5.00\n")
        let file = scratch.write("pipeline.yml", """
        version: 1
        name: full-join
        stages:
          orders:
            extract: csv
            path: orders.csv
            columns: {code_cmd: int, quantite: int}
          invoices:
            extract: csv
            path: invoices.csv
            columns: {id: int, commande_id: int, montant: decimal}
          joined:
            transform: join
            inputs: {left: orders, right: invoices}
            on: {code_cmd: commande_id}
            type: outer
          out:
            load: csv
            input: joined
            path: out.csv
        """)
        #expect(throws: (any Error).self) { try Pipeline.load(path: file.path, environment: [:]) }
        do {
            _ = try Pipeline.load(path: file.path, environment: [:])
        } catch {
            #expect("\(error)".contains("full"), "\(error)")
            #expect("\(error)".contains("pipeline.yml:16"), "\(error)")
        }
    }
}
