import ArgumentParser
import Foundation
import StockflowCore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a pipeline and write its outputs, run.json, rejects.csv and findings.csv.")

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(name: .long, help: "Output folder (created if missing).")
    var out: String = "out"

    @Option(name: .customLong("as-of"), help: "The day the run is for, YYYY-MM-DD (default: today in the pipeline's time zone).")
    var asOf: String?

    func validate() throws {
        if let asOf, CivilDate(iso: asOf) == nil {
            throw ValidationError("--as-of must be a date like 2026-11-25, found '\(asOf)'")
        }
    }

    func run() throws {
        let pipeline = try loadOrExit(file)
        let day = asOf.flatMap(CivilDate.init(iso:)) ?? today(in: pipeline.settings.timezone)
        let runner = PipelineRunner(pipeline: pipeline, outputDirectory: URL(fileURLWithPath: out), asOf: day)
        let result = runner.run()
        print(RunSummary.text(result))
        if result.exit_code != 0 { throw ExitCode(result.exit_code) }
    }

    private func today(in zone: String) -> CivilDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date())
        return CivilDate(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1) ?? CivilDate(days: 0)
    }
}
