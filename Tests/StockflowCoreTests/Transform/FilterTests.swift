import Foundation
import Testing
@testable import StockflowCore

/// `filter`: kept rows, and the others counted as filtered with their condition.
@Suite struct FilterTests: GoldenSupport {
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
}
