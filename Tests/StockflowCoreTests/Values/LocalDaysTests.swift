import Testing
@testable import StockflowCore

/// The table of local days by UTC hour against the calendar it stands in front of: the same day for
/// every instant, in order and out of order, across DST changes, before the first hour asked, far
/// apart, and in a zone whose local midnight falls inside a UTC hour.
@Suite struct LocalDaysTests {
    @Test(arguments: ["Europe/Paris", "Asia/Kolkata", "America/St_Johns", "UTC"])
    func daysAreTheCalendarsOwn(zone: String) {
        let reference = LocalCalendar(identifier: zone)
        let days = LocalDays(LocalCalendar(identifier: zone))
        var random = SeededGenerator(seed: 7)
        // 2019-01-01 .. 2027-01-01 in microseconds, then a few far instants (the table's span grows both ways).
        let start: Int64 = 1_546_300_800_000_000, span: Int64 = 8 * 366 * 86_400_000_000
        var stamps: [Int64] = (0..<20_000).map { _ in start + Int64.random(in: 0..<span, using: &random) }
        stamps += [0, -1, -86_400_000_001, 4_102_444_800_000_000, 253_402_300_799_000_000, start - 1, start]
        // Every hour around the 2026 changes of Europe/Paris (29 March and 25 October, 01:00 UTC), to the microsecond edges.
        for base: Int64 in [1_774_746_000_000_000, 1_792_890_000_000_000] {
            for hour in -30...30 {
                let top = base + Int64(hour) * 3_600_000_000
                stamps += [top - 1, top, top + 1_800_000_000]
            }
        }
        for stamp in stamps {
            let instant = Timestamp(microseconds: stamp)
            #expect(days.day(of: instant) == reference.day(of: instant), "\(zone) \(instant)")
            #expect(days.day(of: .datetime(instant)) == reference.day(of: .datetime(instant)))
        }
        #expect(days.day(of: .date(CivilDate(days: 20_000))) == CivilDate(days: 20_000))
        #expect(days.day(of: .text("2026-11-30")) == nil)
        #expect(days.day(of: .null) == nil)
    }
}
