import Foundation

/// A standard five-field cron expression (minute hour day-of-month month day-of-week), or a macro.
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
    /// Whether the day-of-month field was `*` (cron ORs the two day fields only when both are set).
    public var anyDayOfMonth: Bool
    /// Whether the day-of-week field was `*`.
    public var anyDayOfWeek: Bool
    /// The text as written.
    public var text: String

    /// A field that is not valid, with its 0-based character offset in the expression.
    public struct ParseError: Error, Equatable {
        public var message: String
        public var offset: Int
    }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses an expression; throws a `ParseError` naming the bad field.
    public init(_ text: String) throws {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = CronExpression.macros[trimmed.lowercased()] else {
                throw ParseError(message: "unknown cron macro '\(trimmed)'; use one of \(CronExpression.macros.keys.sorted().joined(separator: ", "))", offset: 0)
            }
            expanded = macro
        }
        var fields: [(text: Substring, offset: Int)] = []
        var offset = 0
        for piece in expanded.split(separator: " ", omittingEmptySubsequences: false) {
            if !piece.isEmpty { fields.append((piece, trimmed.hasPrefix("@") ? 0 : offset)) }
            offset += piece.count + 1
        }
        guard fields.count == 5 else {
            throw ParseError(message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found \(fields.count) in '\(text)'", offset: 0)
        }
        minutes = try CronExpression.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try CronExpression.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try CronExpression.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try CronExpression.field(fields[3], name: "month", range: 1...12, names: CronExpression.monthNames, nameBase: 1)
        var weekdays = try CronExpression.field(fields[4], name: "day-of-week", range: 0...7, names: CronExpression.dayNames)
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        daysOfWeek = weekdays
        anyDayOfMonth = fields[2].text == "*" || fields[2].text == "?"
        anyDayOfWeek = fields[4].text == "*" || fields[4].text == "?"
    }

    private static func field(_ field: (text: Substring, offset: Int), name: String, range: ClosedRange<Int>,
                              names: [String], nameBase: Int = 0) throws -> Set<Int> {
        var values = Set<Int>()
        func number(_ text: Substring) throws -> Int {
            if let value = Int(text), range.contains(value) { return value }
            if let index = names.firstIndex(of: text.lowercased()) { return index + nameBase }
            throw ParseError(message: "\(name) field '\(field.text)': '\(text)' is not in \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or a name like \(names[0])")", offset: field.offset)
        }
        for part in field.text.split(separator: ",", omittingEmptySubsequences: false) {
            var rangePart = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                rangePart = part[..<slash]
                guard let parsed = Int(part[part.index(after: slash)...]), parsed > 0 else {
                    throw ParseError(message: "\(name) field '\(field.text)': the step after '/' must be a positive number", offset: field.offset)
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
                guard low <= high else {
                    throw ParseError(message: "\(name) field '\(field.text)': range \(rangePart) goes backwards", offset: field.offset)
                }
            } else {
                low = try number(rangePart)
                high = part.contains("/") ? range.upperBound : low
            }
            for value in stride(from: low, through: high, by: step) { values.insert(value) }
        }
        return values
    }
}
