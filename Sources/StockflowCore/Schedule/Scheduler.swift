import Foundation
import Logging

/// The time source of the scheduler; tests inject a fake one that jumps instead of sleeping.
public protocol SchedulerClock: AnyObject {
    /// The current instant.
    func now() -> Date
    /// Waits until `deadline` (the scheduler never asks for more than its poll interval at once).
    func sleep(until deadline: Date)
}

/// The real clock.
public final class SystemClock: SchedulerClock {
    /// Makes the clock.
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(until deadline: Date) {
        let seconds = deadline.timeIntervalSinceNow
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
    }
}

/// A pipeline the scheduler runs: its name, file and when.
public struct ScheduledPipeline: Sendable {
    public var name: String
    /// The pipeline file, passed to the run.
    public var file: String
    public var schedule: CronSchedule
    public var catchup: CatchUpPolicy

    /// Makes an entry.
    public init(name: String, file: String, schedule: CronSchedule, catchup: CatchUpPolicy) {
        self.name = name
        self.file = file
        self.schedule = schedule
        self.catchup = catchup
    }
}

/// Where the scheduler remembers the last fire time it dealt with per pipeline, so that runs missed
/// while it was down can be caught up (the state database; memory in tests).
public protocol ScheduleCursorStore: AnyObject {
    /// The last fire time handled for `pipeline`, if any.
    func lastFire(pipeline: String) -> Date?
    /// Records that the fire time `fire` of `pipeline` has been run or skipped.
    func recordFire(pipeline: String, fire: Date)
}

/// A cursor store that forgets everything when the process ends.
public final class MemoryCursorStore: ScheduleCursorStore {
    /// The fire times recorded, by pipeline.
    public private(set) var fires: [String: Date] = [:]
    /// Makes a store, optionally seeded.
    public init(_ fires: [String: Date] = [:]) { self.fires = fires }
    public func lastFire(pipeline: String) -> Date? { fires[pipeline] }
    public func recordFire(pipeline: String, fire: Date) { fires[pipeline] = fire }
}

/// A run the scheduler started and watches.
public protocol RunningRun: AnyObject {
    /// The run's exit code once it has ended; nil while it runs.
    var exitCode: Int32? { get }
    /// Asks the run to stop cleanly now (it discards its outputs).
    func abort()
    /// Ends the run at once (SIGKILL); its temporaries are left for the next run to remove.
    func kill()
}

/// Starts runs (a child `stockflow run` process in the command; a fake in tests).
public protocol RunLauncher: AnyObject {
    /// Starts `run` of `pipeline` and returns at once.
    func start(_ run: ScheduledRun, of pipeline: ScheduledPipeline) -> RunningRun
}

/// What a signal asks of the scheduler.
public enum SchedulerSignal: Sendable {
    /// SIGTERM/SIGINT: start nothing new, let current runs finish within the grace period, then abort them.
    case stop
    /// SIGHUP: read the pipeline files again; keep the old set if one no longer validates.
    case reload
}

/// Timing of the scheduler loop.
public struct SchedulerOptions: Sendable {
    /// Seconds a current run may take to finish after SIGTERM before it is aborted.
    public var grace: TimeInterval = 300
    /// Seconds an aborted run may take to clean up before it is killed.
    public var abortWait: TimeInterval = 30
    /// Longest single sleep, so signals and finished runs are noticed promptly.
    public var pollInterval: TimeInterval = 0.25

    /// Makes options.
    public init(grace: TimeInterval = 300, abortWait: TimeInterval = 30, pollInterval: TimeInterval = 0.25) {
        self.grace = grace
        self.abortWait = abortWait
        self.pollInterval = pollInterval
    }
}

/// How a scheduler loop ended.
public struct SchedulerOutcome: Sendable, Equatable {
    /// Runs started in all.
    public var started: Int
    /// Runs aborted at shutdown because they outlived the grace period.
    public var aborted: Int
    /// Runs killed because they did not stop after being aborted.
    public var killed: Int
}

/// Runs pipelines when their schedules fire. One run per pipeline at a time (a fire time that comes
/// while the previous run is still going waits for it, then the catch-up policy decides); different
/// pipelines run side by side.
public final class Scheduler {
    private var pipelines: [ScheduledPipeline]
    private let clock: SchedulerClock
    private let launcher: RunLauncher
    private let cursors: ScheduleCursorStore
    private let options: SchedulerOptions
    private let logger: Logger
    private let signals: () -> SchedulerSignal?
    private let reload: () throws -> [ScheduledPipeline]

    private var cursor: [String: Date] = [:]
    private var queue: [String: [ScheduledRun]] = [:]
    private var current: [String: (run: ScheduledRun, handle: RunningRun)] = [:]
    /// Every run started, in order (what tests check).
    public private(set) var startedRuns: [ScheduledRun] = []

    /// A scheduler over `pipelines`; `signals` is polled each turn, `reload` reads the files again.
    public init(pipelines: [ScheduledPipeline], clock: SchedulerClock, launcher: RunLauncher,
                cursors: ScheduleCursorStore, options: SchedulerOptions = SchedulerOptions(), logger: Logger,
                signals: @escaping () -> SchedulerSignal? = { nil },
                reload: @escaping () throws -> [ScheduledPipeline] = { throw CancellationError() }) {
        self.pipelines = pipelines
        self.clock = clock
        self.launcher = launcher
        self.cursors = cursors
        self.options = options
        self.logger = logger
        self.signals = signals
        self.reload = reload
    }

    /// The pipelines currently scheduled.
    public var scheduled: [ScheduledPipeline] { pipelines }

    /// Runs until a stop signal (or, in tests, until the clock passes `until`) and every run has ended.
    @discardableResult
    public func run(until: Date? = nil) -> SchedulerOutcome {
        var outcome = SchedulerOutcome(started: 0, aborted: 0, killed: 0)
        var stopDeadline: Date?
        var killDeadline: Date?
        var killed = false
        for pipeline in pipelines { adopt(pipeline, now: clock.now()) }
        logger.info("scheduler started", metadata: ["pipelines": "\(pipelines.map(\.name).joined(separator: ","))"])
        while true {
            let now = clock.now()
            // One signal a turn: a source that keeps answering `stop` must not hold the loop.
            if let signal = signals() {
                switch signal {
                case .stop where stopDeadline == nil:
                    stopDeadline = now.addingTimeInterval(options.grace)
                    logger.notice("stop requested: starting no new run; \(current.count) running, grace \(Int(options.grace)) s")
                case .stop:
                    break
                case .reload:
                    reloadPipelines(now: now)
                }
            }
            if let until, now >= until, stopDeadline == nil {
                stopDeadline = now.addingTimeInterval(options.grace)
            }
            reap(stopping: stopDeadline != nil)
            if let deadline = stopDeadline {
                if current.isEmpty { break }
                if now >= deadline, killDeadline == nil {
                    for (name, entry) in current {
                        logger.warning("aborting the run still going after the grace period", metadata: ["pipeline": "\(name)"])
                        entry.handle.abort()
                        outcome.aborted += 1
                    }
                    killDeadline = now.addingTimeInterval(options.abortWait)
                }
                if let killDeadline, now >= killDeadline, !killed {
                    for (name, entry) in current {
                        logger.error("killing the run that did not stop after abort", metadata: ["pipeline": "\(name)"])
                        entry.handle.kill()
                        outcome.killed += 1
                    }
                    killed = true
                }
                clock.sleep(until: now.addingTimeInterval(options.pollInterval))
                continue
            }
            for pipeline in pipelines where current[pipeline.name] == nil {
                if queue[pipeline.name, default: []].isEmpty { plan(pipeline, now: now) }
                guard var next = queue[pipeline.name]?.first else { continue }
                queue[pipeline.name]?.removeFirst()
                next.late = now.timeIntervalSince(next.fireTime) >= CatchUp.onTimeWindow
                logger.info("starting run as of \(next.asOf) for \(pipeline.schedule.describe(next.fireTime))\(next.late ? " (catch-up)" : "")",
                            metadata: ["pipeline": "\(pipeline.name)"])
                current[pipeline.name] = (next, launcher.start(next, of: pipeline))
                startedRuns.append(next)
                outcome.started += 1
            }
            var wake = now.addingTimeInterval(options.pollInterval)
            if current.isEmpty && queue.values.allSatisfy(\.isEmpty) {
                let fires = pipelines.compactMap { $0.schedule.nextFire(after: cursor[$0.name] ?? now) }
                wake = min(wake, max(fires.min() ?? wake, now))
                if let until { wake = min(wake, max(until, now)) }
            }
            clock.sleep(until: wake)
        }
        logger.notice("scheduler stopped", metadata: ["runs": "\(outcome.started)", "aborted": "\(outcome.aborted)"])
        return outcome
    }

    /// Takes on a pipeline: its cursor comes from the store, or starts now (nothing missed yet).
    private func adopt(_ pipeline: ScheduledPipeline, now: Date) {
        guard cursor[pipeline.name] == nil else { return }
        if let last = cursors.lastFire(pipeline: pipeline.name) {
            cursor[pipeline.name] = last
        } else {
            cursor[pipeline.name] = now
            cursors.recordFire(pipeline: pipeline.name, fire: now)
        }
    }

    /// Queues the runs owed for the fire times that passed since the cursor.
    private func plan(_ pipeline: ScheduledPipeline, now: Date) {
        let since = cursor[pipeline.name] ?? now
        let due = pipeline.schedule.fires(after: since, through: now, limit: CatchUp.limit * 10)
        guard let last = due.last else { return }
        let runs = CatchUp.runs(pipeline: pipeline.name, due: due, now: now, policy: pipeline.catchup, schedule: pipeline.schedule)
        cursor[pipeline.name] = last
        if due.count > runs.count {
            logger.notice("skipping \(due.count - runs.count) missed fire time(s) (catchup: \(pipeline.catchup.rawValue))",
                          metadata: ["pipeline": "\(pipeline.name)"])
        }
        if runs.isEmpty { cursors.recordFire(pipeline: pipeline.name, fire: last) }
        queue[pipeline.name] = runs
    }

    /// Notices ended runs; a run ended by the shutdown does not count as done, so it is caught up later.
    private func reap(stopping: Bool) {
        for (name, entry) in current {
            guard let code = entry.handle.exitCode else { continue }
            current[name] = nil
            let interrupted = stopping && code != 0
            logger.log(level: code == 0 ? .info : .warning, "run as of \(entry.run.asOf) ended with exit \(code)\(interrupted ? " (interrupted by the shutdown)" : "")",
                       metadata: ["pipeline": "\(name)"])
            if !interrupted { cursors.recordFire(pipeline: name, fire: entry.run.fireTime) }
        }
    }

    /// Reads the pipeline files again; keeps the old set when any of them no longer validates.
    private func reloadPipelines(now: Date) {
        do {
            let fresh = try reload()
            for pipeline in fresh { adopt(pipeline, now: now) }
            let names = Set(fresh.map(\.name))
            for name in queue.keys where !names.contains(name) { queue[name] = nil }
            pipelines = fresh
            logger.notice("reloaded \(fresh.count) scheduled pipeline(s)", metadata: ["pipelines": "\(fresh.map(\.name).joined(separator: ","))"])
        } catch {
            logger.error("reload refused, keeping the \(pipelines.count) pipeline(s) already scheduled: \(error)")
        }
    }
}
