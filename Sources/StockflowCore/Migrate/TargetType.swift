import Foundation

/// A PostgreSQL column type the migration creates, chosen from the SQLite declared type as Django
/// would have declared it on PostgreSQL.
public enum TargetType: Sendable, Equatable, CustomStringConvertible {
    case smallint, integer, bigint
    case numeric(precision: Int, scale: Int)
    /// `numeric` without precision or scale: any exact decimal.
    case decimal
    case varchar(Int), char(Int), text
    case boolean, timestamptz, date, time
    case jsonb, bytea, double

    /// The SQL spelling.
    public var description: String {
        switch self {
        case .smallint: return "smallint"
        case .integer: return "integer"
        case .bigint: return "bigint"
        case .numeric(let p, let s): return "numeric(\(p),\(s))"
        case .decimal: return "numeric"
        case .varchar(let n): return "varchar(\(n))"
        case .char(let n): return "char(\(n))"
        case .text: return "text"
        case .boolean: return "boolean"
        case .timestamptz: return "timestamp with time zone"
        case .date: return "date"
        case .time: return "time"
        case .jsonb: return "jsonb"
        case .bytea: return "bytea"
        case .double: return "double precision"
        }
    }

    /// True for integer types.
    var isInteger: Bool { self == .smallint || self == .integer || self == .bigint }

    /// Maps an SQLite declared type (Django's SQLite spellings); decimals get their precision later.
    static func fromSQLite(declared: String, isJSON: Bool) -> TargetType {
        let type = declared.lowercased().replacingOccurrences(of: " unsigned", with: "").trimmingCharacters(in: .whitespaces)
        if isJSON { return .jsonb }
        func length() -> Int? {
            guard let open = type.firstIndex(of: "("), let close = type.firstIndex(of: ")") else { return nil }
            return Int(type[type.index(after: open)..<close].split(separator: ",")[0].trimmingCharacters(in: .whitespaces))
        }
        if type.hasPrefix("bool") { return .boolean }
        if type == "smallint" || type == "tinyint" { return .smallint }
        if type == "bigint" { return .bigint }
        if type.contains("int") { return .integer }
        if type.hasPrefix("varchar") || type.hasPrefix("character varying") || type.hasPrefix("nvarchar") {
            return length().map { .varchar($0) } ?? .text
        }
        // Not character(n): PostgreSQL would pad the values with blanks, which SQLite never does.
        if type.hasPrefix("char") || type.hasPrefix("character") || type.hasPrefix("nchar") { return length().map { .varchar($0) } ?? .text }
        if type.hasPrefix("decimal") || type.hasPrefix("numeric") {
            if let open = type.firstIndex(of: "("), let close = type.firstIndex(of: ")") {
                let parts = type[type.index(after: open)..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                if parts.count == 2 { return .numeric(precision: parts[0], scale: parts[1]) }
            }
            return .numeric(precision: 0, scale: -1)  // unknown: inferred from the data or a hint
        }
        if type.contains("datetime") || type.hasPrefix("timestamp") { return .timestamptz }
        if type == "date" { return .date }
        if type == "time" { return .time }
        if type.contains("real") || type.contains("floa") || type.contains("doub") { return .double }
        if type.contains("blob") { return .bytea }
        if type == "json" || type == "jsonb" { return .jsonb }
        return .text
    }

    /// Parses a `--type table.column=TYPE` type: PostgreSQL's names (`bigint`, `bytea`, `numeric(12,4)`, `varchar(80)`, `timestamptz`...).
    public static func parse(_ text: String) -> TargetType? {
        let type = text.lowercased().trimmingCharacters(in: .whitespaces)
        switch type {
        case "timestamptz", "timestamp", "timestamp with time zone": return .timestamptz
        case "double precision", "double", "float8", "real": return .double
        case "int", "int4", "integer": return .integer
        case "int8", "bigint": return .bigint
        case "int2", "smallint": return .smallint
        case "bool", "boolean": return .boolean
        case "numeric", "decimal": return .decimal
        case "text", "bytea", "jsonb", "json", "date", "time": return fromPostgres(type)
        default: break
        }
        if type.hasPrefix("numeric(") || type.hasPrefix("decimal(") {
            let inside = type.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            let parts = inside.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, parts[0] >= 1, parts[0] <= 1000, parts[1] >= 0, parts[1] <= min(parts[0], Money.maxScale) else { return nil }
            return .numeric(precision: parts[0], scale: parts[1])
        }
        if type.hasPrefix("varchar(") || type.hasPrefix("character varying(") {
            guard let length = Int(type.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }), length >= 1 else { return nil }
            return .varchar(length)
        }
        return nil
    }

    /// Parses PostgreSQL's `format_type` text (for `--verify-only` against an existing target).
    static func fromPostgres(_ name: String) -> TargetType {
        let type = name.lowercased()
        switch type {
        case "smallint": return .smallint
        case "integer": return .integer
        case "bigint": return .bigint
        case "boolean": return .boolean
        case "timestamp with time zone", "timestamp without time zone": return .timestamptz
        case "date": return .date
        case "time without time zone": return .time
        case "jsonb", "json": return .jsonb
        case "bytea": return .bytea
        case "double precision", "real": return .double
        default: break
        }
        if type.hasPrefix("numeric") {
            let inside = type.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            let parts = inside.split(separator: ",").compactMap { Int($0) }
            return parts.count == 2 ? .numeric(precision: parts[0], scale: parts[1]) : .decimal
        }
        let length = Int(type.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" })
        if type.hasPrefix("character varying") { return length.map { .varchar($0) } ?? .text }
        if type.hasPrefix("character") { return length.map { .char($0) } ?? .text }
        return .text
    }

    /// The SQL giving a column's canonical text on PostgreSQL; must match `CellConverter`'s canonical bytes.
    func canonicalSQL(_ column: String) -> String {
        switch self {
        case .smallint, .integer, .bigint, .numeric, .decimal, .varchar, .text: return "\(column)::text"
        case .char: return "rtrim(\(column)::text, ' ')"
        case .double: return "\(column)::text"
        case .boolean: return "CASE WHEN \(column) THEN 't' ELSE 'f' END"
        // timestamp's own output in the sessions' DateStyle (ISO): `YYYY-MM-DD HH:MM:SS[.f]`, the fraction without
        // its trailing zeros; about half the server's cost of to_char.
        case .timestamptz: return "(\(column) AT TIME ZONE 'UTC')::text"
        // The ISO output of the sessions' DateStyle (ISO, YMD): the same text as to_char's YYYY-MM-DD, cheaper.
        case .date: return "\(column)::text"
        case .time: return "to_char(\(column), 'HH24:MI:SS.US')"
        // jsonb normalizes key order and spacing, so only presence is compared; content is checked by the parser.
        case .jsonb: return "CASE WHEN \(column) IS NULL THEN NULL ELSE 'j' END"
        case .bytea: return "encode(\(column), 'hex')"
        }
    }
}

/// Converts SQLite cells to COPY text for one target type, and to the canonical text the checksum hashes.
///
/// Canonical text is the value as PostgreSQL will print it through `TargetType.canonicalSQL`;
/// COPY text is the canonical text escaped (plus `+00` for instants, so the server's zone never applies).
struct CellConverter {
    let type: TargetType
    /// An integer column typed from its declaration: a value past 32 bits asks for bigint (`Widen`) instead of a reject.
    var widenable = false
    /// `--round-decimals`: a decimal with more places than the scale is rounded (and reported) instead of rejected.
    var roundDecimals = false

    /// A value that cannot be carried, with the reason.
    struct Rejection: Error { var reason: String }
    /// An integer that needs a wider column than the declaration gave.
    struct Widen: Error {}

    /// Appends the cell at `index` (not NULL) as a COPY field to `line` (a field of binary COPY with
    /// `binary`, else escaped text) and as canonical text to `canonical`; throws a rejection. The common
    /// Django storage classes are read as bytes straight from SQLite and encoded once (no String per
    /// cell, no canonical text parsed back); anything else goes through `canonical(_:_:into:)`.
    @inline(__always)
    func append(_ statement: SQLiteStatement, _ index: Int, storage: SQLiteStorage, binary: Bool,
                line: inout [UInt8], canonical: inout [UInt8], scratch: inout [UInt8], rounded: inout (from: String, to: String)?) throws {
        switch type {
        case .smallint, .integer, .bigint:
            if storage == .integer {
                let value = statement.int64(index)
                if type == .smallint && !(-32768...32767).contains(value) || type == .integer && !(-2_147_483_648...2_147_483_647).contains(value) {
                    if widenable { throw Widen() }
                    throw Rejection(reason: "\(value) does not fit \(type)")
                }
                let start = canonical.count
                appendInteger(value, to: &canonical)
                if binary { BinaryCopy.appendInteger(value, as: type, to: &line) } else { line.append(contentsOf: canonical[start...]) }
                return
            }
        case .boolean:
            if storage == .integer {
                let flag = statement.int64(index) != 0
                canonical.append(flag ? UInt8(ascii: "t") : UInt8(ascii: "f"))
                if binary { BinaryCopy.appendBoolean(flag, to: &line) } else { line.append(canonical[canonical.count - 1]) }
                return
            }
        case .numeric(let precision, let scale):
            if storage == .integer || storage == .real {
                // Django stores decimals with NUMERIC affinity (REAL or INTEGER).
                let read = storage == .integer ? Money(statement.int64(index)) : Money(storedReal: statement.double(index), scale: scale)
                guard var value = read else { throw Rejection(reason: "\(statement.double(index)) is not a decimal") }
                if storage == .real { value = try fitted(value, double: statement.double(index), precision: precision, scale: scale, rounded: &rounded) }
                let start = canonical.count
                try appendNumeric(value, precision: precision, scale: scale, canonical: &canonical)
                if binary { try BinaryCopy.appendField(type, canonical: canonical[start...], to: &line) } else { line.append(contentsOf: canonical[start...]) }
                return
            }
        case .timestamptz:
            // Django's own form, checked by the fast parser, is already canonical once the fraction's trailing zeros are off.
            if storage == .text, statement.withTextBytes(index, { bytes -> Bool in
                guard let stamp = parseStoredDatetimeFast(bytes) else { return false }
                let start = canonical.count
                canonical.append(contentsOf: bytes)
                trimFraction(&canonical, from: start)
                if binary {
                    BinaryCopy.appendInstant(unixMicroseconds: stamp.microseconds, to: &line)
                } else {
                    line.append(contentsOf: canonical[start...])
                    line.append(contentsOf: "+00".utf8)
                }
                return true
            }) {
                return
            }
        case .varchar(let limit), .char(let limit):
            if storage == .text {
                try statement.withTextBytes(index) { bytes in
                    var bytes = bytes
                    if case .char = type {
                        while let last = bytes.last, last == 32 { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
                    }
                    let characters = try checkedTextLength(bytes)
                    if characters > limit { throw Rejection(reason: "text of \(characters) characters is longer than \(type)") }
                    canonical.append(contentsOf: bytes)
                    if binary { BinaryCopy.appendText(bytes, to: &line) } else { appendCopyEscaped(bytes, to: &line) }
                }
                return
            }
        case .text:
            if storage == .text {
                try statement.withTextBytes(index) { bytes in
                    _ = try checkedTextLength(bytes)
                    canonical.append(contentsOf: bytes)
                    if binary { BinaryCopy.appendText(bytes, to: &line) } else { appendCopyEscaped(bytes, to: &line) }
                }
                return
            }
        case .jsonb:
            if storage == .text {
                try statement.withTextBytes(index) { bytes in
                    _ = try checkedTextLength(bytes)
                    // A cheap shape check; PostgreSQL's parser is the judge (a bad document fails the COPY).
                    guard let first = bytes.first(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }),
                          "{[\"tfn-0123456789".utf8.contains(first), !containsEscapedNUL(bytes) else {
                        throw Rejection(reason: "'\(String(decoding: bytes.prefix(40), as: UTF8.self))' is not JSON")
                    }
                    if binary { BinaryCopy.appendJSON(bytes, to: &line) } else { appendCopyEscaped(bytes, to: &line) }
                }
                canonical.append(UInt8(ascii: "j"))
                return
            }
        default:
            break
        }
        scratch.removeAll(keepingCapacity: true)
        try self.canonical(statement, index, into: &scratch, rounded: &rounded)
        // jsonb's canonical text is only a presence mark: both COPY forms are made from the document's text.
        if binary { try BinaryCopy.appendField(type, canonical: scratch[...], to: &line) } else { appendCopy(scratch, to: &line) }
        if type == .jsonb { canonical.append(UInt8(ascii: "j")) } else { canonical.append(contentsOf: scratch) }
    }

    /// Appends a decimal at exactly `scale` places to `canonical`, or rejects it when it does not fit numeric(precision, scale).
    private func appendNumeric(_ value: Money, precision: Int, scale: Int, canonical: inout [UInt8]) throws {
        guard value.scale <= scale, let scaled = try? value.rescaledUp(to: scale) else {
            throw Rejection(reason: "\(value) has more than \(scale) decimal places (numeric(\(precision),\(scale)))")
        }
        let magnitude = scaled.units.magnitude
        let divisor = UInt64(Money.powersOfTen[scale])
        var integerPart = magnitude / divisor
        var integerDigits = 0
        while integerPart > 0 { integerDigits += 1; integerPart /= 10 }
        if integerDigits > precision - scale { throw Rejection(reason: "\(scaled) does not fit numeric(\(precision),\(scale))") }
        if scaled.units < 0 { canonical.append(UInt8(ascii: "-")) }
        appendInteger(Int64(magnitude / divisor), to: &canonical)
        if scale > 0 {
            canonical.append(UInt8(ascii: "."))
            var fraction = magnitude % divisor
            let fractionStart = canonical.count
            for _ in 0..<scale { canonical.append(UInt8(ascii: "0")) }
            var position = canonical.count - 1
            while fraction > 0 && position >= fractionStart {
                canonical[position] = UInt8(48 + fraction % 10)
                fraction /= 10
                position -= 1
            }
        }
    }

    /// A REAL-stored decimal at the column's scale: as Django reads it (15 significant digits, its
    /// decimal context) when that has no more places; else rounded under `--round-decimals`
    /// (reported in `rounded`), else rejected — never rounded silently.
    private func fitted(_ value: Money, double: Double, precision: Int, scale: Int, rounded: inout (from: String, to: String)?) throws -> Money {
        guard value.scale > scale else { return value }
        if let reading = Double(String(format: "%.15g", double)).flatMap(Money.init(shortestRepresentationOf:)), reading.scale <= scale {
            return reading
        }
        return try fitted(value, precision: precision, scale: scale, rounded: &rounded)
    }

    /// A decimal with more places than `scale`: rounded under `--round-decimals` (reported), else rejected.
    private func fitted(_ value: Money, precision: Int, scale: Int, rounded: inout (from: String, to: String)?) throws -> Money {
        guard value.scale > scale else { return value }
        guard roundDecimals else {
            throw Rejection(reason: "\(value) has more than \(scale) decimal places (numeric(\(precision),\(scale))); --round-decimals rounds such values and reports each")
        }
        let result = value.rounded(to: scale)
        rounded = ("\(value)", "\(result)")
        return result
    }

    /// Writes the canonical text of the cell at `index` into `out`; throws a rejection.
    func canonical(_ statement: SQLiteStatement, _ index: Int, into out: inout [UInt8]) throws {
        var rounded: (from: String, to: String)?
        try canonical(statement, index, into: &out, rounded: &rounded)
    }

    /// Writes the canonical text of the cell at `index` into `out`; throws a rejection; a rounding is told in `rounded`.
    func canonical(_ statement: SQLiteStatement, _ index: Int, into out: inout [UInt8], rounded: inout (from: String, to: String)?) throws {
        let storage = statement.storage(index)
        switch type {
        case .smallint, .integer, .bigint:
            var value: Int64
            switch storage {
            case .integer: value = statement.int64(index)
            case .real:
                let double = statement.double(index)
                guard double == double.rounded(), abs(double) < 9e18 else { throw Rejection(reason: "\(double) is not a whole number") }
                value = Int64(double)
            default:
                guard let parsed = Int64(statement.text(index).trimmingCharacters(in: .whitespaces)) else {
                    throw Rejection(reason: "'\(statement.text(index).prefix(40))' is not a whole number")
                }
                value = parsed
            }
            let range: ClosedRange<Int64> = type == .smallint ? -32768...32767 : type == .integer ? -2_147_483_648...2_147_483_647 : Int64.min...Int64.max
            guard range.contains(value) else {
                if widenable { throw Widen() }
                throw Rejection(reason: "\(value) does not fit \(type)")
            }
            out.append(contentsOf: String(value).utf8)
        case .numeric(let precision, let scale):
            var money: Money?
            switch storage {
            // Django stores decimals with NUMERIC affinity: REAL or INTEGER.
            case .integer: money = Money(statement.int64(index))
            case .real: money = try Money(shortestRepresentationOf: statement.double(index)).map { try fitted($0, double: statement.double(index), precision: precision, scale: scale, rounded: &rounded) }
            case .blob: throw Rejection(reason: "holds a blob, not a decimal")
            default: money = try Money(statement.text(index).trimmingCharacters(in: .whitespaces)).map { try fitted($0, precision: precision, scale: scale, rounded: &rounded) }
            }
            guard let value = money else { throw Rejection(reason: "'\(statement.text(index).prefix(40))' is not a decimal") }
            guard value.scale <= scale, let scaled = try? value.rescaledUp(to: scale) else {
                throw Rejection(reason: "\(value) has more than \(scale) decimal places (numeric(\(precision),\(scale)))")
            }
            let text = scaled.description
            var integerPart = scaled.units.magnitude / UInt64(Money.powersOfTen[scale])
            var integerDigits = 0
            while integerPart > 0 { integerDigits += 1; integerPart /= 10 }
            if integerDigits > precision - scale {
                throw Rejection(reason: "\(text) does not fit numeric(\(precision),\(scale))")
            }
            out.append(contentsOf: text.utf8)
        case .decimal:
            let text: String?
            switch storage {
            case .integer: text = String(statement.int64(index))
            case .real: text = plainDecimal("\(statement.double(index))")
            case .blob: throw Rejection(reason: "holds a blob, not a decimal")
            default: text = plainDecimal(statement.text(index).trimmingCharacters(in: .whitespaces))
            }
            guard let text else { throw Rejection(reason: "'\(statement.text(index).prefix(40))' is not a decimal") }
            out.append(contentsOf: text.utf8)
        case .boolean:
            switch storage {
            case .integer: out.append(statement.int64(index) != 0 ? UInt8(ascii: "t") : UInt8(ascii: "f"))
            default:
                let text = statement.text(index).lowercased()
                if ["1", "t", "true"].contains(text) { out.append(UInt8(ascii: "t")) }
                else if ["0", "f", "false"].contains(text) { out.append(UInt8(ascii: "f")) }
                else { throw Rejection(reason: "'\(text.prefix(40))' is not a boolean") }
            }
        case .timestamptz:
            let text = statement.text(index)
            guard let stamp = parseStoredDatetime(text) else { throw Rejection(reason: "'\(text.prefix(40))' is not a datetime") }
            let start = out.count
            appendInstant(stamp, to: &out)
            trimFraction(&out, from: start)
        case .date:
            let text = statement.text(index)
            guard text.utf8.count == 10, let date = CivilDate(iso: text) else { throw Rejection(reason: "'\(text.prefix(40))' is not a date (YYYY-MM-DD)") }
            out.append(contentsOf: date.description.utf8)
        case .time:
            let text = statement.text(index)
            let parts = text.split(separator: ".", maxSplits: 1)
            let clock = parts[0].split(separator: ":").compactMap { Int($0) }
            guard clock.count >= 2, clock.count <= 3, clock[0] < 24, clock[1] < 60, (clock.count == 2 || clock[2] < 60) else {
                throw Rejection(reason: "'\(text.prefix(40))' is not a time (HH:MM:SS)")
            }
            var fraction = parts.count > 1 ? String(parts[1].prefix(6)) : ""
            guard fraction.allSatisfy(\.isNumber) else { throw Rejection(reason: "'\(text.prefix(40))' is not a time (HH:MM:SS)") }
            fraction += String(repeating: "0", count: 6 - fraction.count)
            out.append(contentsOf: "\(pad(clock[0], 2)):\(pad(clock[1], 2)):\(pad(clock.count == 3 ? clock[2] : 0, 2)).\(fraction)".utf8)
        case .double:
            let double = storage == .real || storage == .integer ? statement.double(index) : Double(statement.text(index).trimmingCharacters(in: .whitespaces))
            guard let double, double.isFinite else { throw Rejection(reason: "'\(statement.text(index).prefix(40))' is not a number") }
            if double == double.rounded(), abs(double) < 1e15 { out.append(contentsOf: String(Int64(double)).utf8) }
            else { out.append(contentsOf: "\(double)".utf8) }
        case .varchar(let limit), .char(let limit):
            let text = try plainText(statement, index, storage)
            if text.count > limit { throw Rejection(reason: "text of \(text.count) characters is longer than \(type)") }
            if case .char = type {
                var bytes = Array(text.utf8)
                while bytes.last == 32 { bytes.removeLast() }
                out.append(contentsOf: bytes)
            } else {
                out.append(contentsOf: text.utf8)
            }
        case .text:
            out.append(contentsOf: try plainText(statement, index, storage).utf8)
        case .jsonb:
            let text = try plainText(statement, index, storage)
            // A cheap shape check; PostgreSQL's parser is the judge (a bad document fails the COPY).
            guard let first = text.utf8.first(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }),
                  "{[\"tfn-0123456789".utf8.contains(first), !text.contains("\\u0000") else {
                throw Rejection(reason: "'\(text.prefix(40))' is not JSON")
            }
            out.append(contentsOf: text.utf8)
        case .bytea:
            let bytes = storage == .blob ? statement.bytes(index) : statement.withTextBytes(index) { Array($0) }
            let digits = Array("0123456789abcdef".utf8)
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 15)])
            }
        }
    }

    private func plainText(_ statement: SQLiteStatement, _ index: Int, _ storage: SQLiteStorage) throws -> String {
        let text: String
        switch storage {
        case .blob:
            // Read as text, a blob's bytes would become replacement characters: carried only as bytea.
            throw Rejection(reason: "holds a blob of \(statement.bytes(index).count) bytes, not text (--type TABLE.COLUMN=bytea carries the column as bytes)")
        case .integer: text = String(statement.int64(index))
        case .real: text = "\(statement.double(index))"
        default: text = statement.text(index)
        }
        if text.utf8.contains(0) { throw Rejection(reason: "text holds a NUL character, which PostgreSQL cannot store") }
        return text
    }

    /// Appends the COPY field for canonical bytes (escaped; `+00` after instants; `\\x` before bytea).
    func appendCopy(_ canonical: [UInt8], to line: inout [UInt8]) {
        if type == .bytea { line.append(contentsOf: "\\\\x".utf8) }
        appendCopyEscaped(canonical, to: &line)
        if type == .timestamptz { line.append(contentsOf: "+00".utf8) }
    }
}

/// The text PostgreSQL prints for numeric input `text` (`1e-12` → `0.000000000001`, `1.50` → `1.50`,
/// `-0` → `0`), or nil when it is not a finite decimal number.
func plainDecimal(_ text: String) -> String? {
    var bytes = Substring(text)
    var negative = false
    if bytes.first == "-" || bytes.first == "+" { negative = bytes.first == "-"; bytes = bytes.dropFirst() }
    var exponent = 0
    if let mark = bytes.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        guard let value = Int(bytes[bytes.index(after: mark)...]), abs(value) <= 1000 else { return nil }
        exponent = value
        bytes = bytes[..<mark]
    }
    let parts = bytes.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let integerDigits = parts.first.map(String.init) ?? ""
    let fractionDigits = parts.count > 1 ? String(parts[1]) : ""
    guard !(integerDigits + fractionDigits).isEmpty, (integerDigits + fractionDigits).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    let digits = Array(integerDigits + fractionDigits)
    let point = integerDigits.count + exponent
    let scale = max(0, fractionDigits.count - exponent)
    var whole: String
    var fraction: String
    if point <= 0 {
        whole = "0"
        fraction = String(repeating: "0", count: -point) + String(digits)
    } else if point >= digits.count {
        whole = String(digits) + String(repeating: "0", count: point - digits.count)
        fraction = ""
    } else {
        whole = String(digits[..<point])
        fraction = String(digits[point...])
    }
    fraction = String(fraction.prefix(scale))
    while whole.count > 1, whole.first == "0" { whole.removeFirst() }
    if whole.isEmpty { whole = "0" }
    let isZero = whole.allSatisfy { $0 == "0" } && fraction.allSatisfy { $0 == "0" }
    return (negative && !isZero ? "-" : "") + whole + (fraction.isEmpty ? "" : "." + fraction)
}

/// Counts the characters (code points, as PostgreSQL's varchar(n) does) of SQLite text, rejecting
/// what PostgreSQL cannot store: NUL, and bytes that are not UTF-8 (which would fail the whole COPY).
@inline(__always)
func checkedTextLength(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Int {
    var ascii = true
    for byte in bytes {
        if byte == 0 { throw CellConverter.Rejection(reason: "text holds a NUL character, which PostgreSQL cannot store") }
        if byte >= 0x80 { ascii = false; break }
    }
    if ascii { return bytes.count }
    var characters = 0
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar):
            if scalar.value == 0 { throw CellConverter.Rejection(reason: "text holds a NUL character, which PostgreSQL cannot store") }
            characters += 1
        case .emptyInput: return characters
        case .error: throw CellConverter.Rejection(reason: "text is not valid UTF-8")
        }
    }
}

/// True when JSON text holds `\u0000`, which jsonb refuses.
private func containsEscapedNUL(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard bytes.count >= 6 else { return false }
    for start in 0...(bytes.count - 6) where bytes[start] == UInt8(ascii: "\\") && bytes[start + 1] == UInt8(ascii: "u")
        && bytes[start + 2] == 48 && bytes[start + 3] == 48 && bytes[start + 4] == 48 && bytes[start + 5] == 48 {
        return true
    }
    return false
}

/// Appends an integer's decimal digits without making a String.
@inline(__always)
func appendInteger(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    var digits = 1
    var rest = magnitude / 10
    while rest > 0 { digits += 1; rest /= 10 }
    for _ in 0..<digits { out.append(48) }
    // Filled from the end in place: no temporary String or array.
    var position = out.count - 1
    repeat {
        out[position] = UInt8(48 + magnitude % 10)
        magnitude /= 10
        position -= 1
    } while magnitude > 0
}

/// Takes the trailing zeros off the fraction of the `YYYY-MM-DD HH:MM:SS.ffffff` that starts at `start`
/// (and the point when nothing is left), as PostgreSQL prints a timestamp.
@inline(__always)
func trimFraction(_ text: inout [UInt8], from start: Int) {
    guard text.count > start + 19, text[start + 19] == UInt8(ascii: ".") else { return }
    while text.count > start + 20, text[text.count - 1] == UInt8(ascii: "0") { text.removeLast() }
    if text.count == start + 20 { text.removeLast() }
}

/// Appends `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) for an instant.
func appendInstant(_ stamp: Timestamp, to out: inout [UInt8]) {
    let date = stamp.utcDate
    let inDay = stamp.microseconds - Int64(date.days) * 86_400_000_000
    let seconds = Int(inDay / 1_000_000)
    let micro = Int(inDay % 1_000_000)
    out.append(contentsOf: "\(date) \(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(micro, 6))".utf8)
}
