import Foundation

/// A standard five-field cron expression (minute hour day-of-month month day-of-week), or a macro,
/// read as Vixie cron and cronie read a crontab line.
///
/// The day rule is cronie's: when the day-of-month or the day-of-week field *starts with* `*`
/// (`*`, `*/7`, `*,15`), a day must match both fields; when neither does, a day matching either runs.
/// So `0 0 13 * 5` runs on every 13th and on every Friday, `0 0 */7 * 5` only on Fridays that are
/// the 1st, 8th, 15th, 22nd or 29th, and `0 0 1-7 * 1` on the first seven days and on every Monday.
public struct CronExpression: Sendable, Equatable {
    /// Allowed minutes (0-59).
    public var minutes: Set<Int>
    /// Allowed hours (0-23).
    public var hours: Set<Int>
    /// Allowed days of the month (1-31).
    public var daysOfMonth: Set<Int>
    /// Allowed months (1-12).
    public var months: Set<Int>
    /// Allowed weekdays (0-6, Sunday = 0).
    public var daysOfWeek: Set<Int>
    /// Whether the day-of-month field starts with `*` (cronie's DOM_STAR): the day fields are ANDed.
    public var dayOfMonthStar: Bool
    /// Whether the day-of-week field starts with `*` (cronie's DOW_STAR): the day fields are ANDed.
    public var dayOfWeekStar: Bool
    /// The text as written.
    public var text: String

    /// A field that is not valid, with its 0-based character offset in the expression as written.
    public struct ParseError: Error, Equatable {
        public var message: String
        public var offset: Int
    }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let monthTitles = ["January", "February", "March", "April", "May", "June", "July", "August",
                                      "September", "October", "November", "December"]
    /// The most days each month can have (February 29 in leap years).
    private static let monthLengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses an expression; throws a `ParseError` naming the bad field, or the fields that never meet.
    public init(_ text: String) throws {
        self.text = text
        // Fields are separated by spaces or tabs; offsets count from the text as written.
        var fields: [(text: Substring, offset: Int)] = []
        var fieldStart: String.Index?
        var fieldOffset = 0
        var offset = 0
        for index in text.indices {
            let character = text[index]
            if character == " " || character == "\t" {
                if let start = fieldStart { fields.append((text[start..<index], fieldOffset)) }
                fieldStart = nil
            } else if fieldStart == nil {
                fieldStart = index
                fieldOffset = offset
            }
            offset += 1
        }
        if let start = fieldStart { fields.append((text[start...], fieldOffset)) }
        if fields.count == 1, fields[0].text.hasPrefix("@") {
            let name = fields[0].text.lowercased()
            guard let macro = CronExpression.macros[name] else {
                throw ParseError(message: "unknown cron macro '\(fields[0].text)'; use one of \(CronExpression.macros.keys.sorted().joined(separator: ", "))", offset: fields[0].offset)
            }
            let macroOffset = fields[0].offset
            fields = macro.split(separator: " ").map { ($0, macroOffset) }
        }
        guard fields.count == 5 else {
            throw ParseError(message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found \(fields.count) in '\(text)'", offset: fields.first?.offset ?? 0)
        }
        minutes = try CronExpression.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try CronExpression.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try CronExpression.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try CronExpression.field(fields[3], name: "month", range: 1...12, names: CronExpression.monthNames, nameBase: 1)
        var weekdays = try CronExpression.field(fields[4], name: "day-of-week", range: 0...7, names: CronExpression.dayNames)
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        daysOfWeek = weekdays
        dayOfMonthStar = fields[2].text.hasPrefix("*") || fields[2].text.hasPrefix("?")
        dayOfWeekStar = fields[4].text.hasPrefix("*") || fields[4].text.hasPrefix("?")
        // A day must match the day-of-month field unless the two day fields are ORed (neither starts
        // with `*`), where any weekday in any month can run. Every month has each weekday, and every
        // date of the calendar falls on each weekday in some year, so only month and day can fail.
        let needsDayOfMonth = dayOfMonthStar || dayOfWeekStar
        if needsDayOfMonth && !months.contains(where: { month in
            daysOfMonth.contains(where: { $0 <= CronExpression.monthLengths[month - 1] })
        }) {
            let monthText = months.sorted().map { CronExpression.monthTitles[$0 - 1] }.joined(separator: ", ")
            throw ParseError(message: "this expression never fires: day-of-month field '\(fields[2].text)' and month field '\(fields[3].text)' never meet (no day \(daysOfMonth.sorted().map(String.init).joined(separator: ", ")) in \(monthText))", offset: fields[2].offset)
        }
    }

    /// Whether a day runs, by cronie's rule (see the type's documentation).
    public func matches(dayOfMonth: Int, weekday: Int) -> Bool {
        let domMatch = daysOfMonth.contains(dayOfMonth)
        let dowMatch = daysOfWeek.contains(weekday)
        if dayOfMonthStar || dayOfWeekStar { return domMatch && dowMatch }
        return domMatch || dowMatch
    }

    private static func field(_ field: (text: Substring, offset: Int), name: String, range: ClosedRange<Int>,
                              names: [String], nameBase: Int = 0) throws -> Set<Int> {
        var values = Set<Int>()
        func problem(_ why: String) -> ParseError {
            ParseError(message: "\(name) field '\(field.text)': \(why)", offset: field.offset)
        }
        /// Plain digits only: `+5` and `-5` are not cron numbers.
        func digits(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(text)
        }
        func number(_ text: Substring) throws -> Int {
            if let value = digits(text), range.contains(value) { return value }
            if let index = names.firstIndex(of: text.lowercased()) { return index + nameBase }
            throw problem("'\(text)' is not in \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or a name like \(names[0])")")
        }
        for part in field.text.split(separator: ",", omittingEmptySubsequences: false) {
            var rangePart = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                rangePart = part[..<slash]
                guard let parsed = digits(part[part.index(after: slash)...]), parsed > 0 else {
                    throw problem("the step after '/' must be a positive number")
                }
                step = parsed
            }
            var low: Int
            var high: Int
            if rangePart == "*" || rangePart == "?" {
                low = range.lowerBound
                high = name == "day-of-week" ? 6 : range.upperBound
            } else if let dash = rangePart.firstIndex(of: "-") {
                low = try number(rangePart[..<dash])
                high = try number(rangePart[rangePart.index(after: dash)...])
                guard low <= high else { throw problem("range \(rangePart) goes backwards") }
            } else {
                low = try number(rangePart)
                high = part.contains("/") ? range.upperBound : low
            }
            for value in stride(from: low, through: high, by: step) { values.insert(value) }
        }
        return values
    }
}
