import Foundation
import Logging
import Testing
@testable import StockflowCore

/// A clock that jumps to each deadline instead of sleeping.
final class FakeClock: SchedulerClock {
    var current: Date
    init(_ start: String) { current = utc(start) }
    func now() -> Date { current }
    func sleep(until deadline: Date) { current = max(current, deadline) }
}

/// Runs that take a set time on the fake clock; records what started when.
final class FakeLauncher: RunLauncher {
    final class FakeRun: RunningRun {
        let clock: FakeClock
        let endsAt: Date
        var aborted = false
        var killed = false
        /// A run that ignores abort (blocked), so only kill ends it.
        let stubborn: Bool

        init(clock: FakeClock, endsAt: Date, stubborn: Bool) {
            self.clock = clock
            self.endsAt = endsAt
            self.stubborn = stubborn
        }

        var exitCode: Int32? {
            if killed { return 137 }
            if aborted && !stubborn { return 75 }
            return clock.now() >= endsAt ? 0 : nil
        }
        func abort() { aborted = true }
        func kill() { killed = true }
    }

    let clock: FakeClock
    let duration: TimeInterval
    var stubborn = false
    var starts: [(run: ScheduledRun, at: Date)] = []
    var runs: [FakeRun] = []

    init(clock: FakeClock, duration: TimeInterval) {
        self.clock = clock
        self.duration = duration
    }

    func start(_ run: ScheduledRun, of pipeline: ScheduledPipeline) -> RunningRun {
        #expect(runs.allSatisfy { $0.exitCode != nil }, "a run started while the previous one was still going")
        starts.append((run, clock.now()))
        let fake = FakeRun(clock: clock, endsAt: clock.now().addingTimeInterval(duration), stubborn: stubborn)
        runs.append(fake)
        return fake
    }
}

/// A nightly pipeline at 02:30 Paris time.
func nightly(_ catchup: CatchUpPolicy, cron: String = "30 2 * * *", zone: String = "Europe/Paris") -> ScheduledPipeline {
    ScheduledPipeline(name: "nightly", file: "nightly.yml", schedule: schedule(cron, zone), catchup: catchup)
}

let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// A scheduler over `pipeline` with a one-minute poll, its fake clock and launcher.
func makeScheduler(_ pipeline: ScheduledPipeline, start: String, lastFire: String?, runSeconds: TimeInterval = 600,
                   grace: TimeInterval = 300, signals: @escaping (Date) -> SchedulerSignal? = { _ in nil },
                   reload: @escaping () throws -> [ScheduledPipeline] = { throw CancellationError() })
    -> (Scheduler, FakeClock, FakeLauncher, MemoryCursorStore) {
    let clock = FakeClock(start)
    let launcher = FakeLauncher(clock: clock, duration: runSeconds)
    let store = MemoryCursorStore(lastFire.map { ["nightly": utc($0)] } ?? [:])
    let scheduler = Scheduler(pipelines: [pipeline], clock: clock, launcher: launcher, cursors: store,
                              options: SchedulerOptions(grace: grace, abortWait: 30, pollInterval: 60), logger: quiet,
                              signals: { signals(clock.now()) }, reload: reload)
    return (scheduler, clock, launcher, store)
}

@Suite("Scheduler with an injected clock")
struct SchedulerTests {
    @Test func runsEachNightAtTheFireTimeWithItsAsOfDate() {
        let (scheduler, _, launcher, store) = makeScheduler(nightly(.latest), start: "2026-11-24T12:00:00Z", lastFire: nil)
        scheduler.run(until: utc("2026-11-27T12:00:00Z"))
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-11-25T01:30:00Z", "2026-11-26T01:30:00Z", "2026-11-27T01:30:00Z"])
        #expect(launcher.starts.map(\.run.asOf.description) == ["2026-11-25", "2026-11-26", "2026-11-27"])
        #expect(launcher.starts.allSatisfy { !$0.run.late })
        #expect(store.fires["nightly"].map(iso8601) == "2026-11-27T01:30:00Z")
    }

    @Test func catchupLatestRunsTheMostRecentMissedNightOnce() {
        // Down from the night of the 22nd to the 25th at 10:00: three nights missed.
        let (scheduler, _, launcher, _) = makeScheduler(nightly(.latest), start: "2026-11-25T09:00:00Z", lastFire: "2026-11-22T01:30:00Z")
        scheduler.run(until: utc("2026-11-25T12:00:00Z"))
        #expect(launcher.starts.map(\.run.asOf.description) == ["2026-11-25"])
        #expect(launcher.starts.first?.run.late == true)
        #expect(launcher.starts.first.map { iso8601($0.at) } == "2026-11-25T09:00:00Z")
    }

    @Test func catchupAllRunsEveryMissedNightOldestFirst() {
        let (scheduler, _, launcher, _) = makeScheduler(nightly(.all), start: "2026-11-25T09:00:00Z", lastFire: "2026-11-22T01:30:00Z")
        scheduler.run(until: utc("2026-11-25T12:00:00Z"))
        #expect(launcher.starts.map(\.run.asOf.description) == ["2026-11-23", "2026-11-24", "2026-11-25"])
        // One after the other, never two at once.
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-11-25T09:00:00Z", "2026-11-25T09:10:00Z", "2026-11-25T09:20:00Z"])
    }

    @Test func catchupNoneSkipsMissedNightsAndWaitsForTheNextOne() {
        let (scheduler, _, launcher, store) = makeScheduler(nightly(.none), start: "2026-11-25T09:00:00Z", lastFire: "2026-11-22T01:30:00Z")
        scheduler.run(until: utc("2026-11-26T12:00:00Z"))
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-11-26T01:30:00Z"])
        #expect(store.fires["nightly"].map(iso8601) == "2026-11-26T01:30:00Z")
    }

    @Test func aFirstStartCatchesUpNothing() {
        let (scheduler, _, launcher, store) = makeScheduler(nightly(.all), start: "2026-11-25T09:00:00Z", lastFire: nil)
        scheduler.run(until: utc("2026-11-25T12:00:00Z"))
        #expect(launcher.starts.isEmpty)
        #expect(store.fires["nightly"].map(iso8601) == "2026-11-25T09:00:00Z")
    }

    @Test(arguments: [
        (CatchUpPolicy.latest, ["10:00", "10:40", "11:40"]),  // the newest fire that came during each run
        (.none, ["10:00", "11:00"]),  // 10:20 and 10:40 are late when the first run ends at 10:50
        (.all, ["10:00", "10:20", "10:40"]),  // each, one after the other
    ])
    func aFireTimeDuringALongRunWaitsForItThenFollowsTheCatchupPolicy(policy: CatchUpPolicy, expectedFires: [String]) {
        // Every 20 minutes, runs of 50 minutes: never two at once (FakeLauncher checks), fires wait.
        let pipeline = nightly(policy, cron: "*/20 * * * *", zone: "UTC")
        let (scheduler, _, launcher, _) = makeScheduler(pipeline, start: "2026-11-25T09:59:00Z", lastFire: nil, runSeconds: 3000)
        scheduler.run(until: utc("2026-11-25T11:45:00Z"))
        #expect(launcher.starts.map { iso8601($0.run.fireTime) } == expectedFires.map { "2026-11-25T\($0):00Z" })
    }

    @Test func springGapFireRunsOnceOnTheScheduler() {
        let (scheduler, _, launcher, _) = makeScheduler(nightly(.latest, cron: "0,30 2 * * *"), start: "2026-03-28T23:00:00Z", lastFire: nil,
                                                       runSeconds: 60)
        scheduler.run(until: utc("2026-03-29T05:00:00Z"))
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-03-29T01:00:00Z"])
        #expect(launcher.starts.first?.run.asOf.description == "2026-03-29")
    }

    @Test func autumnRepeatFireRunsOnceOnTheScheduler() {
        let (scheduler, _, launcher, _) = makeScheduler(nightly(.all, cron: "30 1 * * *", zone: "America/New_York"),
                                                       start: "2026-11-01T03:00:00Z", lastFire: nil, runSeconds: 60)
        scheduler.run(until: utc("2026-11-01T09:00:00Z"))
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-11-01T05:30:00Z"])
    }

    @Test func stopLetsTheCurrentRunFinishWithinTheGrace() {
        let stopAt = utc("2026-11-25T01:35:00Z")
        let (scheduler, _, launcher, store) = makeScheduler(nightly(.latest), start: "2026-11-25T01:00:00Z", lastFire: nil,
                                                           runSeconds: 600, grace: 900, signals: { $0 >= stopAt ? .stop : nil })
        let outcome = scheduler.run()
        #expect(outcome == SchedulerOutcome(started: 1, aborted: 0, killed: 0))
        #expect(launcher.runs.first?.aborted == false)
        #expect(store.fires["nightly"].map(iso8601) == "2026-11-25T01:30:00Z")
    }

    @Test func stopAbortsARunOutlivingTheGraceAndItIsCaughtUpLater() {
        let stopAt = utc("2026-11-25T01:35:00Z")
        var sent = false
        let (scheduler, clock, launcher, store) = makeScheduler(
            nightly(.latest), start: "2026-11-25T01:00:00Z", lastFire: nil, runSeconds: 3600, grace: 120,
            signals: { now in
                guard now >= stopAt, !sent else { return nil }
                sent = true
                return .stop
            })
        let outcome = scheduler.run()
        #expect(outcome == SchedulerOutcome(started: 1, aborted: 1, killed: 0))
        #expect(launcher.runs.first?.aborted == true)
        #expect(clock.now() < utc("2026-11-25T01:40:00Z"))
        // The interrupted night is not marked done: the next start catches it up.
        #expect(store.fires["nightly"].map(iso8601) == "2026-11-25T01:00:00Z")
    }

    @Test func aRunIgnoringAbortIsKilled() {
        let stopAt = utc("2026-11-25T01:35:00Z")
        let (scheduler, _, launcher, _) = makeScheduler(nightly(.latest), start: "2026-11-25T01:00:00Z", lastFire: nil,
                                                       runSeconds: 7200, grace: 60, signals: { $0 >= stopAt ? .stop : nil })
        launcher.stubborn = true
        let outcome = scheduler.run()
        #expect(outcome == SchedulerOutcome(started: 1, aborted: 1, killed: 1))
    }

    @Test func reloadKeepsTheOldSetWhenAFileNoLongerValidates() {
        let reloadAt = utc("2026-11-24T12:00:00Z")
        var asked = false
        let (scheduler, _, launcher, _) = makeScheduler(
            nightly(.latest), start: "2026-11-24T10:00:00Z", lastFire: nil,
            signals: { now in
                guard now >= reloadAt, !asked else { return nil }
                asked = true
                return .reload
            },
            reload: { throw DiagnosticList([Diagnostic("bad file", at: nil)]) })
        scheduler.run(until: utc("2026-11-25T12:00:00Z"))
        #expect(asked)
        #expect(scheduler.scheduled.map(\.name) == ["nightly"])
        #expect(launcher.starts.count == 1)
    }

    @Test func reloadTakesTheNewScheduleWhenEveryFileValidates() {
        let reloadAt = utc("2026-11-24T12:00:00Z")
        var asked = false
        let (scheduler, _, launcher, _) = makeScheduler(
            nightly(.latest), start: "2026-11-24T10:00:00Z", lastFire: nil,
            signals: { now in
                guard now >= reloadAt, !asked else { return nil }
                asked = true
                return .reload
            },
            reload: { [nightly(.latest, cron: "0 18 * * *", zone: "UTC")] })
        scheduler.run(until: utc("2026-11-25T12:00:00Z"))
        #expect(launcher.starts.map { iso8601($0.at) } == ["2026-11-24T18:00:00Z"])
    }
}
