import ArgumentParser
import Foundation
import StockflowCore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the pipelines of a folder with their schedules.")

    @Argument(help: "Folder of pipeline files.")
    var directory: String = "pipelines"

    func run() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted()
        var invalid = false
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                let pipeline = try Pipeline.load(path: path)
                let schedule = pipeline.schedule.map { "\($0.cron.text) (\($0.timezone))" } ?? "unscheduled"
                print("\(pipeline.name)\t\(schedule)\t\(path)\(pipeline.description.map { "\t\($0)" } ?? "")")
            } catch let list as DiagnosticList {
                print("\(name)\tINVALID (\(list.diagnostics.count) errors; run stockflow validate \(path))")
                invalid = true
            }
        }
        if invalid { throw ExitCode(ExitStatus.invalid.rawValue) }
    }
}
