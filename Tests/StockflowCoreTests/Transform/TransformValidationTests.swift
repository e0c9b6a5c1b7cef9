import Foundation
import Testing
@testable import StockflowCore

/// Stage options that would silently lose every row are refused when the pipeline is read.
@Suite struct TransformValidationTests {
    static let header = """
    version: 1
    name: t
    stages:
      left:
        extract: csv
        path: left.csv
        columns: {code: int, cat: int}
      right:
        extract: csv
        path: right.csv
        columns: {id: text, nom: text}

    """

    @Test func joinKeysOfDifferentTypesAreAnError() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.header + """
          joined:
            transform: join
            inputs: {left: left, right: right}
            on: {cat: id}
          out:
            load: csv
            input: joined
            path: out.csv
        """, in: scratch)
        let problem = try #require(problems.first { $0.message.contains("join key") })
        #expect(problem.message.contains("int"))
        #expect(problem.message.contains("text"))
        #expect(problem.position?.line == 15)
    }

    @Test(arguments: ["code", "code + 1", "cat * 2", "month(code)", "coalesce(cat, 0)"])
    func aFilterConditionThatIsNotTrueOrFalseIsAnError(condition: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let problems = diagnostics(of: Self.header + """
          kept:
            transform: filter
            input: left
            where: "\(condition)"
          out:
            load: csv
            input: kept
            path: out.csv
        """, in: scratch)
        #expect(problems.contains { $0.message.contains("must be a condition") && $0.position?.line == 15 }, "\(problems)")
    }
}
