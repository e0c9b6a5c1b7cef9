/// A date or datetime pattern such as `dd/MM/yyyy` or `yyyy-MM-dd HH:mm:ss`, parsed without Foundation.
///
/// Tokens: `yyyy`, `yy`, `MM`, `M`, `dd`, `d`, `HH`, `H`, `mm`, `ss`, `SSS...` (fraction); other
/// characters must match literally.
public struct DateFormat: Sendable, Equatable, CustomStringConvertible {
    enum Token: Equatable, Sendable {
        case year4, year2, month(Bool), day(Bool), hour(Bool), minute, second, fraction
        case literal(UInt8)
    }

    let tokens: [Token]
    /// The pattern as written.
    public let pattern: String

    /// Compiles a pattern; nil when it has no day, month and year.
    public init?(_ pattern: String) {
        self.pattern = pattern
        var tokens: [Token] = []
        let bytes = Array(pattern.utf8)
        var index = 0
        func run(of byte: UInt8) -> Int {
            var end = index
            while end < bytes.count && bytes[end] == byte { end += 1 }
            return end - index
        }
        while index < bytes.count {
            let byte = bytes[index]
            let length = run(of: byte)
            switch (byte, length) {
            case (UInt8(ascii: "y"), 4): tokens.append(.year4)
            case (UInt8(ascii: "y"), 2): tokens.append(.year2)
            case (UInt8(ascii: "M"), 1...2): tokens.append(.month(length == 2))
            case (UInt8(ascii: "d"), 1...2): tokens.append(.day(length == 2))
            case (UInt8(ascii: "H"), 1...2): tokens.append(.hour(length == 2))
            case (UInt8(ascii: "m"), 2): tokens.append(.minute)
            case (UInt8(ascii: "s"), 2): tokens.append(.second)
            case (UInt8(ascii: "S"), _): tokens.append(.fraction)
            case (UInt8(ascii: "y"), _), (UInt8(ascii: "M"), _), (UInt8(ascii: "d"), _), (UInt8(ascii: "H"), _),
                 (UInt8(ascii: "m"), _), (UInt8(ascii: "s"), _):
                return nil
            default:
                for _ in 0..<length { tokens.append(.literal(byte)) }
            }
            index += length
        }
        let hasYear = tokens.contains(.year4) || tokens.contains(.year2)
        let hasMonth = tokens.contains { if case .month = $0 { return true } else { return false } }
        let hasDay = tokens.contains { if case .day = $0 { return true } else { return false } }
        guard hasYear && hasMonth && hasDay else { return nil }
        self.tokens = tokens
    }

    /// True when the pattern has a time of day.
    public var hasTime: Bool {
        tokens.contains { if case .hour = $0 { return true } else { return false } }
    }

    /// The outcome of parsing one field.
    public enum Parsed {
        case value(date: CivilDate, microsecondOfDay: Int64)
        /// The text does not follow the pattern.
        case malformed
        /// It follows the pattern but names a day that does not exist (31/02/2025).
        case impossible(String)
    }

    /// Parses UTF-8 bytes.
    public func parse<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Parsed where Bytes.Element == UInt8, Bytes.Index == Int {
        var index = bytes.startIndex
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0
        var micro = 0
        func digits(min: Int, max: Int) -> Int? {
            var value = 0
            var count = 0
            while count < max, index < bytes.endIndex, bytes[index] >= 48, bytes[index] <= 57 {
                value = value * 10 + Int(bytes[index] - 48)
                index += 1
                count += 1
            }
            return count >= min ? value : nil
        }
        for token in tokens {
            switch token {
            case .year4: guard let value = digits(min: 4, max: 4) else { return .malformed }; year = value
            case .year2: guard let value = digits(min: 2, max: 2) else { return .malformed }; year = 2000 + value
            case .month(let fixed): guard let value = digits(min: fixed ? 2 : 1, max: 2) else { return .malformed }; month = value
            case .day(let fixed): guard let value = digits(min: fixed ? 2 : 1, max: 2) else { return .malformed }; day = value
            case .hour(let fixed): guard let value = digits(min: fixed ? 2 : 1, max: 2) else { return .malformed }; hour = value
            case .minute: guard let value = digits(min: 2, max: 2) else { return .malformed }; minute = value
            case .second: guard let value = digits(min: 2, max: 2) else { return .malformed }; second = value
            case .fraction:
                var scale = 100_000
                var count = 0
                while index < bytes.endIndex, bytes[index] >= 48, bytes[index] <= 57 {
                    if scale > 0 { micro += Int(bytes[index] - 48) * scale }
                    scale /= 10
                    index += 1
                    count += 1
                }
                if count == 0 { return .malformed }
            case .literal(let byte):
                guard index < bytes.endIndex, bytes[index] == byte else { return .malformed }
                index += 1
            }
        }
        guard index == bytes.endIndex else { return .malformed }
        guard let date = CivilDate(year: year, month: month, day: day) else {
            if (1...12).contains(month) {
                return .impossible("no such day: \(CivilDate.monthNames[month - 1]) \(year) has \(CivilDate.daysIn(month: month, year: year)) days")
            }
            return .impossible("no such month: \(month)")
        }
        guard hour < 24, minute < 60, second < 60 else { return .impossible("no such time of day") }
        let microOfDay = Int64(hour * 3600 + minute * 60 + second) * 1_000_000 + Int64(micro)
        return .value(date: date, microsecondOfDay: microOfDay)
    }

    public var description: String { pattern }
}

extension CivilDate {
    /// English month names, for messages.
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]
}
