import ArgumentParser
import Foundation
import StockflowCore

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check pipeline files without running them; every problem is reported with file:line:column.")

    @Argument(help: "Pipeline files to check.")
    var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let pipeline = try Pipeline.load(path: file)
                print("\(file): ok (\(pipeline.stages.count) stages)")
            } catch let list as DiagnosticList {
                report(list)
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.invalid.rawValue) }
    }
}
