import Foundation
import Testing
@testable import StockflowCore

@Suite struct ReferenceDocsTests {
    static let kinds = StageRegistry.all.map { "\($0.spec.role.rawValue): \($0.spec.kind)" }

    static func spec(_ key: String) -> StageSpec {
        StageRegistry.all.first { "\($0.spec.role.rawValue): \($0.spec.kind)" == key }!.spec
    }

    @Test func pipelinesReferenceIsUpToDateWithTheStageSpecs() throws {
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/pipelines.md"), encoding: .utf8)
        #expect(committed == ReferenceDocs.markdown(), "docs/pipelines.md is stale: run `make docs`")
    }

    @Test(arguments: kinds)
    func everyStageKindHasItsOptionsAndExampleDocumented(_ key: String) throws {
        let spec = Self.spec(key)
        let docs = ReferenceDocs.markdown()
        #expect(docs.contains("### `\(key)`"))
        for option in spec.options {
            #expect(docs.contains("| `\(option.name)` |"), "option \(option.name) of \(key) is undocumented")
            #expect(!option.summary.isEmpty)
        }
        #expect(spec.example.contains(key), "the example of \(key) shows the stage kind")
    }

    @Test(arguments: kinds)
    func everyDocumentedExampleUsesOnlyKnownKeys(_ key: String) throws {
        let spec = Self.spec(key)
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let indented = spec.example.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        let found = diagnostics(of: "version: 1\nname: example\nstages:\n\(indented)\n", in: scratch)
        let keyProblems = found.filter { $0.message.contains("unknown key") || $0.message.contains(" must be ") || $0.message.contains("needs option") }
        #expect(keyProblems.isEmpty, "\(keyProblems)")
        #expect(!found.isEmpty, "an example alone reads unknown stages or files, so some diagnostic is expected")
    }
}
