import ArgumentParser
import Foundation
import Logging
import StockflowCore

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the pipelines of a folder on their schedules (a long-running process), or print their next fire times.",
        discussion: """
        Each due run is a child `stockflow run` (same lock, history, logs and metrics as a run started by hand),
        writing into <out>/<pipeline>. Fire times missed while the scheduler was down follow each pipeline's
        `catchup` (none, latest, all). SIGTERM: no new run starts; a current run gets --grace seconds to finish,
        then is stopped with no output replaced. SIGHUP: the pipeline files are read again; if one no longer
        validates, the old set stays scheduled.
        """)

    @Argument(help: "Folder of pipeline files.")
    var directory: String = "pipelines"

    @Flag(help: "Print each pipeline's next fire times and exit.")
    var next = false

    @Option(help: "How many fire times --next prints per pipeline.")
    var count = 5

    @Option(help: "With --next: the instant to count from instead of now, with its UTC offset (2026-10-25T02:10+01:00, or Z for UTC), to see a schedule around a daylight-saving change.")
    var from: String?

    @Option(help: "Output folder; each pipeline writes into a folder of its name under it.")
    var out: String = "out"

    @OptionGroup var options: RunOptions

    @Option(help: "Seconds a current run may take to finish after SIGTERM before it is stopped.")
    var grace: Double = 300

    func validate() throws {
        guard count >= 1 && count <= 1000 else { throw ValidationError("--count must be between 1 and 1000, found \(count)") }
        guard grace >= 0 else { throw ValidationError("--grace must be a number of seconds ≥ 0, found \(grace)") }
        if let from {
            guard next else { throw ValidationError("--from only applies to --next") }
            guard parseInstant(from) != nil else {
                throw ValidationError("--from must be an instant with its UTC offset like 2026-10-25T02:10+01:00 or 2026-10-25T01:10Z, found '\(from)'")
            }
        }
    }

    func run() throws {
        if next {
            let pipelines: [ScheduledPipeline]
            do { pipelines = try loadSchedules(directory) } catch let failure as ScheduleLoadFailure {
                FileHandle.standardError.write(Data("\(failure.description)\n".utf8))
                throw ExitCode(ExitStatus.invalid.rawValue)
            }
            printNextFires(pipelines, from: from.flatMap(parseInstant) ?? Date())
            return
        }
        Log.bootstrap(format: options.logFormat)
        SignalFlags.install(hangup: true)
        var logger = Logger(label: "stockflow.schedule")
        logger[metadataKey: "stage"] = "-"
        let pipelines: [ScheduledPipeline]
        do { pipelines = try loadSchedules(directory) } catch let failure as ScheduleLoadFailure {
            logger.error("not starting: \(failure.description)")
            throw ExitCode(ExitStatus.invalid.rawValue)
        }
        let history: RunHistory
        do { history = try RunHistory(path: options.state) } catch {
            logger.error("not starting: \(error)")
            throw ExitCode(ExitStatus.failed.rawValue)
        }
        let launcher = ProcessLauncher(outputRoot: URL(fileURLWithPath: out), extraArguments: options.runArguments, logger: logger)
        let directory = directory
        let scheduler = Scheduler(
            pipelines: pipelines, clock: SystemClock(), launcher: launcher, cursors: history,
            options: SchedulerOptions(grace: grace, abortWait: options.stopTimeout + 20), logger: logger,
            signals: {
                if SignalFlags.takeTerminate() { return .stop }
                if SignalFlags.takeHangup() { return .reload }
                return nil
            },
            reload: { try loadSchedules(directory) })
        if pipelines.isEmpty { logger.warning("no scheduled pipeline in \(directory); waiting for SIGHUP or SIGTERM") }
        scheduler.run()
    }

    private func printNextFires(_ pipelines: [ScheduledPipeline], from start: Date) {
        for pipeline in pipelines {
            print("\(pipeline.name)  \"\(pipeline.schedule.cron.text)\" \(pipeline.schedule.zoneName), catchup \(pipeline.catchup.rawValue)  (\(pipeline.file))")
            var cursor = start
            for _ in 0..<count {
                guard let fire = pipeline.schedule.nextFire(after: cursor) else {
                    print("  never fires (no real day matches the expression)")
                    break
                }
                print("  \(pipeline.schedule.describe(fire))  as of \(pipeline.schedule.asOf(fire))")
                cursor = fire
            }
        }
    }
}

/// Pipeline files that do not validate: the diagnostics of each.
struct ScheduleLoadFailure: Error, CustomStringConvertible {
    var problems: [(file: String, diagnostics: DiagnosticList)]
    var description: String {
        problems.map { "\($0.file): \($0.diagnostics.diagnostics.count) error(s)\n\($0.diagnostics.description)" }.joined(separator: "\n")
    }
}

/// The scheduled pipelines of a folder (files without `schedule:` are skipped); throws when any file
/// does not validate, or when two files share a pipeline name.
func loadSchedules(_ directory: String) throws -> [ScheduledPipeline] {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted()
    var problems: [(file: String, diagnostics: DiagnosticList)] = []
    var result: [ScheduledPipeline] = []
    for name in names {
        let path = (directory as NSString).appendingPathComponent(name)
        do {
            let pipeline = try Pipeline.load(path: path)
            guard let schedule = pipeline.schedule else { continue }
            if let other = result.first(where: { $0.name == pipeline.name }) {
                problems.append((path, DiagnosticList([Diagnostic("pipeline name '\(pipeline.name)' is also used by \(other.file); runs, locks and history are keyed by name", at: nil)])))
                continue
            }
            result.append(ScheduledPipeline(name: pipeline.name, file: path, schedule: CronSchedule(schedule), catchup: schedule.catchup))
        } catch let list as DiagnosticList {
            problems.append((path, list))
        }
    }
    if !problems.isEmpty { throw ScheduleLoadFailure(problems: problems) }
    return result
}

/// Starts each run as a child `stockflow run` of this same executable.
final class ProcessLauncher: RunLauncher {
    private let outputRoot: URL
    private let extraArguments: [String]
    private let logger: Logger
    private let executable: URL

    init(outputRoot: URL, extraArguments: [String], logger: Logger) {
        self.outputRoot = outputRoot
        self.extraArguments = extraArguments
        self.logger = logger
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        executable = URL(fileURLWithPath: path)
    }

    func start(_ run: ScheduledRun, of pipeline: ScheduledPipeline) -> RunningRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["run", pipeline.file, "--out", outputRoot.appendingPathComponent(safeFolderName(pipeline.name)).path,
                             "--as-of", run.asOf.description, "--scheduled-for", iso8601(run.fireTime)] + extraArguments
        do {
            try process.run()
        } catch {
            logger.error("cannot start the run: \(error)", metadata: ["pipeline": "\(pipeline.name)"])
            return FailedStart()
        }
        return ChildRun(process: process)
    }
}

/// A child `stockflow run`.
final class ChildRun: RunningRun {
    private let process: Process

    init(process: Process) { self.process = process }

    var exitCode: Int32? {
        guard !process.isRunning else { return nil }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGTERM: the run stops at its next batch, replacing no output.
    func abort() { Glibc.kill(process.processIdentifier, SIGTERM) }

    func kill() { Glibc.kill(process.processIdentifier, SIGKILL) }
}

/// A run whose process could not be started.
final class FailedStart: RunningRun {
    var exitCode: Int32? { ExitStatus.failed.rawValue }
    func abort() {}
    func kill() {}
}

/// A pipeline name usable as a folder name.
func safeFolderName(_ name: String) -> String {
    String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
}

/// An instant written as ISO 8601 with its offset, seconds optional: `2026-10-25T02:10+01:00`.
func parseInstant(_ text: String) -> Date? {
    if let date = parseISO8601(text) { return date }
    // yyyy-MM-ddTHH:mm is 16 characters; the formatter wants the seconds before the offset.
    let characters = Array(text)
    guard characters.count > 16, characters[13] == ":", !characters[16].isNumber, characters[16] != ":" else { return nil }
    return parseISO8601(String(characters[..<16]) + ":00" + String(characters[16...]))
}
