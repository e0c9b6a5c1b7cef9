import ArgumentParser
import Foundation
import StockflowCore

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the stages in run order with their inputs and outputs.")

    @Argument(help: "The pipeline file.")
    var file: String

    func run() throws {
        let pipeline = try loadOrExit(file)
        print("pipeline \(pipeline.name)\(pipeline.schedule.map { " (cron \"\($0.cron.text)\" \($0.timezone))" } ?? "")")
        for (index, stage) in pipeline.stages.enumerated() {
            print("\(index + 1). \(stage.id)  [\(stage.spec.role.rawValue): \(stage.spec.kind)]")
            for input in stage.inputs {
                print("     in  \(input.port) ← \(input.stage)\(input.lookup ? " (lookup)" : "")")
            }
            let columns = stage.runner.outputSchema.columns
            if !columns.isEmpty {
                print("     out " + columns.map { "\($0.name):\($0.type.rawValue)" }.joined(separator: ", "))
            }
        }
    }
}
