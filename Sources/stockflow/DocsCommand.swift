import ArgumentParser
import Foundation
import StockflowCore

struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the pipeline file reference (docs/pipelines.md) built from the stage specs.")

    func run() throws {
        print(ReferenceDocs.markdown(), terminator: "")
    }
}
