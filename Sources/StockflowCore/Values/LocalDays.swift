/// The local day of instants, through a table by UTC hour in front of a `LocalCalendar`.
///
/// `LocalCalendar.day(of:)` answers an hour it saw last at once and any other hour through a
/// dictionary (a hash per row when rows are not in time order, as invoices by order are). This keeps
/// the local day of each UTC hour seen in an array indexed by the hour, filled from the calendar the
/// first time an hour is asked: a look-up is a subtraction and an array read. An hour whose start and
/// end fall on different local days (a zone whose offset is not a whole number of hours, where local
/// midnight falls inside the hour) is marked as such and asked of the calendar every time, so the days
/// are always the calendar's own.
final class LocalDays {
    let calendar: LocalCalendar
    /// Local day of hour `firstHour + i`: `unknown` until asked, `split` when midnight falls inside it.
    private var days: [Int32] = []
    private var firstHour: Int64 = 0
    private static let unknown = Int32.min
    private static let split = Int32.min + 1
    /// The widest span of hours kept (about 114 years, 4 MB); hours beyond it go to the calendar.
    private static let maximumHours: Int64 = 1 << 20

    init(_ calendar: LocalCalendar) { self.calendar = calendar }

    /// The local day of a datetime, the day itself for a date, nil otherwise (as `LocalCalendar.day(of:)`).
    func day(of value: Value) -> CivilDate? {
        switch value {
        case .date(let date): return date
        case .datetime(let stamp): return day(of: stamp)
        default: return nil
        }
    }

    /// The local day of an instant (the same as `calendar.day(of: stamp)`).
    func day(of stamp: Timestamp) -> CivilDate {
        let micro = stamp.microseconds
        let hour = micro >= 0 ? micro / 3_600_000_000 : (micro - 3_599_999_999) / 3_600_000_000
        let index = hour &- firstHour
        if index >= 0 && index < Int64(days.count) {
            let known = days[Int(index)]
            if known > LocalDays.split { return CivilDate(days: known) }
            if known == LocalDays.split { return calendar.day(of: stamp) }
        } else if !cover(hour) {
            return calendar.day(of: stamp)
        }
        // Asked for the first time: the hour's start and last microsecond.
        let start = calendar.day(of: Timestamp(microseconds: hour * 3_600_000_000))
        let end = calendar.day(of: Timestamp(microseconds: hour * 3_600_000_000 + 3_599_999_999))
        let slot = Int(hour - firstHour)
        if start == end {
            days[slot] = start.days
            return start
        }
        days[slot] = LocalDays.split
        return calendar.day(of: stamp)
    }

    /// Grows the table to hold `hour` (false when the span would pass `maximumHours`).
    private func cover(_ hour: Int64) -> Bool {
        if days.isEmpty {
            // A first span of about a year around the first hour asked.
            firstHour = hour - 4096
            days = Array(repeating: LocalDays.unknown, count: 8192)
            return true
        }
        let last = firstHour + Int64(days.count)
        let newFirst = min(firstHour, hour), newEnd = max(last, hour + 1)
        guard newEnd - newFirst <= LocalDays.maximumHours else { return false }
        // At least doubling, so that a spread of instants costs few copies.
        let grown = min(max(newEnd - newFirst, Int64(days.count) * 2), LocalDays.maximumHours)
        if hour < firstHour {
            // Grown to the left only: the span ends where it ended.
            let start = last - grown
            days = Array(repeating: LocalDays.unknown, count: Int(firstHour - start)) + days
            firstHour = start
        } else {
            days += Array(repeating: LocalDays.unknown, count: Int(grown) - days.count)
        }
        return true
    }
}
