import ArgumentParser
import Foundation
import StockflowCore

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the stages in run order with their inputs, outputs and where each runs.")

    @Argument(help: "The pipeline file.")
    var file: String

    @Flag(name: .long, help: "Also print the SQL sent to PostgreSQL for the stages that run there (settings: pushdown).")
    var sql = false

    func run() throws {
        let pipeline = try loadOrExit(file)
        let plan = pipeline.pushdown
        print("pipeline \(pipeline.name)\(pipeline.schedule.map { " (cron \"\($0.cron.text)\" \($0.timezone))" } ?? "")")
        print("pushdown: \(pipeline.settings.pushdown.rawValue)")
        for (index, stage) in pipeline.stages.enumerated() {
            print("\(index + 1). \(stage.id)  [\(stage.spec.role.rawValue): \(stage.spec.kind)]  \(Self.place(plan?.placements[stage.id]))")
            for input in stage.inputs {
                print("     in  \(input.port) ← \(input.stage)\(input.lookup ? " (lookup)" : "")")
            }
            let columns = stage.runner.outputSchema.columns
            if !columns.isEmpty {
                print("     out " + columns.map { "\($0.name):\($0.type.rawValue)" }.joined(separator: ", "))
            }
            if sql, let query = plan?.placements[stage.id]?.sql {
                print("     sql (rows back to stockflow):")
                print(Self.indented(query, by: 7))
            }
            if sql, let query = plan?.placements[stage.id]?.issuesSQL {
                print("     sql (rejects and findings, recorded in-process):")
                print(Self.indented(query, by: 7))
            }
        }
        if sql, let plan {
            for query in plan.countQueries {
                print("counts (one query per database, in the same snapshot):")
                print(Self.indented(query, by: 2))
            }
        }
    }

    /// Each line of `text` indented by `spaces`.
    static func indented(_ text: String, by spaces: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: spaces) + $0 }.joined(separator: "\n")
    }

    /// Where a stage runs, as `plan` prints it.
    static func place(_ placement: PushdownPlan.Placement?) -> String {
        guard let placement else { return "runs in-process" }
        if placement.inPostgres { return "runs in postgres" }
        return "runs in-process" + (placement.reason.map { " (\($0))" } ?? "")
    }
}
