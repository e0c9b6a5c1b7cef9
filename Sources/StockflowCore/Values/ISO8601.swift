import Foundation

/// ISO 8601 text of an instant, UTC, to the second: `2026-11-25T01:30:00Z`.
///
/// Formatted by hand, as Foundation's `ISO8601DateFormatter` with `.withInternetDateTime` writes
/// it, so that a run does not load ICU for it.
public func iso8601(_ date: Date) -> String {
    let (seconds, _) = wholeSeconds(of: date)
    return utcText(seconds, dateSeparator: "-", timeSeparator: ":") + "Z"
}

/// `2026-11-25T01:30:00.123Z`: to the millisecond (truncated), as log lines carry it.
public func iso8601Milliseconds(_ date: Date) -> String {
    let (seconds, milliseconds) = wholeSeconds(of: date)
    return utcText(seconds, dateSeparator: "-", timeSeparator: ":") + "." + pad(milliseconds, 3) + "Z"
}

/// `20261125T013000Z`: the compact form of run ids.
public func compactISO8601(_ date: Date) -> String {
    utcText(wholeSeconds(of: date).seconds, dateSeparator: "", timeSeparator: "") + "Z"
}

/// `Tue, 24 Nov 2026 02:30:00 +0000`: an e-mail's Date, in UTC, English names, by hand.
public func rfc5322UTC(_ date: Date) -> String {
    let seconds = wholeSeconds(of: date).seconds
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let day = CivilDate(days: Int32(truncatingIfNeeded: days))
    let (year, month, dayOfMonth) = day.components
    let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    let time = utcText(seconds, dateSeparator: "-", timeSeparator: ":").suffix(8)
    return "\(weekdays[day.isoWeekday - 1]), \(pad(dayOfMonth, 2)) \(months[month - 1]) \(pad(year, 4)) \(time) +0000"
}

/// Parses ISO 8601 internet date-time text: `2026-11-25T01:30:00Z` or with an offset
/// (`+01:00`). The form `iso8601(_:)` writes is read by hand; anything else is left to
/// Foundation's `ISO8601DateFormatter`, so what is accepted does not change.
public func parseISO8601(_ text: String) -> Date? {
    if let seconds = parseUTCSeconds(text) { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
}

/// Whole seconds since the epoch (rounded down) and the milliseconds past them.
private func wholeSeconds(of date: Date) -> (seconds: Int64, milliseconds: Int) {
    let interval = date.timeIntervalSince1970
    let seconds = Int64(interval.rounded(.down))
    let milliseconds = min(999, max(0, Int(((interval - Double(seconds)) * 1000).rounded(.down))))
    return (seconds, milliseconds)
}

/// `YYYY-MM-DDTHH:MM:SS` (with the given separators) of UTC seconds since the epoch.
private func utcText(_ seconds: Int64, dateSeparator: String, timeSeparator: String) -> String {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let second = Int(seconds - days * 86_400)
    let (year, month, day) = CivilDate(days: Int32(truncatingIfNeeded: days)).components
    return pad(year, 4) + dateSeparator + pad(month, 2) + dateSeparator + pad(day, 2) + "T"
        + pad(second / 3600, 2) + timeSeparator + pad(second / 60 % 60, 2) + timeSeparator + pad(second % 60, 2)
}

/// Exactly `YYYY-MM-DDTHH:MM:SSZ` with a real day and time of day; nil for any other text.
private func parseUTCSeconds(_ text: String) -> Int64? {
    let bytes = Array(text.utf8)
    guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
          bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z") else { return nil }
    func number(_ range: Range<Int>) -> Int? {
        var value = 0
        for index in range {
            let byte = bytes[index]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
    guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
          let minute = number(14..<16), let second = number(17..<19), year >= 1, hour < 24, minute < 60, second < 60,
          let date = CivilDate(year: year, month: month, day: day) else { return nil }
    return Int64(date.days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
}
