// How Django stores datetimes in SQLite, read back as instants (shared by the SQLite extract and the migration).

/// Parses datetimes as Django's SQLite backend stores them: `YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC,
/// also accepting a `T` separator and a `+HH:MM` or `Z` offset.
func parseStoredDatetime(_ text: String) -> Timestamp? {
    var bytes = Array(text.utf8)
    var offsetSeconds = 0
    if bytes.last == UInt8(ascii: "Z") { bytes.removeLast() }
    if bytes.count >= 25, bytes[bytes.count - 3] == UInt8(ascii: ":"),
       bytes[bytes.count - 6] == UInt8(ascii: "+") || bytes[bytes.count - 6] == UInt8(ascii: "-") {
        let sign = bytes[bytes.count - 6] == UInt8(ascii: "-") ? -1 : 1
        guard let hours = Int(String(decoding: bytes[(bytes.count - 5)..<(bytes.count - 3)], as: UTF8.self)),
              let minutes = Int(String(decoding: bytes[(bytes.count - 2)...], as: UTF8.self)) else { return nil }
        offsetSeconds = sign * (hours * 3600 + minutes * 60)
        bytes.removeLast(6)
    }
    if bytes.count > 10 && bytes[10] == UInt8(ascii: "T") { bytes[10] = 32 }
    if bytes.count == 10 { bytes += Array(" 00:00:00".utf8) }
    let format = bytes.count > 19 ? storedDatetimeWithFraction : storedDatetime
    guard case .value(let date, let micro) = format.parse(bytes) else { return nil }
    return Timestamp(microseconds: Int64(date.days) * 86_400_000_000 + micro - Int64(offsetSeconds) * 1_000_000)
}

private let storedDatetime = DateFormat("yyyy-MM-dd HH:mm:ss")!
private let storedDatetimeWithFraction = DateFormat("yyyy-MM-dd HH:mm:ss.SSSSSS")!

/// The common case of Django's storage, `YYYY-MM-DD HH:MM:SS[.ffffff]` (naive UTC), read straight from
/// SQLite's bytes; nil for anything else (offsets, `T`), which `parseStoredDatetime` then handles.
func parseStoredDatetimeFast(_ bytes: UnsafeBufferPointer<UInt8>) -> Timestamp? {
    let count = bytes.count
    guard count == 19 || (count > 20 && count <= 26 && bytes[19] == UInt8(ascii: ".")),
          bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == 32,
          bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
    func number(_ start: Int, _ length: Int) -> Int? {
        var value = 0
        for offset in start..<(start + length) {
            let digit = Int(bytes[offset]) - 48
            guard digit >= 0 && digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value
    }
    guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
          let minute = number(14, 2), let second = number(17, 2), hour < 24, minute < 60, second < 60,
          let date = CivilDate(year: year, month: month, day: day) else { return nil }
    var micro = 0
    if count > 20 {
        guard let fraction = number(20, count - 20) else { return nil }
        micro = fraction * [1, 100_000, 10_000, 1_000, 100, 10, 1][count - 20]
    }
    return Timestamp(date: date, hour: hour, minute: minute, second: second, microsecond: micro)
}
