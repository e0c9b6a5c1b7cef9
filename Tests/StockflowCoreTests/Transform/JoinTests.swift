import Foundation
import Testing
@testable import StockflowCore

/// `join`: inner and left joins, repeated matches, null keys.
@Suite struct JoinTests: GoldenSupport {
    @Test func innerJoinCountsUnmatchedRowsAsFiltered() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: categories}
            on: {categorie_id: id}
            columns: [{categorie: nom}]
        """, output: "joined", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_inner_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered) == (7, 5, 2))
        #expect(joined.filteredReasons == ["no match in the right input": 2])
    }

    @Test func leftJoinKeepsUnmatchedRowsWithNulls() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: categories}
            on: {categorie_id: id}
            type: left
            columns: [{categorie: nom}]
        """, output: "joined", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_left_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered) == (7, 7, 0))
    }

    @Test func aRowMatchingSeveralRightRowsIsRepeatedOncePerMatch() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try Self.runTransforms("""
          joined:
            transform: join
            inputs: {left: lines, right: tags}
            on: categorie_id
          picked:
            transform: select
            input: joined
            columns: [code_cmd, tag]
        """, output: "picked", in: scratch)
        #expect(Self.output("out.csv", in: scratch) == readCSV(Self.golden("transforms/expected_tags_join.csv")))
        let joined = try #require(Self.stage("joined", of: report))
        #expect((joined.rowsIn, joined.rowsOut, joined.rowsFiltered, joined.rowsEmitted) == (7, 5, 2, 8))
    }

    @Test func nullJoinKeysNeverMatch() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("left.csv", "code,cat\n1,\n2,5\n")
        scratch.write("right.csv", "id,nom\n,Sans catégorie\n5,Cinq\n")
        let report = try runPipeline("""
        version: 1
        name: null-keys
        stages:
          left:
            extract: csv
            path: left.csv
            columns: {code: int, cat: {type: int, nullable: true}}
          right:
            extract: csv
            path: right.csv
            columns: {id: {type: int, nullable: true}, nom: text}
          joined:
            transform: join
            inputs: {left: left, right: right}
            on: {cat: id}
          out:
            load: csv
            input: joined
            path: out.csv
        """, in: scratch)
        // Like SQL: an unknown key is not equal to another unknown key.
        #expect(Self.output("out.csv", in: scratch) == [["code", "cat", "nom"], ["2", "5", "Cinq"]])
        #expect(Self.stage("joined", of: report)?.rowsFiltered == 1)
        Self.expectNothingLost(report)
    }
}
