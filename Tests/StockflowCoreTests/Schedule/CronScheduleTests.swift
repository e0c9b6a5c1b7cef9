import Foundation
import Testing
@testable import StockflowCore

/// An instant from ISO 8601 UTC text.
func utc(_ text: String) -> Date { parseISO8601(text)! }

/// The schedule of `cron` in `zone`.
func schedule(_ cron: String, _ zone: String) -> CronSchedule {
    CronSchedule(cron: try! CronExpression(cron), timeZone: TimeZone(identifier: zone)!)
}

/// The first `count` fire times after `start`, as ISO text.
func fires(_ cron: String, _ zone: String, after start: String, count: Int) -> [String] {
    let plan = schedule(cron, zone)
    var cursor = utc(start)
    var result: [String] = []
    for _ in 0..<count {
        guard let next = plan.nextFire(after: cursor) else { break }
        result.append(iso8601(next))
        cursor = next
    }
    return result
}

@Suite("Cron fire times across daylight-saving changes")
struct CronScheduleTests {
    @Test func parisSpringSkippedTimeRunsOnceAtTheNextValidMinute() {
        // 2026-03-29: Paris jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist.
        #expect(fires("30 2 * * *", "Europe/Paris", after: "2026-03-28T12:00:00Z", count: 3)
                == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
    }

    @Test func parisSpringSeveralSkippedTimesCollapseIntoOneRun() {
        // 02:00 and 02:30 are skipped: one run at 03:00 CEST (01:00Z), which is also 03:00's own run.
        #expect(fires("0,30 2-3 * * *", "Europe/Paris", after: "2026-03-29T00:00:00Z", count: 3)
                == ["2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"])
    }

    @Test func parisAutumnRepeatedTimeRunsOnceAtItsFirstOccurrence() {
        // 2026-10-25: Paris goes back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
        #expect(fires("30 2 * * *", "Europe/Paris", after: "2026-10-24T12:00:00Z", count: 2)
                == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
    }

    @Test func newYorkSpringSkippedTimeRunsAtThreeAM() {
        // 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT.
        #expect(fires("30 2 * * *", "America/New_York", after: "2026-03-07T12:00:00Z", count: 2)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
    }

    @Test func newYorkAutumnRepeatedTimeRunsOnce() {
        // 2026-11-01: New York goes back from 02:00 EDT to 01:00 EST; 01:30 happens twice.
        #expect(fires("30 1 * * *", "America/New_York", after: "2026-10-31T12:00:00Z", count: 2)
                == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    }

    @Test func newYorkAutumnRepeatedHourFiresOnceForEveryQuarter() {
        // 01:00-01:45 EDT fire; the repeated 01:00-01:45 EST do not; 02:00 EST (07:00Z) is next.
        #expect(fires("*/15 * * * *", "America/New_York", after: "2026-11-01T04:50:00Z", count: 5)
                == ["2026-11-01T05:00:00Z", "2026-11-01T05:15:00Z", "2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z",
                    "2026-11-01T07:00:00Z"])
    }

    @Test func anHourlyJobKeepsItsPaceAcrossTheSpringGap() {
        #expect(fires("@hourly", "Europe/Paris", after: "2026-03-28T23:30:00Z", count: 4)
                == ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T03:00:00Z"])
    }

    @Test(arguments: [
        ("@daily", "2026-11-25T23:00:00Z"),
        ("@midnight", "2026-11-25T23:00:00Z"),
        ("@hourly", "2026-11-25T10:00:00Z"),
        ("@weekly", "2026-11-28T23:00:00Z"),
        ("@monthly", "2026-11-30T23:00:00Z"),
        ("@yearly", "2026-12-31T23:00:00Z"),
        ("@annually", "2026-12-31T23:00:00Z"),
    ])
    func macrosFireAtLocalMidnight(macro: String, expected: String) {
        #expect(fires(macro, "Europe/Paris", after: "2026-11-25T09:15:00Z", count: 1) == [expected])
    }

    @Test func dayOfMonthAndDayOfWeekAreOredWhenBothAreSet() {
        // The 13th or any Friday, 2026-11: Fri 13th, Fri 20th, Fri 27th, then Fri 4 Dec.
        #expect(fires("0 12 13 * 5", "UTC", after: "2026-11-10T00:00:00Z", count: 4)
                == ["2026-11-13T12:00:00Z", "2026-11-20T12:00:00Z", "2026-11-27T12:00:00Z", "2026-12-04T12:00:00Z"])
    }

    @Test func theAsOfDateIsTheLocalDayOfTheFireTime() {
        let plan = schedule("30 23 * * *", "America/New_York")
        let fire = plan.nextFire(after: utc("2026-11-25T12:00:00Z"))!
        #expect(iso8601(fire) == "2026-11-26T04:30:00Z")
        #expect(plan.asOf(fire).description == "2026-11-25")
        #expect(plan.describe(fire) == "2026-11-25 23:30 -05:00 America/New_York")
    }

    @Test func firesBetweenTwoInstantsKeepTheNewestWhenCut() {
        let plan = schedule("0 * * * *", "UTC")
        let all = plan.fires(after: utc("2026-11-25T00:00:00Z"), through: utc("2026-11-25T10:00:00Z"))
        #expect(all.count == 10)
        let cut = plan.fires(after: utc("2026-11-25T00:00:00Z"), through: utc("2026-11-25T10:00:00Z"), limit: 3)
        #expect(cut.map(iso8601) == ["2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"])
    }
}
