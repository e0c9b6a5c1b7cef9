import ArgumentParser
import Foundation
import Logging
import StockflowCore
import StockflowServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the reports portal and the REST API (JWT and API keys) over what runs produced.",
        discussion: """
        Reads the same state database and output folders that `run` and `schedule` write (each pipeline's runs in
        <out>/<pipeline>), and works beside a running `schedule`; --schedule runs the scheduler in this process too.
        The signing key comes from STOCKFLOW_JWT_SECRET (at least 32 bytes) or --jwt-key-file; without one the
        server refuses to start, except with --dev (an ephemeral key, said on every start). See docs/serve.md.
        """)

    @Option(help: "Folder of pipeline files.") var pipelines: String = "pipelines"
    @Option(help: "Output folder: each pipeline's runs write into <out>/<pipeline>; nothing outside it is served.") var out: String = "out"
    @Option(help: "Address and port to listen on (port 0: any free port, printed at start).") var listen: String = "127.0.0.1:8080"
    @Flag(help: "Development only: sign with an ephemeral key (every token dies with the process).") var dev = false
    @Option(name: .customLong("jwt-key-file"), help: "A file holding the signing key (at least 32 bytes), instead of STOCKFLOW_JWT_SECRET.") var jwtKeyFile: String?
    @Option(name: .customLong("access-ttl"), help: "Access token lifetime in seconds.") var accessTTL: Int = 900
    @Option(name: .customLong("refresh-ttl"), help: "Refresh token lifetime in seconds.") var refreshTTL: Int = 7 * 86_400
    @Option(name: .customLong("cors-origin"), help: "An origin allowed to call the API from a browser (repeatable); none by default.") var corsOrigins: [String] = []
    @Flag(name: .customLong("secure-cookies"), help: "Mark the session cookie Secure (set it when a TLS proxy is in front).") var secureCookies = false
    @Option(help: "The OpenAPI file served at /api/openapi.yaml (default: api/openapi.yaml beside the executable or here).") var openapi: String?
    @Flag(help: "Also run the pipelines on their schedules, in this process (like `stockflow schedule`).") var schedule = false
    @OptionGroup var options: RunOptions

    func validate() throws {
        guard Serve.hostAndPort(listen) != nil else { throw ValidationError("--listen must be HOST:PORT like 127.0.0.1:8080, found '\(listen)'") }
        guard accessTTL >= 30, accessTTL <= 86_400 else { throw ValidationError("--access-ttl must be from 30 to 86400 seconds") }
        guard refreshTTL >= 60 else { throw ValidationError("--refresh-ttl must be at least 60 seconds") }
    }

    static func hostAndPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port)
    }

    func run() throws {
        Log.bootstrap(format: options.logFormat)
        var logger = Logger(label: "stockflow.serve")
        logger[metadataKey: "stage"] = "-"
        let secret = try signingKey(logger: logger)
        guard let (host, port) = Serve.hostAndPort(listen) else { throw ExitCode(ExitStatus.invalid.rawValue) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var server = ServerOptions(pipelinesDirectory: pipelines, outputRoot: out, statePath: options.state, secret: secret, runExecutable: executable)
        server.accessLifetime = TimeInterval(accessTTL)
        server.refreshLifetime = TimeInterval(refreshTTL)
        server.corsOrigins = corsOrigins
        server.secureCookies = secureCookies
        server.runArguments = options.runArguments
        server.openAPIPath = openapi ?? Serve.bundledOpenAPI()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        let scheduler = schedule ? try startScheduler(logger: logger) : nil
        let failure = ErrorBox()
        let done = DispatchSemaphore(value: 0)
        let serverOptions = server
        let serverLogger = logger
        let folders = "pipelines \(pipelines), out \(out), state \(options.state)"
        Task {
            do {
                let application = try await StockflowServer.application(options: serverOptions, host: host, port: port, logger: serverLogger) { bound in
                    serverLogger.notice("stockflow serve listening on http://\(host):\(bound)/ (\(folders))")
                }
                try await application.runService()
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        scheduler?.stop()
        if let error = failure.error {
            logger.error("server stopped: \(error)")
            throw ExitCode(ExitStatus.failed.rawValue)
        }
    }

    /// The key from STOCKFLOW_JWT_SECRET or --jwt-key-file, or an ephemeral one with --dev.
    private func signingKey(logger: Logger) throws -> [UInt8] {
        var key: [UInt8]?
        var origin = ""
        if let jwtKeyFile {
            guard let data = FileManager.default.contents(atPath: jwtKeyFile) else {
                logger.error("not starting: cannot read --jwt-key-file \(jwtKeyFile)")
                throw ExitCode(ExitStatus.invalid.rawValue)
            }
            var bytes = [UInt8](data)
            while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
            key = bytes
            origin = "--jwt-key-file"
        } else if let text = ProcessInfo.processInfo.environment["STOCKFLOW_JWT_SECRET"], !text.isEmpty {
            key = Array(text.utf8)
            origin = "STOCKFLOW_JWT_SECRET"
        }
        if let key {
            guard key.count >= ServerOptions.minimumSecretBytes else {
                logger.error("not starting: the signing key from \(origin) has \(key.count) bytes; at least \(ServerOptions.minimumSecretBytes) are needed (e.g. `openssl rand -base64 48`)")
                throw ExitCode(ExitStatus.invalid.rawValue)
            }
            return key
        }
        guard dev else {
            logger.error("not starting: no signing key. Set STOCKFLOW_JWT_SECRET (at least 32 bytes, e.g. `export STOCKFLOW_JWT_SECRET=$(openssl rand -base64 48)`) or --jwt-key-file; --dev uses an ephemeral key for development")
            throw ExitCode(ExitStatus.invalid.rawValue)
        }
        logger.warning("DEVELOPMENT MODE: signing with an ephemeral key made at start; every token and session dies with this process. Do not use --dev in production")
        var generator = SystemRandomNumberGenerator()
        return (0..<48).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func bundledOpenAPI() -> String? {
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates: [String] = []
        for _ in 0..<5 {
            candidates.append(directory.appendingPathComponent("api/openapi.yaml").path)
            candidates.append(directory.appendingPathComponent("share/stockflow/openapi.yaml").path)
            directory.deleteLastPathComponent()
        }
        candidates.append("api/openapi.yaml")
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The scheduler of `stockflow schedule`, on a thread of its own until `stop()`.
    private func startScheduler(logger: Logger) throws -> ScheduleThread {
        let loaded: [ScheduledPipeline]
        do { loaded = try loadSchedules(pipelines) } catch let failure as ScheduleLoadFailure {
            logger.error("not starting: \(failure.description)")
            throw ExitCode(ExitStatus.invalid.rawValue)
        }
        let history = try RunHistory(path: options.state)
        let launcher = ProcessLauncher(outputRoot: URL(fileURLWithPath: out), extraArguments: options.runArguments, logger: logger)
        let thread = ScheduleThread()
        let directory = pipelines
        let scheduler = Scheduler(
            pipelines: loaded, clock: SystemClock(), launcher: launcher, cursors: history,
            options: SchedulerOptions(grace: 60, abortWait: options.stopTimeout + 20), logger: logger,
            signals: { thread.stopRequested ? .stop : nil },
            reload: { try loadSchedules(directory) })
        let box = SchedulerBox(scheduler: scheduler)
        thread.start { box.scheduler.run() }
        logger.notice("scheduler running in the server process for \(loaded.count) pipeline(s)")
        return thread
    }
}

/// Hands the scheduler to its thread; nothing else touches it afterwards.
struct SchedulerBox: @unchecked Sendable {
    let scheduler: Scheduler
}

/// An error carried out of the server's task.
final class ErrorBox: @unchecked Sendable {
    var error: Error?
}

/// The in-process scheduler's thread and its stop request.
final class ScheduleThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    var stopRequested: Bool { lock.withLock { stopped } }

    func start(_ body: @escaping @Sendable () -> Void) {
        let finished = finished
        Thread.detachNewThread {
            body()
            finished.signal()
        }
    }

    /// Asks the scheduler to stop (its current run gets its grace) and waits for it.
    func stop() {
        lock.withLock { stopped = true }
        finished.wait()
    }
}
