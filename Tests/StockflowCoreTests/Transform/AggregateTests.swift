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

    /// Groups kept flat (keys and accumulators one after the other, integer keys looked up without
    /// hashing a `Value`) against a plain dictionary: random integer keys (dense codes, sparse ids,
    /// negatives, nulls) in runs of the same key and scattered, one key column and two.
    @Test(arguments: [1, 2, 3])
    func groupsOfRandomIntegerKeysMatchADictionary(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)  // deterministic: a failure replays
        func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
        var csv = "k,t,m\n"
        var single: [Int64?: (count: Int, cents: Int, min: Int, max: Int)] = [:]
        var pairs: [String: Int] = [:]
        let labels = ["Jardin", "Électricité", "droguerie"]
        for _ in 0..<2_000 {
            let key: Int64? = switch below(8) {
            case 0...3: Int64(below(3000))
            case 4, 5: Int64(below(5_000_000))
            case 6: -Int64(below(100)) - 1
            default: nil
            }
            for _ in 0..<(1 + below(5)) {
                let cents = below(100_000)
                let label = labels[below(labels.count)]
                csv += "\(key.map(String.init) ?? ""),\(label),\(cents / 100).\(String(format: "%02d", cents % 100))\n"
                let known = single[key] ?? (0, 0, cents, cents)
                single[key] = (known.count + 1, known.cents + cents, Swift.min(known.min, cents), Swift.max(known.max, cents))
                pairs["\(key.map(String.init) ?? "")|\(label)", default: 0] += 1
            }
        }
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", csv)
        let report = try runPipeline("""
        version: 1
        name: flat-groups
        stages:
          rows: {extract: csv, path: in.csv, columns: {k: {type: int, nullable: true}, t: text, m: decimal}}
          by_key: {transform: aggregate, input: rows, group_by: [k], measures: {nb: count(), total: sum(m), low: min(m), high: max(m)}}
          by_pair: {transform: aggregate, input: rows, group_by: [k, t], measures: {nb: count()}}
          out: {load: csv, input: by_key, path: out.csv}
          pairs: {load: csv, input: by_pair, path: pairs.csv}
        """, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        func money(_ cents: Int) -> String { "\(cents / 100).\(String(format: "%02d", cents % 100))" }
        // Nulls first, then the integers in order.
        let expected = single.keys.sorted { ($0 ?? .min, $0 == nil ? 0 : 1) < ($1 ?? .min, $1 == nil ? 0 : 1) }.map { key in
            let group = single[key]!
            return [key.map(String.init) ?? "", "\(group.count)", money(group.cents), money(group.min), money(group.max)]
        }
        let output = Self.output("out.csv", in: scratch)
        #expect(output.first == ["k", "nb", "total", "low", "high"])
        #expect(Array(output.dropFirst()) == expected)
        let pairRows = Array(Self.output("pairs.csv", in: scratch).dropFirst())
        #expect(pairRows.count == pairs.count)
        #expect(Dictionary(pairRows.map { ("\($0[0])|\($0[1])", Int($0[2]) ?? -1) }, uniquingKeysWith: { _, _ in -1 }) == pairs)
        // Within a key, the labels in folded order: droguerie, Électricité, Jardin.
        let order = ["droguerie": 0, "Électricité": 1, "Jardin": 2]
        for (a, b) in zip(pairRows, pairRows.dropFirst()) where a[0] == b[0] {
            #expect((order[a[1]] ?? 9) < (order[b[1]] ?? 9), "\(a) before \(b)")
        }
        let byKey = try #require(Self.stage("by_key", of: report))
        #expect((byKey.rowsIn, byKey.rowsOut, byKey.rowsEmitted) == (pairs.values.reduce(0, +), pairs.values.reduce(0, +), single.count))
    }
}
