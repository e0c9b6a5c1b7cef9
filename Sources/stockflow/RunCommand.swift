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
    var asOf: String?

    @Option(help: "The state database: run history and the scheduler's cursor; run locks live in its folder.")
    var state: String = RunHistory.defaultPath

    @Option(name: .customLong("metrics-file"), help: "Write run metrics to this node_exporter textfile (e.g. /var/lib/node_exporter/textfile/stockflow.prom).")
    var metricsFile: String?

    @Option(name: .customLong("log-format"), help: "Log lines on standard error: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "Run only these stages (comma-separated ids) and the stages they read from, e.g. --only workbook.")
    var only: String?

    @Option(name: .customLong("scheduled-for"), help: .hidden)
    var scheduledFor: String?

    @Option(name: .customLong("stop-timeout"), help: "Seconds a stop signal waits for the run to reach a batch boundary before it abandons the run's temporary files and exits.")
    var stopTimeout: Double = 10

    func validate() throws {
        if let asOf, CivilDate(iso: asOf) == nil {
            throw ValidationError("--as-of must be a date like 2026-11-25, found '\(asOf)'")
        }
        if let scheduledFor, parseISO8601(scheduledFor) == nil {
            throw ValidationError("--scheduled-for must be an ISO 8601 UTC time like 2026-11-25T01:30:00Z")
        }
    }

    func run() throws {
        Log.bootstrap(format: logFormat)
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
        let day = asOf.flatMap(CivilDate.init(iso:)) ?? today(in: pipeline.settings.timezone)
        let runID = makeRunID()
        let logger = Log.runLogger(runID: runID, pipeline: pipeline.name)
        let outputDirectory = URL(fileURLWithPath: out)
        let stateFolder = URL(fileURLWithPath: state).deletingLastPathComponent()

        let lock: RunLock
        do {
            lock = try RunLock(pipeline: pipeline.name, folder: stateFolder.appendingPathComponent("locks"))
        } catch let busy as RunLockBusy {
            logger.error("\(busy.description)")
            throw ExitCode(ExitStatus.temporary.rawValue)
        } catch {
            logger.error("cannot take the run lock: \(error)")
            throw ExitCode(ExitStatus.failed.rawValue)
        }
        let record = RunRecord(runID: runID, pipeline: pipeline.name, asOf: day.description, started: iso8601Now(), trigger: scheduledFor == nil ? "manual" : "schedule", scheduledFor: scheduledFor,
                               pid: getpid(), outputDirectory: outputDirectory.standardizedFileURL.path)
        var history: RunHistory?
        do {
            history = try RunHistory(path: state)
            try history?.begin(record)
        } catch {
            logger.warning("run history not recorded in \(state): \(error)")
            history = nil
        }

        let cancellation = RunCancellation()
        watchStopSignals(cancellation, record: record, outputDirectory: outputDirectory, logger: logger)
        logger.info("run started", metadata: ["as_of": "\(day)", "out": "\(out)", "trigger": "\(record.trigger)", "pid": "\(getpid())"])
        let runner = PipelineRunner(pipeline: pipeline, outputDirectory: outputDirectory, asOf: day,
                                    cancellation: cancellation, redact: Log.redactor.redact)
        let result = runner.run()
        logReport(result, logger: logger)

        do { try history?.finish(runID: runID, report: result) } catch {
            logger.warning("run history not updated in \(state): \(error)")
        }
        if let metricsFile {
            do { try RunMetrics.write(result, to: metricsFile) } catch {
                logger.warning("metrics not written: \(error)")
            }
        }
        if result.exitCode != 0, let alert = pipeline.onFailure {
            do {
                let target = try alert.send(report: result, logTail: Log.tail.last(alert.logLines), outputDirectory: outputDirectory)
                logger.notice("on_failure: alert sent to \(alert.to.joined(separator: ", ")) via \(target)")
            } catch {
                logger.error("on_failure: alert email to \(alert.to.joined(separator: ", ")) not sent: \(error)")
            }
        }
        withExtendedLifetime(lock) {}
        print(RunSummary.text(result))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

    /// One line per stage with its figures, then the outcome.
    private func logReport(_ report: RunReport, logger: Logger) {
        for stage in report.stages {
            var stageLogger = logger
            stageLogger[metadataKey: "stage"] = "\(stage.id)"
            stageLogger.info("stage finished", metadata: [
                "kind": "\(stage.kind)", "rows_in": "\(stage.rowsIn)", "rows_out": "\(stage.rowsOut)",
                "rows_rejected": "\(stage.rowsRejected)", "rows_filtered": "\(stage.rowsFiltered)",
                "rows_emitted": "\(stage.rowsEmitted)", "seconds": "\(stage.seconds)",
            ])
            for note in stage.notes { stageLogger.notice("\(note)") }
        }
        let metadata: Logger.Metadata = ["status": "\(report.status)", "exit_code": "\(report.exitCode)",
                                         "rejects": "\(report.rejects)", "findings": "\(report.findings)"]
        if let error = report.error {
            logger.error("run \(report.status): \(error)", metadata: metadata)
        } else {
            logger.info("run \(report.status)", metadata: metadata)
        }
    }

    /// On SIGTERM/SIGINT the run stops at its next batch; if it does not get there within
    /// `stopTimeout` (blocked reading a source) its temporaries are removed and the process exits 75.
    private func watchStopSignals(_ cancellation: RunCancellation, record: RunRecord, outputDirectory: URL, logger: Logger) {
        let timeout = stopTimeout
        let state = state
        Thread.detachNewThread {
            while !SignalFlags.terminate { usleep(50_000) }
            cancellation.cancel()
            logger.notice("stop signal: the run stops at the next batch, replacing no output")
            usleep(useconds_t(max(0, timeout) * 1_000_000))
            logger.error("the run did not stop within \(timeout) s; abandoning it, its temporary files removed")
            removeTemporaries(of: getpid(), in: outputDirectory)
            // A connection of its own: the main thread may be inside the other one.
            try? RunHistory(path: state).markCancelled(runID: record.runID, finished: iso8601Now(),
                                                       error: "stopped by a signal while blocked; no output replaced")
            _exit(ExitStatus.temporary.rawValue)
        }
    }

    private func today(in zone: String) -> CivilDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date())
        return CivilDate(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1) ?? CivilDate(days: 0)
    }
}

/// `20261125T013000Z-4242`: when the run started and which process ran it.
func makeRunID() -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return "\(formatter.string(from: Date()))-\(getpid())"
}

/// The current instant as ISO 8601 UTC text.
func iso8601Now() -> String { iso8601Text(Date()) }

/// Deletes the `.name.tmp-PID` files a run of process `pid` left under `folder`.
func removeTemporaries(of pid: Int32, in folder: URL) {
    guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return }
    for case let url as URL in enumerator where url.lastPathComponent.hasPrefix(".") && url.lastPathComponent.hasSuffix(".tmp-\(pid)") {
        try? FileManager.default.removeItem(at: url)
    }
}
