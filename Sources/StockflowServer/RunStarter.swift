import Foundation
import Logging
import StockflowCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts runs the way the built-in scheduler does: a child `stockflow run` (same lock, history,
/// logs and metrics as a run started by hand), its log kept in `<state folder>/logs/<run id>.log`.
final class RunStarter: @unchecked Sendable {
    private let options: ServerOptions
    private let runs: RunQueries
    private let logger: Logger
    private let lock = NSLock()
    private var children: [String: Process] = [:]
    private var idempotent: [String: String] = [:]

    init(options: ServerOptions, runs: RunQueries, logger: Logger) {
        self.options = options
        self.runs = runs
        self.logger = logger
    }

    var stateFolder: URL { URL(fileURLWithPath: options.statePath).deletingLastPathComponent() }
    var logFolder: URL { stateFolder.appendingPathComponent("logs") }

    /// The output folder of a pipeline's runs, as the scheduler names it.
    func outputFolder(of pipeline: String) -> URL {
        URL(fileURLWithPath: options.outputRoot).appendingPathComponent(RunStarter.folderName(pipeline))
    }

    /// A pipeline name usable as a folder name (the scheduler's rule).
    static func folderName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    /// Starts a run of `pipeline` and returns its run id once the run has recorded itself.
    /// Throws 409 while another run holds the pipeline's lock.
    func start(_ pipeline: PipelineEntry, asOf: String?, idempotencyKey: String?) async throws -> String {
        if let idempotencyKey, let existing = lock.withLock({ idempotent[pipeline.name + "\u{0}" + idempotencyKey] }) {
            return existing
        }
        do {
            // Probe the lock: released again at once, the child takes it for real.
            _ = try RunLock(pipeline: pipeline.name, folder: stateFolder.appendingPathComponent("locks"))
        } catch let busy as RunLockBusy {
            throw APIError(.conflict, "run_in_progress", "pipeline '\(pipeline.name)' is already running (process \(busy.holder.map(String.init) ?? "?"))")
        }
        try FileManager.default.createDirectory(at: logFolder, withIntermediateDirectories: true)
        let pendingLog = logFolder.appendingPathComponent("pending-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: pendingLog.path, contents: nil, attributes: [.posixPermissions: 0o600])
        let logHandle = try FileHandle(forWritingTo: pendingLog)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: options.runExecutable)
        var arguments = ["run", pipeline.file, "--out", outputFolder(of: pipeline.name).path]
        if let asOf { arguments += ["--as-of", asOf] }
        process.arguments = arguments + options.runArguments
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        // The run needs no signing key: keep it out of the child's environment.
        environment["STOCKFLOW_JWT_SECRET"] = nil
        process.environment = environment
        let since = isoText(Date().addingTimeInterval(-2))
        do { try RunStarter.withSignalsUnblocked { try process.run() } } catch {
            try? logHandle.close()
            throw APIError(.internalServerError, "run_not_started", "the run could not be started")
        }
        try? logHandle.close()
        // Wait for the child to record its run (it does so right after taking the lock).
        for _ in 0..<600 {
            if let row = try runs.run(pid: process.processIdentifier, since: since) {
                let runID = row.record.runID
                try? FileManager.default.moveItem(at: pendingLog, to: logFolder.appendingPathComponent("\(RunStarter.folderName(runID)).log"))
                lock.withLock {
                    children[runID] = process
                    if let idempotencyKey { idempotent[pipeline.name + "\u{0}" + idempotencyKey] = runID }
                }
                process.terminationHandler = { [weak self] _ in self?.lock.withLock { self?.children[runID] = nil } }
                logger.info("run started by the server", metadata: ["pipeline": "\(pipeline.name)", "run_id": "\(runID)"])
                return runID
            }
            if !process.isRunning {
                let code = process.terminationStatus
                let tail = (try? String(contentsOf: pendingLog, encoding: .utf8)) ?? ""
                try? FileManager.default.removeItem(at: pendingLog)
                if code == ExitStatus.temporary.rawValue && tail.contains("already running") {
                    throw APIError(.conflict, "run_in_progress", "pipeline '\(pipeline.name)' is already running")
                }
                throw APIError(.unprocessableContent, "run_not_started", "the run ended before it started (exit \(code)); see `stockflow validate \(pipeline.file)`")
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw APIError(.internalServerError, "run_not_started", "the run did not record itself in time")
    }

    /// Runs `body` with no signal blocked in this thread. The server's threads block most signals, and
    /// a child inherits the mask: without this, a run started here would never see its SIGTERM.
    static func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var empty = sigset_t()
        var saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    /// Sends SIGTERM to a run this server started: it stops at its next batch, replacing nothing.
    func cancel(runID: String) -> Bool {
        guard let process = lock.withLock({ children[runID] }), process.isRunning else { return false }
        kill(process.processIdentifier, SIGTERM)
        return true
    }

    /// The log of a run this server started, if kept.
    func logPath(runID: String) -> String? {
        let path = logFolder.appendingPathComponent("\(RunStarter.folderName(runID)).log").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
