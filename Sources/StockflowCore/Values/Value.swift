/// The type of a column, as declared in a pipeline or read from a source's schema.
public enum ColumnType: String, Sendable, CaseIterable, Codable {
    case int, decimal, text, bool, date, datetime

    /// The names accepted in pipeline files, with their aliases.
    public static func named(_ name: String) -> ColumnType? {
        switch name.lowercased() {
        case "int", "integer": return .int
        case "decimal", "money", "numeric": return .decimal
        case "text", "string": return .text
        case "bool", "boolean": return .bool
        case "date": return .date
        case "datetime", "timestamp": return .datetime
        default: return nil
        }
    }
}

/// One typed cell.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case null
    case int(Int64)
    case decimal(Money)
    case text(String)
    case bool(Bool)
    case date(CivilDate)
    case datetime(Timestamp)

    /// True for `.null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The value as an exact decimal, when it is numeric.
    public var asMoney: Money? {
        switch self {
        case .int(let value): return Money(value)
        case .decimal(let value): return value
        default: return nil
        }
    }

    /// The value as an integer, when it is an integer (or a decimal without fraction).
    public var asInt: Int64? {
        switch self {
        case .int(let value): return value
        case .decimal(let value):
            let rounded = value.rounded(to: 0)
            return rounded == value ? rounded.units : nil
        default: return nil
        }
    }

    /// The calendar day of a date or datetime (UTC for datetimes).
    public var asDate: CivilDate? {
        switch self {
        case .date(let date): return date
        case .datetime(let stamp): return stamp.utcDate
        default: return nil
        }
    }

    /// Plain machine text: ISO dates, `.` decimals, `true`/`false`, empty for null.
    public var description: String {
        switch self {
        case .null: return ""
        case .int(let value): return String(value)
        case .decimal(let value): return value.description
        case .text(let value): return value
        case .bool(let value): return value ? "true" : "false"
        case .date(let value): return value.description
        case .datetime(let value): return value.description
        }
    }

    /// Orders values of the same type; nulls first; mixed numeric types compare exactly.
    public static func compare(_ lhs: Value, _ rhs: Value) -> Int {
        switch (lhs, rhs) {
        case (.null, .null): return 0
        case (.null, _): return -1
        case (_, .null): return 1
        case (.int(let a), .int(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.text(let a), .text(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
        case (.date(let a), .date(let b)): return a.days < b.days ? -1 : (a.days == b.days ? 0 : 1)
        case (.datetime(let a), .datetime(let b)):
            return a.microseconds < b.microseconds ? -1 : (a.microseconds == b.microseconds ? 0 : 1)
        default:
            if let a = lhs.asMoney, let b = rhs.asMoney { return a < b ? -1 : (a == b ? 0 : 1) }
            if let a = lhs.asDate, let b = rhs.asDate { return a.days < b.days ? -1 : (a.days == b.days ? 0 : 1) }
            return lhs.description < rhs.description ? -1 : (lhs.description == rhs.description ? 0 : 1)
        }
    }
}

/// A calendar day without time zone, counted in days since 1970-01-01.
public struct CivilDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public var days: Int32

    /// Makes a date from its day count.
    public init(days: Int32) { self.days = days }

    /// Makes a date from year, month and day; nil when the day does not exist (31/02).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysIn(month: month, year: year),
              (1...9999).contains(year) else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        days = Int32(era * 146_097 + doe - 719_468)
    }

    /// The number of days in a month.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Year, month and day.
    public var components: (year: Int, month: Int, day: Int) {
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// ISO weekday, 1 = Monday ... 7 = Sunday.
    public var isoWeekday: Int {
        let weekday = (Int(days) + 3) % 7  // 1970-01-01 was a Thursday (index 3 from Monday).
        return (weekday < 0 ? weekday + 7 : weekday) + 1
    }

    /// ISO 8601 week-numbering year and week.
    public var isoWeek: (year: Int, week: Int) {
        let thursday = CivilDate(days: days - Int32(isoWeekday) + 4)
        let year = thursday.components.year
        guard let januaryFirst = CivilDate(year: year, month: 1, day: 1) else { return (year, 1) }
        return (year, Int(thursday.days - januaryFirst.days) / 7 + 1)
    }

    /// The Excel serial number of this day (1900 date system).
    public var excelSerial: Double { Double(days) + 25_569 }

    /// ISO form `2026-11-24`.
    public var description: String {
        let (year, month, day) = components
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.days < rhs.days }

    /// Parses `YYYY-MM-DD`.
    public init?(iso text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]),
              let day = Int(parts[2]) else { return nil }
        self.init(year: year, month: month, day: day)
    }
}

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since the Unix epoch, UTC.
    public var microseconds: Int64

    /// Makes an instant from its microsecond count.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Makes an instant from a UTC civil date and time of day.
    public init(date: CivilDate, hour: Int, minute: Int, second: Int, microsecond: Int = 0) {
        let seconds = Int64(date.days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        microseconds = seconds * 1_000_000 + Int64(microsecond)
    }

    /// The UTC calendar day.
    public var utcDate: CivilDate {
        let day = microseconds >= 0 ? microseconds / 86_400_000_000 : (microseconds - 86_399_999_999) / 86_400_000_000
        return CivilDate(days: Int32(day))
    }

    /// The Excel serial number of this instant (UTC).
    public var excelSerial: Double { Double(microseconds) / 86_400_000_000 + 25_569 }

    /// ISO 8601 UTC: `2026-11-24T14:05:00Z`, with microseconds when present.
    public var description: String {
        let date = utcDate
        let inDay = microseconds - Int64(date.days) * 86_400_000_000
        let seconds = Int(inDay / 1_000_000)
        let micro = Int(inDay % 1_000_000)
        var text = "\(date)T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if micro != 0 { text += "." + pad(micro, 6) }
        return text + "Z"
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }
}

/// Zero-pads a non-negative integer to `width` digits.
func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

/// `YYYY-MM`, written straight into a small string (called once per row by month groupings).
func yearMonthText(_ year: Int, _ month: Int) -> String {
    guard (0...9999).contains(year), (1...12).contains(month) else { return "\(pad(year, 4))-\(pad(month, 2))" }
    return String(unsafeUninitializedCapacity: 7) { buffer in
        buffer[0] = UInt8(48 + year / 1000)
        buffer[1] = UInt8(48 + year / 100 % 10)
        buffer[2] = UInt8(48 + year / 10 % 10)
        buffer[3] = UInt8(48 + year % 10)
        buffer[4] = UInt8(ascii: "-")
        buffer[5] = UInt8(48 + month / 10)
        buffer[6] = UInt8(48 + month % 10)
        return 7
    }
}
