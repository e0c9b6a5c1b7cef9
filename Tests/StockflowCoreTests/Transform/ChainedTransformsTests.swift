import Foundation
import Testing
@testable import StockflowCore

/// Several transforms chained in one pipeline, each balancing its rows (DOMAIN rule 8).
@Suite struct ChainedTransformsTests: GoldenSupport {
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
