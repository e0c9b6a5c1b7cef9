import ArgumentParser
import Foundation
import StockflowCore

@main
struct Stockflow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockflow",
        abstract: "Declarative batch ETL and reporting for inventory and finance.",
        discussion: """
        Exit codes: 0 success (rejects allowed and reported), 1 run failed, 2 invalid pipeline or usage,
        65 rejects over the pipeline's max_rejects, 75 temporary failure worth retrying.
        """,
        subcommands: [Validate.self, Plan.self, Run.self, List.self, Docs.self]
    )
}

/// Prints diagnostics to standard error.
func report(_ diagnostics: DiagnosticList) {
    FileHandle.standardError.write(Data((diagnostics.description + "\n").utf8))
}

/// Loads a pipeline, or prints its problems and exits with status 2.
func loadOrExit(_ path: String) throws -> Pipeline {
    do {
        return try Pipeline.load(path: path)
    } catch let list as DiagnosticList {
        report(list)
        let count = list.diagnostics.count
        FileHandle.standardError.write(Data("\(count) error\(count == 1 ? "" : "s") in \(path)\n".utf8))
        throw ExitCode(ExitStatus.invalid.rawValue)
    }
}

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

struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the pipeline file reference (docs/pipelines.md) built from the stage specs.")

    func run() throws {
        print(ReferenceDocs.markdown(), terminator: "")
    }
}
