import Foundation
import Testing
@testable import StockflowCore

/// The parse error of `cron`, or nil when it parses.
private func parseError(_ cron: String) -> CronExpression.ParseError? {
    do {
        _ = try CronExpression(cron)
        return nil
    } catch let error as CronExpression.ParseError {
        return error
    } catch {
        return CronExpression.ParseError(message: "\(error)", offset: -1)
    }
}

/// The `schedule:` diagnostics of a pipeline whose schedule line is `line`.
private func scheduleDiagnostics(_ line: String) -> [Diagnostic] {
    let scratch = Scratch()
    defer { scratch.cleanup() }
    scratch.write("in.csv", "a\n1\n")
    return diagnostics(of: "version: 1\nname: probe\n\(line)\nstages:\n  src:\n    extract: csv\n    path: in.csv\n", in: scratch)
}

@Suite("Cron read as Vixie cron and cronie read a crontab")
struct CronRuleTests {
    @Test(arguments: [
        ("0 0 31 2 *", ["'31'", "'2'", "never", "February"]),
        ("0 0 30 2 *", ["'30'", "'2'", "February"]),
        ("0 0 31 4,6,9,11 *", ["'31'", "'4,6,9,11'", "April, June, September, November"]),
        ("0 0 30,31 feb *", ["'30,31'", "'feb'"]),
        ("0 0 31 2 */2", ["'31'", "'2'"]),
    ])
    func aCronThatCanNeverFireIsAnErrorNamingTheFields(cron: String, fragments: [String]) throws {
        let error = try #require(parseError(cron))
        #expect(error.message.contains("never fires"), "\(error.message)")
        for fragment in fragments { #expect(error.message.contains(fragment), "\(error.message)") }
        #expect(error.offset == cron.distance(from: cron.startIndex, to: cron.firstIndex(of: "3")!), "points at the day-of-month field")
    }

    @Test func aNeverFiringCronFailsValidationAtItsDayOfMonthField() {
        let found = scheduleDiagnostics("schedule: {cron: \"0 0 31 2 *\", timezone: Europe/Paris}")
        #expect(found.count == 1)
        #expect(found.first?.position?.line == 3)
        #expect(found.first?.position?.column == 23)
        #expect(found.first?.message.contains("day-of-month field '31' and month field '2' never meet") == true, "\(found)")
    }

    @Test(arguments: ["0 0 29 2 *", "0 0 31 1-12 *", "0 0 30 2 1", "0 0 31 2 mon", "0 0 29 2 */7", "@monthly", "@weekly"])
    func expressionsThatFireSomeDayAreAccepted(cron: String) {
        #expect(parseError(cron) == nil)
    }

    @Test func february29OnASundayIsFoundEvenDecadesAway() throws {
        // The AND rule (day-of-week starts with '*'): February 29 that is a Sunday: 2032, then 2060.
        let plan = schedule("0 0 29 2 */7", "UTC")
        let first = try #require(plan.nextFire(after: utc("2026-01-01T00:00:00Z")))
        #expect(iso8601(first) == "2032-02-29T00:00:00Z")
        #expect(plan.nextFire(after: first).map(iso8601) == "2060-02-29T00:00:00Z")
    }

    /// cronie's rule (src/cron.c): `DOM_STAR || DOW_STAR ? dom && dow : dom || dow`, the flags set when
    /// the field's first character is `*`.
    @Test(arguments: [
        // Both restricted, neither starts with '*': either field (13 Dec 2026 is a Sunday).
        ("0 12 13 * 5", ["2026-11-27T12:00:00Z", "2026-12-04T12:00:00Z", "2026-12-11T12:00:00Z", "2026-12-13T12:00:00Z", "2026-12-18T12:00:00Z", "2026-12-25T12:00:00Z"]),
        // Day-of-month starts with '*' (*/7 is 1,8,15,22,29): both fields, so Fridays among those days.
        ("0 0 */7 * 5", ["2027-01-01T00:00:00Z", "2027-01-08T00:00:00Z", "2027-01-15T00:00:00Z", "2027-01-22T00:00:00Z", "2027-01-29T00:00:00Z", "2027-10-01T00:00:00Z"]),
        // Day-of-week starts with '*' (*/2 is Sunday, Tuesday, Thursday, Saturday): the 1st on those days.
        ("0 0 1 * */2", ["2026-12-01T00:00:00Z", "2027-04-01T00:00:00Z", "2027-05-01T00:00:00Z", "2027-06-01T00:00:00Z", "2027-07-01T00:00:00Z", "2027-08-01T00:00:00Z"]),
        // A range is not a star: 1-7 or any Monday.
        ("0 0 1-7 * 1", ["2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z"]),
        // Plain '*' in one field: the other decides.
        ("0 0 * * 0", ["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z", "2026-12-20T00:00:00Z", "2026-12-27T00:00:00Z", "2027-01-03T00:00:00Z"]),
    ])
    func dayFieldsFollowCronie(cron: String, expected: [String]) {
        #expect(fires(cron, "UTC", after: "2026-11-26T00:00:00Z", count: expected.count) == expected)
    }

    @Test func aDayFieldStartingWithAStarIsWhatMakesTheAND() throws {
        let star = try CronExpression("0 0 */1 * 5")
        #expect(star.dayOfMonthStar && !star.dayOfWeekStar)
        #expect(star.matches(dayOfMonth: 13, weekday: 5))
        #expect(!star.matches(dayOfMonth: 14, weekday: 6), "every day of the month is allowed, but only Fridays run")
        let range = try CronExpression("0 0 1-31 * 5")
        #expect(!range.dayOfMonthStar)
        #expect(range.matches(dayOfMonth: 14, weekday: 6), "1-31 is restricted by cronie's rule: the fields are ORed, so every day runs")
    }

    @Test func leadingSpacesInAQuotedCronDoNotShiftTheColumn() {
        let found = scheduleDiagnostics("schedule: {cron: \"   30 25 * * *\", timezone: UTC}")
        // `schedule: {cron: "` is 18 characters; three spaces; `30 ` ; the hour is at column 25.
        #expect(found.first?.position?.column == 25, "\(found)")
        #expect(found.first?.message.contains("hour field '25'") == true)
        #expect(parseError("  61 * * * *")?.offset == 2)
    }

    @Test(arguments: ["+5 * * * *", "5 +2 * * *", "0 0 */+2 * *", "0 0 1 -1 *", "0 0 1 1 ٣"])
    func signedOrNonASCIINumbersAreRefused(cron: String) {
        #expect(parseError(cron) != nil, "\(cron)")
    }

    @Test func aTabBetweenFieldsIsASeparator() throws {
        let cron = try CronExpression("30\t2 * *\t*")
        #expect(cron.minutes == [30] && cron.hours == [2])
        #expect(parseError("30\t25 * *\t*")?.offset == 3)
    }

    @Test func utcPrintsAsUTC() throws {
        let plan = CronSchedule(PipelineSchedule(cron: try CronExpression("0 6 * * *"), timezone: "UTC", catchup: .latest))
        let fire = try #require(plan.nextFire(after: utc("2026-11-25T00:00:00Z")))
        #expect(plan.describe(fire) == "2026-11-25 06:00 +00:00 UTC")
        #expect(plan.zoneName == "UTC")
    }
}
