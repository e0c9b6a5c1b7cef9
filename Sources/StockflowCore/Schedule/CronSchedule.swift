import Foundation

/// The fire times of a cron expression read on the wall clock of an IANA time zone.
///
/// Cron speaks wall-clock time, and twice a year a zone with daylight saving time has wall-clock
/// minutes that never happen or happen twice. The rules, tested in `CronScheduleTests`:
///
/// - **Skipped in spring.** A matching local time inside the gap (02:30 in Europe/Paris on the last
///   Sunday of March, when clocks jump from 02:00 to 03:00) runs once, at the first valid minute
///   after the gap (03:00 local). Several skipped matches collapse into that one run, and a match at
///   that minute itself (03:00) is the same run, not a second one.
/// - **Repeated in autumn.** A matching local time that happens twice (01:30 in America/New_York on
///   the first Sunday of November, when clocks go back from 02:00 to 01:00) runs once, at its first
///   occurrence (daylight time). This holds for every expression, `*/15 * * * *` included: the
///   repeated hour's minutes fire once, not twice.
///
/// Fire times are whole minutes. The as-of date of a fire is its local calendar day.
public struct CronSchedule: Sendable {
    /// The expression.
    public let cron: CronExpression
    /// The zone its wall clock is read in.
    public let timeZone: TimeZone
    /// The zone's name as the pipeline wrote it (Foundation calls `UTC` "GMT").
    public let zoneName: String

    /// How far ahead `nextFire` looks: 400 years, the Gregorian cycle, in which every date falls on
    /// every weekday (`0 0 29 2 */7`, February 29 on a Sunday, can be 40 years away).
    static let searchDays = 146_097

    /// A schedule for `cron` read in `timeZone`.
    public init(cron: CronExpression, timeZone: TimeZone, zoneName: String? = nil) {
        self.cron = cron
        self.timeZone = timeZone
        self.zoneName = zoneName ?? timeZone.identifier
    }

    /// A schedule from a pipeline's `schedule:` (its zone was validated when the file was read).
    public init(_ schedule: PipelineSchedule) {
        if let zone = TimeZone(identifier: schedule.timezone) {
            self.init(cron: schedule.cron, timeZone: zone, zoneName: schedule.timezone)
        } else {
            self.init(cron: schedule.cron, timeZone: TimeZone(secondsFromGMT: 0) ?? .current, zoneName: "UTC")
        }
    }

    /// The first fire time strictly after `instant`, or nil when the expression never matches a real day.
    public func nextFire(after moment: Date) -> Date? {
        let after = moment.timeIntervalSince1970
        let start = wallMinute(of: after)
        let firstDay = floorDivide(start, 1440)
        let hours = cron.hours.sorted()
        let minutes = cron.minutes.sorted()
        for day in firstDay..<(firstDay + Int64(CronSchedule.searchDays)) {
            guard matches(day: CivilDate(days: Int32(day))) else { continue }
            for hour in hours {
                // Skip whole hours already behind us.
                if day * 1440 + Int64(hour) * 60 + 59 < start { continue }
                for minute in minutes {
                    let wall = day * 1440 + Int64(hour) * 60 + Int64(minute)
                    if wall < start { continue }
                    let fire = instant(ofWallMinute: wall)
                    if fire > after { return Date(timeIntervalSince1970: fire) }
                }
            }
        }
        return nil
    }

    /// Fire times in `(after, through]`, oldest first, at most `limit` (the newest ones when cut).
    public func fires(after: Date, through: Date, limit: Int = 1000) -> [Date] {
        var result: [Date] = []
        var cursor = after
        while let next = nextFire(after: cursor), next <= through {
            result.append(next)
            if result.count > limit { result.removeFirst() }
            cursor = next
        }
        return result
    }

    /// The local calendar day of a fire time: the as-of date of its run.
    public func asOf(_ fire: Date) -> CivilDate {
        CivilDate(days: Int32(floorDivide(wallMinute(of: fire.timeIntervalSince1970), 1440)))
    }

    /// `2026-03-29 03:00 +02:00 Europe/Paris`: a fire time as people read it.
    public func describe(_ fire: Date) -> String {
        let wall = wallMinute(of: fire.timeIntervalSince1970)
        let day = CivilDate(days: Int32(floorDivide(wall, 1440)))
        let minuteOfDay = wall - Int64(day.days) * 1440
        let offset = timeZone.secondsFromGMT(for: fire) / 60
        let sign = offset < 0 ? "-" : "+"
        return String(format: "%@ %02d:%02d %@%02d:%02d %@", day.description, Int(minuteOfDay / 60), Int(minuteOfDay % 60),
                      sign, abs(offset) / 60, abs(offset) % 60, zoneName)
    }

    /// Whether a local day runs: its month, then cronie's day rule (see `CronExpression`).
    private func matches(day: CivilDate) -> Bool {
        let (_, month, dayOfMonth) = day.components
        guard cron.months.contains(month) else { return false }
        return cron.matches(dayOfMonth: dayOfMonth, weekday: day.isoWeekday % 7)  // Sunday = 0
    }

    /// Minutes since 1970-01-01 00:00 on the zone's wall clock.
    private func wallMinute(of seconds: TimeInterval) -> Int64 {
        let whole = Int64(seconds.rounded(.down))
        return floorDivide(whole + offset(at: whole), 60)
    }

    private func offset(at seconds: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }

    /// The instant a wall-clock minute happens: its first occurrence when repeated, the end of the
    /// gap when skipped.
    private func instant(ofWallMinute wall: Int64) -> TimeInterval {
        let local = wall * 60
        // At most one transition within a day on either side: its two offsets are the candidates.
        let before = offset(at: local - 86_400)
        let after = offset(at: local + 86_400)
        let valid = Set([before, after]).map { local - $0 }.filter { offset(at: $0) + $0 == local }
        if let first = valid.min() { return TimeInterval(first) }
        // In the gap: the transition lies between the two readings of the wall time; find its second.
        var low = local - max(before, after)  // still before the transition
        var high = local - min(before, after)  // already after it
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == before { low = middle } else { high = middle }
        }
        return TimeInterval((high + 59) / 60 * 60)
    }
}

/// Integer division rounding toward negative infinity.
private func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
}
