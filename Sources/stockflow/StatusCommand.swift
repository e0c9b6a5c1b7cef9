import ArgumentParser
import Foundation
import StockflowCore

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show each pipeline's last run, last success and next scheduled run.")

    @Argument(help: "Folder of pipeline files (for the schedules).")
    var directory: String = "pipelines"

    @Option(help: "The state database.")
    var state: String = RunHistory.defaultPath

    func run() throws {
        let latest = FileManager.default.fileExists(atPath: state) ? try RunHistory(path: state).latest() : [:]
        var schedules: [String: ScheduledPipeline] = [:]
        do {
            for pipeline in try loadSchedules(directory) { schedules[pipeline.name] = pipeline }
        } catch let failure as ScheduleLoadFailure {
            FileHandle.standardError.write(Data("warning: \(failure.problems.count) pipeline file(s) do not validate; their next runs are unknown (run stockflow validate)\n".utf8))
        }
        let names = Set(latest.keys).union(schedules.keys).sorted()
        guard !names.isEmpty else {
            print("no pipelines scheduled in \(directory) and no runs recorded in \(state)")
            return
        }
        var rows = [["pipeline", "last run", "status", "exit", "last success", "next run"]]
        for name in names {
            let entry = latest[name]
            let next = schedules[name].flatMap { schedule in schedule.schedule.nextFire(after: Date()).map(schedule.schedule.describe) }
            rows.append([name,
                         entry.map { "\($0.last.started) (as of \($0.last.asOf))" } ?? "never",
                         entry?.last.status ?? "",
                         entry?.last.exitCode.map(String.init) ?? "",
                         entry?.lastSuccess.map { "\($0.finished) (as of \($0.asOf))" } ?? "never",
                         next ?? "unscheduled"])
        }
        printTable(rows)
    }
}
