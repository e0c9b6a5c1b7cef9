import ArgumentParser
import Foundation
import Logging
import StockflowCore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline and write its outputs, run.json, rejects.csv and findings.csv.",
        discussion: """
        The run holds the pipeline's lock (<state folder>/locks/<pipeline>.lock) while it goes: a second run of
        the same pipeline exits 75 at once, naming the process that holds it. Each run is recorded in the state
        database (see `stockflow history`). SIGTERM or SIGINT stops the run at the next batch with no output
        replaced (exit 75).
        """)

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(name: .long, help: "Output folder (created if missing).")
    var out: String = "out"

    @Option(name: .customLong("as-of"), help: "The day the run is for, YYYY-MM-DD (default: today in the pipeline's time zone).")
    var asOf: CivilDate?

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Run only these stages (comma-separated ids) and the stages they read from, e.g. --only workbook.")
    var only: String?

    @Flag(name: .long, help: "Run even when skip_unchanged finds the inputs unchanged since the last success.")
    var force = false

    @Flag(name: .customLong("full-refresh"), help: "Read incremental extracts in full, ignoring their watermarks (the new ones are saved).")
    var fullRefresh = false

    @Option(name: .customLong("scheduled-for"), help: .hidden)
    var scheduledFor: String?

    func validate() throws {
        if let scheduledFor, parseISO8601(scheduledFor) == nil {
            throw ValidationError("--scheduled-for must be an ISO 8601 UTC time like 2026-11-25T01:30:00Z")
        }
    }

    func run() throws {
        Log.bootstrap(format: options.logFormat)
        SignalFlags.install(hangup: false)
        var pipeline = try loadOrExit(file)
        if let only {
            do {
                pipeline = try pipeline.restricted(to: only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            } catch let list as DiagnosticList {
                report(list)
                throw ExitCode(ExitStatus.invalid.rawValue)
            }
        }
        let runID = RunSession.makeRunID()
        let logger = Log.runLogger(runID: runID, pipeline: pipeline.name)
        let session = RunSession(
            pipeline: pipeline, asOf: asOf ?? RunSession.today(in: pipeline.settings.timezone), runID: runID,
            options: RunSession.Options(outputDirectory: URL(fileURLWithPath: out), statePath: options.state,
                                        metricsFile: options.metricsFile, scheduledFor: scheduledFor,
                                        force: force, fullRefresh: fullRefresh),
            logger: logger, redact: Log.redactor.redact, logTail: { Log.tail.last($0) })
        let outcome = session.run { record in watchStopSignals(session, record: record, logger: logger) }
        if case .ran(let result) = outcome { print(session.upToDate ?? RunSummary.text(result)) }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }

    /// On SIGTERM/SIGINT the run stops at its next batch; if it does not get there within
    /// `stopTimeout` (blocked reading a source) its temporaries are removed and the process exits 75.
    private func watchStopSignals(_ session: RunSession, record: RunRecord, logger: Logger) {
        let timeout = options.stopTimeout
        let state = options.state
        let outputDirectory = session.options.outputDirectory
        let cancellation = session.cancellation
        Thread.detachNewThread {
            while !SignalFlags.terminate { usleep(50_000) }
            cancellation.cancel()
            logger.notice("stop signal: the run stops at the next batch, replacing no output")
            usleep(useconds_t(max(0, timeout) * 1_000_000))
            logger.error("the run did not stop within \(timeout) s; abandoning it, its temporary files removed")
            TemporaryFile.removeAll(in: outputDirectory) { $0 == getpid() }
            // A connection of its own: the main thread may be inside the other one.
            try? RunHistory(path: state).markCancelled(runID: record.runID, finished: iso8601(Date()),
                                                       error: "stopped by a signal while blocked; no output replaced")
            _exit(ExitStatus.temporary.rawValue)
        }
    }
}
