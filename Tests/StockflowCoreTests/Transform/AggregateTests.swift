import Foundation
import Testing
@testable import StockflowCore

/// `aggregate`: groups, exact sums, ordering, empty inputs.
@Suite struct AggregateTests: GoldenSupport {
    static let aggregateStages = """
      grouped:
        transform: aggregate
        input: lines
        group_by: [mois, categorie_id]
        measures:
          nb: count()
          qte: sum(quantite)
          ca: sum(montant)
          min_mt: min(montant)
          max_mt: max(montant)
          nb_cat: count(categorie_id)
          nb_cmd: count_distinct(code_cmd)
    """

    @Test func aggregateGroupsAreSortedByTheirKeysWithExactSums() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms(Self.aggregateStages, output: "grouped", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_aggregate.csv")))
        let grouped = try #require(Self.stage("grouped", of: report))
        #expect((grouped.rowsIn, grouped.rowsOut, grouped.rowsEmitted) == (7, 7, 6))
    }

    @Test func aggregateWithoutKeysGivesOneOverallRow() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms("""
          overall:
            transform: aggregate
            input: lines
            measures:
              nb: count()
              qte: sum(quantite)
              ca: sum(montant)
              min_mt: min(montant)
              max_mt: max(montant)
              nb_cat: count(categorie_id)
              nb_mois: count_distinct(mois)
        """, output: "overall", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_aggregate_overall.csv")))
    }

    @Test func theSumOverGroupsEqualsTheOverallSum() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms(Self.aggregateStages, output: "grouped", in: scratch)
        let groups = Self.output("out.csv", in: scratch).dropFirst()
        let revenue = try groups.reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[4])!) }
        let units = groups.reduce(Int64(0)) { $0 + Int64($1[3])! }
        let lines = readCSV(Self.golden("transforms/lines.csv")).dropFirst()
        let expectedRevenue = try lines.reduce(Money.zero(scale: 2)) { try $0.adding(Money($1[4])!) }
        #expect(revenue == expectedRevenue)
        #expect(revenue == Money("38.58")!)
        #expect(units == 14)
    }

    @Test func aggregateOfNoRowsGivesOneRowOfZerosWithoutKeysAndNoRowWithKeys() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        _ = try Self.runTransforms("""
          none:
            transform: filter
            input: lines
            where: "quantite > 100"
          overall:
            transform: aggregate
            input: none
            measures: {nb: count(), ca: sum(montant)}
          grouped:
            transform: aggregate
            input: none
            group_by: [mois]
            measures: {nb: count()}
          grouped_out:
            load: csv
            input: grouped
            path: grouped.csv
        """, output: "overall", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == [["nb", "ca"], ["0", "0"]])
        #expect(Self.output("grouped.csv", in: scratch) == [["mois", "nb"]])
    }

    @Test func aggregateGroupsSortAccentedTextWhereAReaderLooksForIt() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "categorie,montant\nQuincaillerie,1\nÉlectricité,2\ndroguerie,3\nJardin,4\nÉlectricité,5\n")
        let report = try runPipeline("""
        version: 1
        name: collation
        stages:
          rows: {extract: csv, path: in.csv, columns: {categorie: text, montant: int}}
          groups: {transform: aggregate, input: rows, group_by: [categorie], measures: {total: sum(montant)}}
          out: {load: csv, input: groups, path: out.csv}
        """, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(Self.output("out.csv", in: scratch) == [["categorie", "total"], ["droguerie", "3"], ["Électricité", "7"],
                                                        ["Jardin", "4"], ["Quincaillerie", "1"]])
    }
}
