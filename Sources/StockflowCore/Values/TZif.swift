import Foundation

/// An IANA time zone read from the system's TZif files (`/usr/share/zoneinfo`, RFC 8536), so that a
/// run does not load Foundation's `TimeZone`, which maps and faults in ICU's data at start-up.
///
/// Offsets come from the file's transitions (64-bit block), and past the last one from the POSIX TZ
/// rule of its footer (`CET-1CEST,M3.5.0,M10.5.0/3`). `TZifZoneTests` compares the offsets with
/// Foundation's over every zone Foundation knows and many instants.
public final class TZifZone: Sendable {
    /// The zone's name, as asked for.
    public let identifier: String
    /// UTC seconds of each transition, ascending.
    private let transitions: [Int64]
    /// The offset from UTC in seconds in force from each transition on.
    private let offsets: [Int32]
    /// The offset before the first transition (time type 0).
    private let initialOffset: Int32
    /// The rule after the last transition (nil: the last offset stays).
    private let rule: PosixZoneRule?

    private init(identifier: String, transitions: [Int64], offsets: [Int32], initialOffset: Int32, rule: PosixZoneRule?) {
        self.identifier = identifier
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.rule = rule
    }

    /// Where the zone files are.
    public static let directory = "/usr/share/zoneinfo"

    private static let loaded = Locked<[String: TZifZone]>([:])

    /// The zone named `identifier` (`Europe/Paris`, `UTC`), or nil when there is no such zone file
    /// or it cannot be read. Zones are read once per process.
    public static func named(_ identifier: String) -> TZifZone? {
        if let zone = loaded.value[identifier] { return zone }
        guard isPlausibleName(identifier) else { return nil }
        let zone: TZifZone?
        if let data = FileManager.default.contents(atPath: "\(directory)/\(identifier)") {
            zone = parse(Array(data), identifier: identifier)
        } else if identifier == "UTC" || identifier == "GMT" {
            // Without the system's zone files, UTC still has its meaning.
            zone = TZifZone(identifier: identifier, transitions: [], offsets: [], initialOffset: 0, rule: nil)
        } else {
            zone = nil
        }
        if let zone { loaded.mutate { $0[identifier] = zone } }
        return zone
    }

    /// A relative path of name characters only: no `..`, no leading slash, no empty part.
    static func isPlausibleName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 255 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.utf8.first, first != UInt8(ascii: ".") else { return false }
            return part.utf8.allSatisfy(isNameByte)
        }
    }

    /// Letters, digits, `_`, `-`, `+` and `.`.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x5F, 0x2D, 0x2B, 0x2E: return true
        default: return false
        }
    }

    /// UTC, from its zone file when there is one.
    public static var utc: TZifZone {
        named("UTC") ?? TZifZone(identifier: "UTC", transitions: [], offsets: [], initialOffset: 0, rule: nil)
    }

    /// The offset from UTC in seconds at `seconds` since the epoch.
    public func secondsFromGMT(at seconds: Int64) -> Int {
        guard let last = transitions.last else { return Int(rule?.offset(at: seconds) ?? Int64(initialOffset)) }
        if seconds >= last, let rule { return Int(rule.offset(at: seconds)) }
        // The last transition at or before `seconds`.
        var low = 0
        var high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= seconds { low = middle + 1 } else { high = middle }
        }
        return Int(low == 0 ? initialOffset : offsets[low - 1])
    }

    /// The local calendar day at `seconds` since the epoch.
    public func day(at seconds: Int64) -> CivilDate {
        let local = seconds + Int64(secondsFromGMT(at: seconds))
        return CivilDate(days: Int32(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400))
    }

    /// Parses a TZif file of version 2 or later (the 64-bit block and the footer); nil when malformed
    /// or when it counts leap seconds (the `right/` zones, which no pipeline names).
    static func parse(_ bytes: [UInt8], identifier: String) -> TZifZone? {
        var reader = TZifReader(bytes: bytes)
        guard let first = reader.header(), first.version >= 2 else { return nil }
        // Skip the 32-bit block.
        guard reader.skip(first.timeCount * 5 + first.typeCount * 6 + first.charCount + first.leapCount * 8
                          + first.standardCount + first.utcCount),
              let header = reader.header(), header.leapCount == 0, header.typeCount >= 1 else { return nil }
        var transitions: [Int64] = []
        transitions.reserveCapacity(header.timeCount)
        for _ in 0..<header.timeCount {
            guard let time = reader.integer(bytes: 8) else { return nil }
            transitions.append(time)
        }
        var indices: [Int] = []
        for _ in 0..<header.timeCount {
            guard let index = reader.integer(bytes: 1), index < header.typeCount else { return nil }
            indices.append(Int(index))
        }
        var typeOffsets: [Int32] = []
        for _ in 0..<header.typeCount {
            guard let offset = reader.integer(bytes: 4), reader.skip(2) else { return nil }
            typeOffsets.append(Int32(truncatingIfNeeded: offset))
        }
        guard reader.skip(header.charCount + header.standardCount + header.utcCount) else { return nil }
        let footer = reader.footer()
        let rule = footer.flatMap(PosixZoneRule.init(text:))
        if let footer, !footer.isEmpty, rule == nil { return nil }
        return TZifZone(identifier: identifier, transitions: transitions, offsets: indices.map { typeOffsets[$0] },
                        initialOffset: typeOffsets[0], rule: rule)
    }
}

/// Reads the big-endian fields of a TZif file.
private struct TZifReader {
    struct Header {
        var version: Int
        var utcCount: Int, standardCount: Int, leapCount: Int, timeCount: Int, typeCount: Int, charCount: Int
    }

    let bytes: [UInt8]
    var position = 0

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, position + count <= bytes.count else { return false }
        position += count
        return true
    }

    /// A signed big-endian integer of 1, 4 or 8 bytes (1 byte: unsigned).
    mutating func integer(bytes count: Int) -> Int64? {
        guard position + count <= bytes.count else { return nil }
        var value: UInt64 = 0
        for byte in bytes[position..<(position + count)] { value = value << 8 | UInt64(byte) }
        position += count
        switch count {
        case 4: return Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
        case 8: return Int64(bitPattern: value)
        default: return Int64(value)
        }
    }

    mutating func header() -> Header? {
        guard position + 44 <= bytes.count, Array(bytes[position..<(position + 4)]) == Array("TZif".utf8) else { return nil }
        let versionByte = bytes[position + 4]
        let version = versionByte == 0 ? 1 : Int(versionByte) - Int(UInt8(ascii: "0"))
        position += 20
        var counts: [Int] = []
        for _ in 0..<6 {
            guard let count = integer(bytes: 4), count >= 0 else { return nil }
            counts.append(Int(count))
        }
        return Header(version: version, utcCount: counts[0], standardCount: counts[1], leapCount: counts[2],
                      timeCount: counts[3], typeCount: counts[4], charCount: counts[5])
    }

    /// The POSIX TZ text between the two newlines after the 64-bit block.
    func footer() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\n") else { return nil }
        let rest = bytes[(position + 1)...]
        guard let end = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
    }
}

/// A POSIX TZ rule (`EST5EDT,M3.2.0,M11.1.0`): a standard offset and, optionally, a daylight offset
/// with the local times it starts and ends each year.
struct PosixZoneRule: Sendable {
    /// When in the year daylight time starts or ends, as local time.
    enum Day: Sendable {
        /// `Mm.w.d`: weekday d (0 = Sunday) of week w (5 = the last) of month m.
        case weekday(month: Int, week: Int, weekday: Int)
        /// `Jn`: day n of 1...365, February 29 never counted.
        case julian(Int)
        /// `n`: day n of 0...365, February 29 counted.
        case ordinal(Int)
    }

    struct Change: Sendable {
        var day: Day
        /// Seconds after local midnight (may be negative or past 24 h).
        var time: Int64
    }

    /// UTC offsets in seconds, east positive.
    var standard: Int64
    var daylight: Int64?
    var start: Change?
    var end: Change?

    init?(text: String) {
        var scanner = PosixScanner(Array(text.utf8))
        guard scanner.name(), let standardWest = scanner.offset() else { return nil }
        standard = -standardWest
        if scanner.atEnd { return }
        guard scanner.name() else { return nil }
        if let west = scanner.offset() { daylight = -west } else { daylight = standard + 3600 }
        guard scanner.take(","), let start = scanner.change(), scanner.take(","), let end = scanner.change(),
              scanner.atEnd else { return nil }
        self.start = start
        self.end = end
    }

    /// The offset at `seconds` since the epoch.
    func offset(at seconds: Int64) -> Int64 {
        guard let daylight, let start, let end else { return standard }
        let year = CivilDate(days: Int32(floorDivide(seconds + standard, 86_400))).components.year
        // Both changes happen on the wall clock: the start in standard time, the end in daylight time.
        let starts = Self.localSeconds(of: start, year: year) - standard
        let ends = Self.localSeconds(of: end, year: year) - daylight
        let inDaylight = starts < ends ? (seconds >= starts && seconds < ends) : !(seconds >= ends && seconds < starts)
        return inDaylight ? daylight : standard
    }

    /// Local seconds since the epoch of a change in `year`.
    static func localSeconds(of change: Change, year: Int) -> Int64 {
        let january = Int64(CivilDate(year: year, month: 1, day: 1)?.days ?? 0)
        let day: Int64
        switch change.day {
        case .julian(let number):
            let leap = CivilDate.daysIn(month: 2, year: year) == 29
            day = january + Int64(number - 1) + (leap && number >= 60 ? 1 : 0)
        case .ordinal(let number):
            day = january + Int64(number)
        case .weekday(let month, let week, let weekday):
            let first = CivilDate(year: year, month: month, day: 1) ?? CivilDate(days: Int32(january))
            let firstWeekday = first.isoWeekday % 7  // Sunday = 0
            var dayOfMonth = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            while dayOfMonth > CivilDate.daysIn(month: month, year: year) { dayOfMonth -= 7 }
            day = Int64(first.days) + Int64(dayOfMonth - 1)
        }
        return day * 86_400 + change.time
    }
}

/// Scans the parts of a POSIX TZ string.
private struct PosixScanner {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }
    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard current == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    /// A zone abbreviation: three or more letters, or anything between `<` and `>`.
    mutating func name() -> Bool {
        if take("<") {
            while let byte = current, byte != UInt8(ascii: ">") { position += 1 }
            return take(">")
        }
        let start = position
        while let byte = current, (byte | 0x20) >= 0x61, (byte | 0x20) <= 0x7A { position += 1 }
        return position - start >= 3
    }

    private mutating func number() -> Int64? {
        let start = position
        var value: Int64 = 0
        while let byte = current, byte >= 0x30, byte <= 0x39, position - start < 4 {
            value = value * 10 + Int64(byte - 0x30)
            position += 1
        }
        return position > start ? value : nil
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    mutating func offset() -> Int64? {
        let negative = take("-")
        if !negative { _ = take("+") }
        guard let hours = number() else { return nil }
        var total = hours * 3600
        if take(":") {
            guard let minutes = number() else { return nil }
            total += minutes * 60
            if take(":") {
                guard let seconds = number() else { return nil }
                total += seconds
            }
        }
        return negative ? -total : total
    }

    /// `Mm.w.d[/time]`, `Jn[/time]` or `n[/time]`.
    mutating func change() -> PosixZoneRule.Change? {
        let day: PosixZoneRule.Day
        if take("M") {
            guard let month = number(), take("."), let week = number(), take("."), let weekday = number(),
                  (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday) else { return nil }
            day = .weekday(month: Int(month), week: Int(week), weekday: Int(weekday))
        } else if take("J") {
            guard let number = number(), (1...365).contains(number) else { return nil }
            day = .julian(Int(number))
        } else {
            guard let number = number(), (0...365).contains(number) else { return nil }
            day = .ordinal(Int(number))
        }
        var time: Int64 = 7200
        if take("/") {
            guard let offset = offset() else { return nil }
            time = offset
        }
        return PosixZoneRule.Change(day: day, time: time)
    }
}

/// Integer division rounding toward negative infinity.
private func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
}
