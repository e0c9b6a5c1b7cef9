import Foundation
import Testing
@testable import StockflowCore

/// `TZifZone` reads the system's zone files; Foundation's `TimeZone` (ICU's data) is the reference.
struct TZifZoneTests {
    /// Instants from 1970 to 2100: every 9 days and 7 hours, plus a second either side of each of
    /// Foundation's transitions in the period (where a wrong rule shows first).
    private func instants(_ zone: TimeZone) -> [Int64] {
        var result: [Int64] = []
        var seconds: Int64 = 0
        while seconds < 4_102_444_800 {
            result.append(seconds)
            seconds += 9 * 86_400 + 7 * 3600
        }
        var cursor = Date(timeIntervalSince1970: 0)
        while let next = zone.nextDaylightSavingTimeTransition(after: cursor), next.timeIntervalSince1970 < 4_102_444_800 {
            let second = Int64(next.timeIntervalSince1970)
            result += [second - 1, second, second + 1]
            cursor = next
        }
        return result
    }

    private func mismatches(_ name: String) -> [String] {
        guard let reference = TimeZone(identifier: name) else { return ["Foundation does not know \(name)"] }
        guard let zone = TZifZone.named(name) else { return ["no zone file read for \(name)"] }
        var found: [String] = []
        for second in instants(reference) {
            let expected = reference.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(second)))
            let actual = zone.secondsFromGMT(at: second)
            if expected != actual && found.count < 3 { found.append("\(name) at \(second): \(actual) instead of \(expected)") }
        }
        return found
    }

    @Test func offsetsAgreeWithFoundationInTheZonesPipelinesUse() {
        for name in ["Europe/Paris", "UTC", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham",
                     "America/Sao_Paulo", "Europe/London", "Africa/Casablanca", "America/St_Johns", "Asia/Tehran", "Pacific/Apia"] {
            #expect(mismatches(name) == [])
        }
    }

    @Test func offsetsAgreeWithFoundationInEveryZoneItKnows() {
        var all: [String] = []
        for name in TimeZone.knownTimeZoneIdentifiers { all += mismatches(name) }
        #expect(all == [])
    }

    @Test func namesAreZonesWhereFoundationHasThem() {
        for name in ["Europe/Paris", "UTC", "GMT", "EST", "Etc/GMT+5", "America/Argentina/Buenos_Aires", "Europe/Nowhere",
                     "europe/paris", "", "/etc/passwd", "../zoneinfo/UTC", "Europe/../UTC", "Europe/Paris/", "Europe//Paris",
                     "iso3166.tab", "zone.tab"] {
            #expect((TZifZone.named(name) != nil) == (TimeZone(identifier: name) != nil), "\(name)")
        }
    }

    @Test func aFooterRuleGivesTheOffsetsPastTheLastTransition() throws {
        let paris = try #require(PosixZoneRule(text: "CET-1CEST,M3.5.0,M10.5.0/3"))
        // 2100-03-28 is the last Sunday of March: 01:00 UTC is 02:00 CET, when the clocks go to 03:00.
        let spring: Int64 = 4_109_878_800
        #expect(paris.offset(at: spring - 1) == 3600)
        #expect(paris.offset(at: spring) == 7200)
        let sydney = try #require(PosixZoneRule(text: "AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.offset(at: 4_102_444_800) == 39_600)  // 2100-01-01, summer in the south
        #expect(sydney.offset(at: 4_118_000_000) == 36_000)  // June 2100
        #expect(try #require(PosixZoneRule(text: "<+0530>-5:30")).offset(at: 0) == 19_800)
        #expect(PosixZoneRule(text: "CET-1CEST,M13.5.0,M10.5.0") == nil)
        #expect(PosixZoneRule(text: "") == nil)
    }

    @Test func todayIsTheLocalDayAsFoundationsCalendarSaysIt() throws {
        for name in ["Europe/Paris", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"] {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = try #require(TimeZone(identifier: name))
            for seconds in stride(from: 1_764_000_000, to: 1_764_200_000, by: 3_599) {
                let now = Date(timeIntervalSince1970: TimeInterval(seconds))
                let parts = calendar.dateComponents([.year, .month, .day], from: now)
                let expected = try #require(CivilDate(year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0))
                #expect(RunSession.today(in: name, now: now) == expected, "\(name) \(seconds)")
            }
        }
    }
}
