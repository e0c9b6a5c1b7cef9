import Foundation

/// What the scheduler does with fire times that passed while it was down or while the pipeline's
/// previous run was still going (`schedule: {catchup: ...}`).
public enum CatchUpPolicy: String, Sendable, CaseIterable {
    /// Late fire times are dropped; only a fire noticed on time runs.
    case none
    /// The most recent due fire time runs once, with its own as-of date (the default).
    case latest
    /// Every due fire time runs, oldest first, each with its own as-of date (at most `CatchUp.limit`).
    case all
}

/// One run the scheduler owes a pipeline.
public struct ScheduledRun: Sendable, Equatable {
    /// The pipeline name.
    public var pipeline: String
    /// The fire time the run is for.
    public var fireTime: Date
    /// The local day of the fire time, passed as `--as-of`.
    public var asOf: CivilDate
    /// True when the run starts later than `CatchUp.onTimeWindow` after its fire time.
    public var late: Bool
}

/// Chooses the runs owed from the fire times that are due.
public enum CatchUp {
    /// A fire noticed within this many seconds counts as on time, not missed.
    public static let onTimeWindow: TimeInterval = 60
    /// Most runs `all` replays at once; older ones are dropped with a warning.
    public static let limit = 100

    /// The runs to start, oldest first, for the fire times `due` (oldest first) seen at `now`.
    public static func runs(pipeline: String, due: [Date], now: Date, policy: CatchUpPolicy,
                            schedule: CronSchedule) -> [ScheduledRun] {
        func run(_ fire: Date) -> ScheduledRun {
            ScheduledRun(pipeline: pipeline, fireTime: fire, asOf: schedule.asOf(fire),
                         late: now.timeIntervalSince(fire) >= onTimeWindow)
        }
        switch policy {
        case .none:
            return due.last.map(run).map { $0.late ? [] : [$0] } ?? []
        case .latest:
            return due.last.map { [run($0)] } ?? []
        case .all:
            return due.suffix(limit).map(run)
        }
    }
}
