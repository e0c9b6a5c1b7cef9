import Foundation

/// How a report shows numbers, money and dates for a reader: `1 234,56 €` and `24/11/2026` in
/// fr_FR, `€1,234.56` and `11/24/2026` in en_US.
///
/// French text follows CLDR, as real French software prints it: thousands are grouped with a narrow
/// no-break space (U+202F), the currency sign and the percent sign follow a no-break space (U+00A0
/// before `€`, U+202F before `%`). Both are invisible in print and never break a line inside a number.
public struct ReportLocale: Sendable, Equatable {
    /// `fr_FR` or `en_US`.
    public let identifier: String
    /// ISO 4217 code of money values.
    public let currency: String

    /// U+202F, the French thousands separator.
    public static let narrowNoBreakSpace: Character = "\u{202F}"
    /// U+00A0, between an amount and its currency sign in French.
    public static let noBreakSpace: Character = "\u{00A0}"

    /// Makes a locale; anything but `fr_FR` formats as `en_US`.
    public init(identifier: String, currency: String) {
        self.identifier = identifier
        self.currency = currency
    }

    /// The locale of a pipeline's settings.
    public init(_ settings: PipelineSettings) {
        self.init(identifier: settings.locale, currency: settings.currency)
    }

    var isFrench: Bool { identifier == "fr_FR" }

    /// The two-letter language, for `<html lang>`.
    public var language: String { isFrench ? "fr" : "en" }

    /// The sign shown for a currency code (`€` for EUR); the code itself when there is none.
    public static func symbol(for currency: String) -> String {
        switch currency {
        case "EUR": return "€"
        case "USD": return "$"
        case "GBP": return "£"
        default: return currency
        }
    }

    private var groupSeparator: Character { isFrench ? ReportLocale.narrowNoBreakSpace : "," }
    private var decimalMark: Character { isFrench ? "," : "." }

    /// An amount rounded to cents (half away from zero) with its currency: `1 234,56 €`, `-€12.00`.
    public func money(_ amount: Money) -> String {
        let rounded = amount.rounded(to: 2)
        // rounded(to:) also scales up, so whole amounts get their two places.
        let withPlaces = rounded.magnitude.formatted(decimalMark: decimalMark, groupSeparator: groupSeparator)
        let symbol = ReportLocale.symbol(for: currency)
        let sign = rounded.units < 0 ? "-" : ""
        if isFrench { return "\(sign)\(withPlaces)\(ReportLocale.noBreakSpace)\(symbol)" }
        return symbol.count == 1 ? "\(sign)\(symbol)\(withPlaces)" : "\(sign)\(symbol)\(ReportLocale.noBreakSpace)\(withPlaces)"
    }

    /// A whole number with thousands grouped: `12 345`.
    public func integer(_ value: Int64) -> String {
        Money(value).formatted(decimalMark: decimalMark, groupSeparator: groupSeparator)
    }

    /// A decimal with exactly `places` places: `1 234,5`.
    public func number(_ value: Money, places: Int) -> String {
        value.rounded(to: places).formatted(decimalMark: decimalMark, groupSeparator: groupSeparator)
    }

    /// A fraction as a percentage with one place: 0.1234 → `12,3 %` (fr) or `12.3%` (en).
    public func percent(_ fraction: Money) -> String {
        let hundred = (try? fraction.multiplied(by: Money(100))) ?? fraction
        let text = number(hundred, places: 1)
        return isFrench ? "\(text)\(ReportLocale.narrowNoBreakSpace)%" : "\(text)%"
    }

    /// A day: `24/11/2026` (fr) or `11/24/2026` (en).
    public func date(_ day: CivilDate) -> String {
        let (year, month, dayOfMonth) = day.components
        let dd = dayOfMonth < 10 ? "0\(dayOfMonth)" : "\(dayOfMonth)"
        let mm = month < 10 ? "0\(month)" : "\(month)"
        return isFrench ? "\(dd)/\(mm)/\(year)" : "\(mm)/\(dd)/\(year)"
    }

    /// A period for a reader: `2025-01` → `janv. 2025` (`Jan 2025`), a day as a date, a week `2025-W01` →
    /// `2025-S01` in French (semaine), as it is in English.
    public func period(_ value: Value) -> String {
        switch value {
        case .date(let day): return date(day)
        case .datetime(let stamp): return date(stamp.utcDate)
        case .text(let label):
            if XLSXLoad.isoWeek(label) != nil, case .text(let shown) = XLSXLoad.weekLabel(value, french: isFrench) { return shown }
            guard label.count == 7, let year = Int(label.prefix(4)), let month = Int(label.suffix(2)), (1...12).contains(month) else { return label }
            return "\(monthName(month, short: true)) \(year)"
        default: return value.description
        }
    }

    /// From the first period to the last: `janv. 2025 – nov. 2026`.
    public func periodRange(_ first: Value, _ last: Value) -> String {
        first == last ? period(first) : "\(period(first)) – \(period(last))"
    }

    /// The name of a month (1–12), abbreviated the way each language does.
    public func monthName(_ month: Int, short: Bool) -> String {
        let french = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
        let frenchShort = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
        let english = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let index = min(max(month, 1), 12) - 1
        if isFrench { return short ? frenchShort[index] : french[index] }
        return short ? String(english[index].prefix(3)) : english[index]
    }

    /// An axis label with the unit of its format: `700 k€` in French, `€700k` in English, `1 200` for counts.
    public func axis(_ value: Double, format: ValueFormat) -> String {
        let text = axis(value)
        guard format == .money else { return text }
        let symbol = ReportLocale.symbol(for: currency)
        if isFrench { return text.last?.isLetter == true ? text + symbol : "\(text)\(ReportLocale.noBreakSpace)\(symbol)" }
        return text.hasPrefix("-") ? "-\(symbol)\(text.dropFirst())" : "\(symbol)\(text)"
    }

    /// A short axis label for a scale value: `950`, `12 k`, `1,2 M`.
    public func axis(_ value: Double) -> String {
        let magnitude = abs(value)
        func scaled(_ divisor: Double, _ suffix: String) -> String {
            let amount = Money(shortestRepresentationOf: (value / divisor * 10).rounded() / 10) ?? Money(0)
            let places = amount.rounded(to: 0) == amount ? 0 : 1
            return "\(number(amount, places: places))\(isFrench ? String(ReportLocale.narrowNoBreakSpace) : "")\(suffix)"
        }
        if magnitude >= 1_000_000 { return scaled(1_000_000, "M") }
        if magnitude >= 10_000 { return scaled(1_000, "k") }
        let amount = Money(shortestRepresentationOf: (value * 100).rounded() / 100) ?? Money(0)
        return number(amount, places: amount.rounded(to: 0) == amount ? 0 : 2)
    }

    /// A cell for a reader, by the format its column asks for.
    public func text(_ value: Value, as format: ValueFormat) -> String {
        switch (value, format) {
        case (.null, _): return "—"
        case (_, .money): return value.asMoney.map(money) ?? value.description
        case (_, .integer): return value.asMoney.map { number($0, places: 0) } ?? value.description
        case (_, .number): return value.asMoney.map { number($0, places: 2) } ?? value.description
        case (_, .percent): return value.asMoney.map(percent) ?? value.description
        case (.date(let day), _): return date(day)
        case (.datetime(let stamp), _): return date(stamp.utcDate)
        case (.bool(let flag), _): return flag ? (isFrench ? "oui" : "yes") : (isFrench ? "non" : "no")
        default: return value.description
        }
    }
}

/// How a reported value is shown: money, whole number, decimal, percentage, or as it is.
public enum ValueFormat: String, Sendable, CaseIterable {
    case money, integer, number, percent, text

    /// The format a column gets when none is asked for: decimals are money, integers whole numbers.
    public static func `default`(for column: Column) -> ValueFormat {
        switch column.type {
        case .decimal: return column.name.hasPrefix("part") ? .percent : .money
        case .int: return .integer
        default: return .text
        }
    }
}
