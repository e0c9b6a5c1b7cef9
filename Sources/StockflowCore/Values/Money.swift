/// An exact fixed-point decimal: `units × 10^-scale`. Used for every amount and decimal column.
///
/// No binary floating point is ever involved in arithmetic; overflow throws instead of wrapping.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The integer mantissa.
    public var units: Int64
    /// The number of decimal places (0...18).
    public var scale: Int

    /// The largest scale the type carries.
    public static let maxScale = 18
    static let powersOfTen: [Int64] = (0...18).map { exponent in
        var value: Int64 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Zero with the given scale.
    public static func zero(scale: Int = 0) -> Money { Money(units: 0, scale: scale) }

    /// Makes a decimal from its mantissa and scale.
    public init(units: Int64, scale: Int) {
        self.units = units
        self.scale = scale
    }

    /// Makes a decimal holding an integer.
    public init(_ integer: Int64) {
        self.init(units: integer, scale: 0)
    }

    /// True when the value is zero.
    public var isZero: Bool { units == 0 }

    /// The value with at least `newScale` places, exactly (fails only on overflow).
    public func rescaledUp(to newScale: Int) throws -> Money {
        guard newScale > scale else { return self }
        if newScale > Money.maxScale { throw MoneyError.overflow("\(self) at \(newScale) places") }
        let (product, overflow) = units.multipliedReportingOverflow(by: Money.powersOfTen[newScale - scale])
        if overflow { throw MoneyError.overflow("\(self) at \(newScale) places") }
        return Money(units: product, scale: newScale)
    }

    /// The value rounded to `places` decimal places, half away from zero.
    public func rounded(to places: Int) -> Money {
        if places >= scale {
            return (try? rescaledUp(to: places)) ?? self
        }
        let divisor = Money.powersOfTen[scale - places]
        var quotient = units / divisor
        let remainder = units % divisor
        if remainder.magnitude * 2 >= divisor.magnitude {
            quotient += units < 0 ? -1 : 1
        }
        return Money(units: quotient, scale: places)
    }

    /// Exact sum; throws on overflow.
    public func adding(_ other: Money) throws -> Money {
        // Sums of one column: both sides at the column's scale, no rescaling to do.
        if scale == other.scale {
            let (sum, overflow) = units.addingReportingOverflow(other.units)
            if overflow { throw MoneyError.overflow("\(self) + \(other)") }
            return Money(units: sum, scale: scale)
        }
        let common = max(scale, other.scale)
        let left = try rescaledUp(to: common)
        let right = try other.rescaledUp(to: common)
        let (sum, overflow) = left.units.addingReportingOverflow(right.units)
        if overflow { throw MoneyError.overflow("\(self) + \(other)") }
        return Money(units: sum, scale: common)
    }

    /// Exact difference; throws on overflow.
    public func subtracting(_ other: Money) throws -> Money {
        if scale == other.scale {
            let (difference, overflow) = units.subtractingReportingOverflow(other.units)
            if overflow { throw MoneyError.overflow("\(self) - \(other)") }
            return Money(units: difference, scale: scale)
        }
        let common = max(scale, other.scale)
        let left = try rescaledUp(to: common)
        let right = try other.rescaledUp(to: common)
        let (difference, overflow) = left.units.subtractingReportingOverflow(right.units)
        if overflow { throw MoneyError.overflow("\(self) - \(other)") }
        return Money(units: difference, scale: common)
    }

    /// Exact product; throws on overflow.
    public func multiplied(by other: Money) throws -> Money {
        let (product, overflow) = units.multipliedReportingOverflow(by: other.units)
        let scale = self.scale + other.scale
        if overflow || scale > Money.maxScale { throw MoneyError.overflow("\(self) × \(other)") }
        return Money(units: product, scale: scale)
    }

    /// The absolute value.
    public var magnitude: Money { Money(units: units < 0 ? -units : units, scale: scale) }

    public static func < (lhs: Money, rhs: Money) -> Bool {
        if lhs.scale == rhs.scale { return lhs.units < rhs.units }
        let common = max(lhs.scale, rhs.scale)
        guard let left = try? lhs.rescaledUp(to: common), let right = try? rhs.rescaledUp(to: common) else {
            return lhs.approximateDouble < rhs.approximateDouble
        }
        return left.units < right.units
    }

    public static func == (lhs: Money, rhs: Money) -> Bool {
        if lhs.scale == rhs.scale { return lhs.units == rhs.units }
        let common = max(lhs.scale, rhs.scale)
        guard let left = try? lhs.rescaledUp(to: common), let right = try? rhs.rescaledUp(to: common) else {
            return false
        }
        return left.units == right.units
    }

    public func hash(into hasher: inout Hasher) {
        // Equal values with different scales must hash alike: hash the normalized form.
        var normalized = self
        while normalized.scale > 0 && normalized.units % 10 == 0 {
            normalized.units /= 10
            normalized.scale -= 1
        }
        hasher.combine(normalized.units)
        hasher.combine(normalized.scale)
    }

    /// The nearest Double, only for writing to formats that store binary floats (Excel cells).
    public var approximateDouble: Double {
        Double(units) / Double(Money.powersOfTen[scale])
    }

    /// Plain text with `.` as decimal mark and exactly `scale` places: `-1234.50`.
    public var description: String { formatted(decimalMark: ".", groupSeparator: nil) }

    /// Text with the given decimal mark and optional thousands separator.
    public func formatted(decimalMark: Character, groupSeparator: Character?) -> String {
        let negative = units < 0
        let digits = String(units.magnitude)
        var integerPart: Substring
        var fraction = ""
        if scale > 0 {
            let padded = String(repeating: "0", count: max(0, scale + 1 - digits.count)) + digits
            integerPart = padded.dropLast(scale)
            fraction = String(padded.suffix(scale))
        } else {
            integerPart = Substring(digits)
        }
        var integerText = String(integerPart)
        if let separator = groupSeparator, integerText.count > 3 {
            var grouped = ""
            for (index, character) in integerText.enumerated() {
                if index > 0 && (integerText.count - index) % 3 == 0 { grouped.append(separator) }
                grouped.append(character)
            }
            integerText = grouped
        }
        var result = negative ? "-" : ""
        result += integerText
        if scale > 0 { result += String(decimalMark) + fraction }
        return result
    }

    /// Parses text such as `-1234.5`, `1 234,50` or `+12` exactly.
    ///
    /// Returns nil for anything that is not a plain decimal (a second decimal mark, letters, exponents).
    public static func parse<Bytes: Collection>(
        _ bytes: Bytes, decimalMark: UInt8 = UInt8(ascii: "."), thousandsSeparator: UInt8? = nil
    ) -> Money? where Bytes.Element == UInt8 {
        var units: Int64 = 0
        var scale = 0
        var negative = false
        var seenDigit = false
        var seenMark = false
        // Digits since the last grouping separator, and whether one was seen: groups are 3 digits.
        var groupDigits = 0
        var seenSeparator = false
        var index = bytes.startIndex
        if index == bytes.endIndex { return nil }
        if bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index = bytes.index(after: index)
        }
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte >= 48 && byte <= 57 {
                let (times10, overflow1) = units.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - 48))
                if overflow1 || overflow2 { return nil }
                units = sum
                seenDigit = true
                if !seenMark { groupDigits += 1 }
                if seenMark {
                    scale += 1
                    if scale > maxScale { return nil }
                }
            } else if byte == decimalMark && !seenMark {
                if seenSeparator && groupDigits != 3 { return nil }
                seenMark = true
            } else if let separator = thousandsSeparator, byte == separator, !seenMark, seenDigit {
                // Grouping separators are accepted before the decimal mark only, between groups of 3 digits.
                if seenSeparator ? groupDigits != 3 : groupDigits > 3 { return nil }
                seenSeparator = true
                groupDigits = 0
            } else {
                return nil
            }
            index = bytes.index(after: index)
        }
        if !seenDigit { return nil }
        if seenSeparator && !seenMark && groupDigits != 3 { return nil }
        return Money(units: negative ? -units : units, scale: scale)
    }

    /// Parses a Swift string with `.` as the decimal mark.
    public init?(_ text: String) {
        guard let value = Money.parse(Array(text.utf8)) else { return nil }
        self = value
    }

    /// A decimal stored by Django's SQLite backend as REAL. With the column's scale known, the common
    /// case is checked arithmetically (the scaled integer converts back to the very same double, so
    /// the shortest representation has at most `scale` places) without formatting any text.
    public init?(storedReal double: Double, scale: Int?) {
        if let scale, (0...Money.maxScale).contains(scale), double.isFinite {
            let factor = Double(Money.powersOfTen[scale])
            let scaled = (double * factor).rounded()
            if abs(scaled) < 9.0e15, scaled / factor == double {
                self = Money(units: Int64(scaled), scale: scale)
                return
            }
        }
        self.init(shortestRepresentationOf: double)
    }

    /// The exact decimal that a Double prints as in its shortest round-trip form.
    ///
    /// Django's SQLite backend stores decimals as REAL; `12.3` comes back as the double nearest to
    /// 12.3, whose shortest representation is again "12.3", so this recovers the stored decimal.
    public init?(shortestRepresentationOf double: Double) {
        guard double.isFinite else { return nil }
        let text = "\(double)"
        if let value = Money.parse(Array(text.utf8)) {
            self = value
            if scale == 1 && units % 10 == 0 { self = Money(units: units / 10, scale: 0) }
            return
        }
        // Exponent form (1e-05, 1.5e+20): expand through the mantissa and exponent.
        let parts = text.split(separator: "e")
        guard parts.count == 2, let mantissa = Money.parse(Array(parts[0].utf8)),
              let exponent = Int(parts[1]) else { return nil }
        if exponent >= 0 {
            guard exponent <= Money.maxScale,
                  let scaled = try? mantissa.multiplied(by: Money(units: Money.powersOfTen[exponent], scale: 0)) else { return nil }
            self = scaled
        } else {
            let newScale = mantissa.scale - exponent
            guard newScale <= Money.maxScale else { return nil }
            self = Money(units: mantissa.units, scale: newScale)
        }
    }
}

/// A decimal computation that does not fit in the fixed-point range.
public enum MoneyError: Error, CustomStringConvertible {
    case overflow(String)

    public var description: String {
        switch self {
        case .overflow(let what): return "decimal overflow computing \(what)"
        }
    }
}
