import Foundation
import Logging

/// One run of a pipeline as every caller makes it — `stockflow run`, the scheduler's child runs, the
/// server's triggers: take the pipeline's lock, record the run in the state database, run it, record
/// the result, write the metrics and, when it failed, send the `on_failure` alert. The order matters
/// (no history entry without the lock; the alert carries the final report), so it lives here once.
public final class RunSession {
    /// Where and how one run goes.
    public struct Options: Sendable {
        /// The folder the outputs are committed to.
        public var outputDirectory: URL
        /// The state database (run history); locks live in `locks/` beside it.
        public var statePath: String
        /// A node_exporter textfile to update, if any.
        public var metricsFile: String?
        /// `manual` or `schedule`.
        public var trigger: String
        /// The fire time a scheduled run is for.
        public var scheduledFor: String?
        /// Run even when `skip_unchanged` finds the inputs unchanged (`run --force`).
        public var force = false
        /// Read incremental extracts in full, ignoring their watermarks (`run --full-refresh`).
        public var fullRefresh = false

        /// Describes a run; `trigger` follows from `scheduledFor` unless given.
        public init(outputDirectory: URL, statePath: String = RunHistory.defaultPath, metricsFile: String? = nil,
                    scheduledFor: String? = nil, trigger: String? = nil, force: Bool = false, fullRefresh: Bool = false) {
            self.force = force
            self.fullRefresh = fullRefresh
            self.outputDirectory = outputDirectory
            self.statePath = statePath
            self.metricsFile = metricsFile
            self.scheduledFor = scheduledFor
            self.trigger = trigger ?? (scheduledFor == nil ? "manual" : "schedule")
        }
    }

    /// How a session ended before or after running.
    public enum Outcome {
        /// Another process holds the pipeline's lock: nothing ran (exit 75).
        case busy(RunLockBusy)
        /// The lock could not be taken at all (exit 1).
        case lockFailed(Error)
        /// The run went; its report says how.
        case ran(RunReport)

        /// The process exit code this outcome means.
        public var exitCode: Int32 {
            switch self {
            case .busy: return ExitStatus.temporary.rawValue
            case .lockFailed: return ExitStatus.failed.rawValue
            case .ran(let report): return report.exitCode
            }
        }
    }

    public let pipeline: Pipeline
    public let asOf: CivilDate
    public let runID: String
    public let options: Options
    /// Set to stop the run at its next batch (SIGTERM, a cancel request).
    public let cancellation: RunCancellation
    private let logger: Logger
    private let redact: @Sendable (String) -> String
    private let logTail: (Int) -> [String]
    /// Set when `skip_unchanged` skipped the run: "up to date (same inputs as run <id>)".
    public private(set) var upToDate: String?

    /// Prepares a run; nothing happens until `run()`. `logTail(n)` gives the last n log lines for an alert.
    public init(pipeline: Pipeline, asOf: CivilDate, runID: String = RunSession.makeRunID(), options: Options,
                logger: Logger, cancellation: RunCancellation = RunCancellation(),
                redact: @escaping @Sendable (String) -> String = { $0 },
                logTail: @escaping (Int) -> [String] = { _ in [] }) {
        self.pipeline = pipeline
        self.asOf = asOf
        self.runID = runID
        self.options = options
        self.logger = logger
        self.cancellation = cancellation
        self.redact = redact
        self.logTail = logTail
    }

    /// The record the run is entered under, before it finishes.
    public var record: RunRecord {
        RunRecord(runID: runID, pipeline: pipeline.name, asOf: asOf.description, started: iso8601(Date()),
                  trigger: options.trigger, scheduledFor: options.scheduledFor, pid: getpid(),
                  outputDirectory: options.outputDirectory.standardizedFileURL.path)
    }

    /// Runs the whole sequence; `started` hears the record once the lock is held and the run is entered.
    public func run(started: (RunRecord) -> Void = { _ in }) -> Outcome {
        let stateFolder = URL(fileURLWithPath: options.statePath).deletingLastPathComponent()
        let lock: RunLock
        do {
            lock = try RunLock(pipeline: pipeline.name, folder: stateFolder.appendingPathComponent("locks"))
        } catch let busy as RunLockBusy {
            logger.error("\(busy.description)")
            return .busy(busy)
        } catch {
            logger.error("cannot take the run lock: \(error)")
            return .lockFailed(error)
        }
        defer { withExtendedLifetime(lock) {} }

        let record = self.record
        var history: RunHistory?
        do {
            history = try RunHistory(path: options.statePath)
            try history?.begin(record)
        } catch {
            logger.warning("run history not recorded in \(options.statePath): \(error)")
            history = nil
        }
        started(record)
        logger.info("run started", metadata: ["as_of": "\(asOf)", "out": "\(options.outputDirectory.path)",
                                              "trigger": "\(record.trigger)", "pid": "\(getpid())"])
        let skip = UnchangedInputs(session: self, logger: logger)
        if let skipped = skip.skippedReport(record) {
            upToDate = skipped.message
            do { try history?.finish(runID: runID, report: skipped.report) } catch {
                logger.warning("run history not updated in \(options.statePath): \(error)")
            }
            return .ran(skipped.report)
        }
        let runner = PipelineRunner(pipeline: pipeline, outputDirectory: options.outputDirectory, asOf: asOf,
                                    cancellation: cancellation, redact: redact,
                                    watermarks: WatermarkLedger.forSession(self, logger: logger))
        let report = runner.run()
        log(report)
        skip.recordSuccess(report)

        do { try history?.finish(runID: runID, report: report) } catch {
            logger.warning("run history not updated in \(options.statePath): \(error)")
        }
        if let metricsFile = options.metricsFile {
            do { try RunMetrics.write(report, to: metricsFile) } catch {
                logger.warning("metrics not written: \(error)")
            }
        }
        if report.exitCode != 0, let alert = pipeline.onFailure {
            do {
                let target = try alert.send(report: report, logTail: logTail(alert.logLines),
                                            outputDirectory: options.outputDirectory, retries: pipeline.retries)
                logger.notice("on_failure: alert sent to \(alert.to.joined(separator: ", ")) via \(target)")
            } catch {
                logger.error("on_failure: alert email to \(alert.to.joined(separator: ", ")) not sent: \(error)")
            }
        }
        return .ran(report)
    }

    /// One line per stage with its figures, then the outcome.
    private func log(_ report: RunReport) {
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

    /// `20261125T013000Z-4242`: when the run started and which process ran it.
    ///
    /// A second id made by the same process within the same second gets a sequence suffix
    /// (`…Z-4242-2`), so two runs one process starts together never share an id.
    public static func makeRunID(now: Date = Date(), pid: Int32 = getpid()) -> String {
        let base = "\(compactISO8601(now))-\(pid)"
        let sequence = issuedRunIDs.mutate { issued -> Int in
            if issued[base] == nil && issued.count >= 64 { issued.removeAll() }
            let next = (issued[base] ?? 0) + 1
            issued[base] = next
            return next
        }
        return sequence == 1 ? base : "\(base)-\(sequence)"
    }

    /// How many ids this process made per id base (the recent ones only: seconds long past are dropped).
    private static let issuedRunIDs = Locked<[String: Int]>([:])

    /// Today's date in `zone` (UTC when the zone is unknown).
    public static func today(in zone: String, now: Date = Date()) -> CivilDate {
        (TZifZone.named(zone) ?? TZifZone.utc).day(at: Int64(now.timeIntervalSince1970.rounded(.down)))
    }
}
