import Foundation

/// PostgreSQL's binary COPY format, made from a cell's canonical text: the server copies integers,
/// timestamps and decimals in as they are instead of parsing their text, which is most of a text
/// COPY's server-side cost. The canonical text stays what the checksum hashes, so the two cannot drift.
enum BinaryCopy {
    /// `PGCOPY\n\377\r\n\0`, no flags, no header extension.
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The end of the data: a field count of -1.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    @inline(__always)
    static func appendInt16(_ value: Int16, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func appendInt32(_ value: Int32, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func appendInt64(_ value: Int64, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
    static let epochOffset: Int64 = 946_684_800_000_000

    /// One integer field of `type` (smallint, integer or bigint) whose range the caller has checked.
    @inline(__always)
    static func appendInteger(_ value: Int64, as type: TargetType, to out: inout [UInt8]) {
        switch type {
        case .smallint: appendInt32(2, to: &out); appendInt16(Int16(truncatingIfNeeded: value), to: &out)
        case .integer: appendInt32(4, to: &out); appendInt32(Int32(truncatingIfNeeded: value), to: &out)
        default: appendInt32(8, to: &out); appendInt64(value, to: &out)
        }
    }

    /// One boolean field.
    @inline(__always)
    static func appendBoolean(_ value: Bool, to out: inout [UInt8]) {
        appendInt32(1, to: &out)
        out.append(value ? 1 : 0)
    }

    /// One timestamptz field: microseconds since PostgreSQL's epoch, from microseconds since the Unix epoch (UTC).
    @inline(__always)
    static func appendInstant(unixMicroseconds: Int64, to out: inout [UInt8]) {
        appendInt32(8, to: &out)
        appendInt64(unixMicroseconds &- epochOffset, to: &out)
    }

    /// One text or varchar field: its UTF-8 bytes as they are (binary COPY escapes nothing).
    @inline(__always)
    static func appendText(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        appendInt32(Int32(truncatingIfNeeded: bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// One jsonb field: jsonb's binary format is a version byte (1), then the document's text.
    @inline(__always)
    static func appendJSON(_ text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        appendInt32(Int32(truncatingIfNeeded: text.count + 1), to: &out)
        out.append(1)
        out.append(contentsOf: text)
    }

    /// Appends one field (length, then the value) for `type` from its canonical text; for jsonb, whose
    /// canonical text is only a presence mark, `canonical` is the document's text.
    static func appendField(_ type: TargetType, canonical: ArraySlice<UInt8>, to out: inout [UInt8]) throws {
        let lengthAt = out.count
        appendInt32(0, to: &out)
        switch type {
        case .smallint: appendInt16(Int16(truncatingIfNeeded: try integer(canonical)), to: &out)
        case .integer: appendInt32(Int32(truncatingIfNeeded: try integer(canonical)), to: &out)
        case .bigint: appendInt64(try integer(canonical), to: &out)
        case .boolean: out.append(canonical.first == UInt8(ascii: "t") ? 1 : 0)
        case .varchar, .char, .text: out.append(contentsOf: canonical)
        case .numeric, .decimal: try appendNumeric(canonical, to: &out)
        case .timestamptz:
            guard canonical.count >= 19, let days = daysSince2000(canonical.prefix(10)), let micros = microseconds(canonical.dropFirst(11)) else { throw failed(type, canonical) }
            appendInt64(Int64(days) * 86_400_000_000 + micros, to: &out)
        case .date:
            guard let days = daysSince2000(canonical) else { throw failed(type, canonical) }
            appendInt32(Int32(days), to: &out)
        case .time:
            guard let micros = microseconds(canonical) else { throw failed(type, canonical) }
            appendInt64(micros, to: &out)
        case .double:
            guard let value = Double(String(decoding: canonical, as: UTF8.self)) else { throw failed(type, canonical) }
            appendInt64(Int64(bitPattern: value.bitPattern), to: &out)
        case .bytea:
            var index = canonical.startIndex
            while index + 1 < canonical.endIndex {
                guard let high = hexValue(canonical[index]), let low = hexValue(canonical[index + 1]) else { throw failed(type, canonical) }
                out.append(high << 4 | low)
                index += 2
            }
        case .jsonb:
            out.append(1)  // jsonb's binary format: a version byte, then the text
            out.append(contentsOf: canonical)
        }
        let length = Int32(out.count - lengthAt - 4)
        out.withUnsafeMutableBufferPointer { buffer in
            let bits = UInt32(bitPattern: length)
            buffer[lengthAt] = UInt8(bits >> 24); buffer[lengthAt + 1] = UInt8((bits >> 16) & 0xFF)
            buffer[lengthAt + 2] = UInt8((bits >> 8) & 0xFF); buffer[lengthAt + 3] = UInt8(bits & 0xFF)
        }
    }

    private static func failed(_ type: TargetType, _ canonical: ArraySlice<UInt8>) -> CellConverter.Rejection {
        CellConverter.Rejection(reason: "'\(String(decoding: canonical.prefix(40), as: UTF8.self))' cannot be sent as \(type)")
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        case 65...70: return byte - 55
        default: return nil
        }
    }

    @inline(__always)
    static func integer(_ text: ArraySlice<UInt8>) throws -> Int64 {
        var value: Int64 = 0
        var negative = false
        for byte in text {
            if byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= 48 && byte <= 57 else { throw CellConverter.Rejection(reason: "'\(String(decoding: text, as: UTF8.self))' is not an integer") }
            value = value &* 10 &+ Int64(byte - 48)
        }
        return negative ? 0 &- value : value
    }

    /// Days from 2000-01-01 of `YYYY-MM-DD` (proleptic Gregorian, as PostgreSQL counts).
    static func daysSince2000(_ text: ArraySlice<UInt8>) -> Int? {
        guard text.count == 10 else { return nil }
        let base = text.startIndex
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for index in base + from..<base + from + count {
                let byte = text[index]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard var year = number(0, 4), let month = number(5, 2), let day = number(8, 2), (1...12).contains(month), (1...31).contains(day) else { return nil }
        // Days from civil (H. Hinnant), from 1970-01-01, then shifted to PostgreSQL's epoch.
        year -= month <= 2 ? 1 : 0
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468 - 10_957
    }

    /// Microseconds of `HH:MM:SS[.f]` (one to six fraction digits), read in place.
    @inline(__always)
    static func microseconds(_ text: ArraySlice<UInt8>) -> Int64? {
        guard text.count == 8 || (text.count >= 10 && text.count <= 15) else { return nil }
        let base = text.startIndex
        @inline(__always) func number(_ from: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for index in base + from..<base + from + count {
                let byte = text[index]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard text[base + 2] == UInt8(ascii: ":"), text[base + 5] == UInt8(ascii: ":"),
              let hours = number(0, 2), let minutes = number(3, 2), let seconds = number(6, 2) else { return nil }
        var fraction: Int64 = 0
        if text.count > 8 {
            guard text[base + 8] == UInt8(ascii: "."), let digits = number(9, text.count - 9) else { return nil }
            fraction = digits
            for _ in text.count..<15 { fraction *= 10 }
        }
        return ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fraction
    }

    /// numeric's binary form of a plain decimal text (`-123.4500`): base-10000 digits, weight, sign, display
    /// scale, written straight into `out` (the digits are read in place, no buffer per value).
    static func appendNumeric(_ text: ArraySlice<UInt8>, to out: inout [UInt8]) throws {
        var body = text
        let negative = body.first == UInt8(ascii: "-")
        if negative { body = body.dropFirst() }
        let point = body.firstIndex(of: UInt8(ascii: "."))
        let integerPart = point.map { body[body.startIndex..<$0] } ?? body
        let fractionPart = point.map { body[body.index(after: $0)...] } ?? body[body.endIndex...]
        guard integerPart.allSatisfy({ $0 >= 48 && $0 <= 57 }), fractionPart.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              !(integerPart.isEmpty && fractionPart.isEmpty) else {
            throw CellConverter.Rejection(reason: "'\(String(decoding: text.prefix(40), as: UTF8.self))' is not a decimal")
        }
        // The digits zero-padded on the left and right to whole groups of four: digit(i) reads that sequence.
        let leading = (4 - integerPart.count % 4) % 4
        let integerEnd = leading + integerPart.count
        let fractionEnd = integerEnd + fractionPart.count
        let groupCount = (fractionEnd + 3) / 4
        @inline(__always) func digit(_ position: Int) -> Int16 {
            if position < leading || position >= fractionEnd { return 0 }
            if position < integerEnd { return Int16(integerPart[integerPart.startIndex + position - leading] - 48) }
            return Int16(fractionPart[fractionPart.startIndex + position - integerEnd] - 48)
        }
        @inline(__always) func group(_ index: Int) -> Int16 {
            digit(index * 4) * 1000 + digit(index * 4 + 1) * 100 + digit(index * 4 + 2) * 10 + digit(index * 4 + 3)
        }
        var first = 0
        while first < groupCount, group(first) == 0 { first += 1 }
        var last = groupCount
        while last > first, group(last - 1) == 0 { last -= 1 }
        let weight = integerEnd / 4 - 1 - first
        appendInt16(Int16(last - first), to: &out)
        appendInt16(last == first ? 0 : Int16(weight), to: &out)
        appendInt16(negative && last > first ? 0x4000 : 0, to: &out)
        appendInt16(Int16(fractionPart.count), to: &out)
        for index in first..<last { appendInt16(group(index), to: &out) }
    }
}
