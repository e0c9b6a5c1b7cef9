/// Turns instants into calendar days of one IANA time zone, caching the offset per UTC hour so a
/// million rows cost a million dictionary look-ups, not a million time zone computations.
public final class LocalCalendar {
    private let zone: TZifZone
    private var offsets: [Int64: Int64] = [:]
    // Rows often come in time order: the last hour answers most look-ups without hashing.
    private var lastHour: Int64 = .min
    private var lastOffset: Int64 = 0

    /// A calendar for `identifier` (UTC when unknown; pipelines validate zone names beforehand).
    public init(identifier: String) {
        zone = TZifZone.named(identifier) ?? TZifZone.utc
    }

    /// The local day of an instant, or the day itself for a date.
    public func day(of value: Value) -> CivilDate? {
        switch value {
        case .date(let date): return date
        case .datetime(let stamp): return day(of: stamp)
        default: return nil
        }
    }

    /// The local day of an instant.
    public func day(of stamp: Timestamp) -> CivilDate {
        let hour = stamp.microseconds >= 0 ? stamp.microseconds / 3_600_000_000 : (stamp.microseconds - 3_599_999_999) / 3_600_000_000
        let offset: Int64
        if hour == lastHour {
            offset = lastOffset
        } else if let cached = offsets[hour] {
            offset = cached
        } else {
            offset = Int64(zone.secondsFromGMT(at: hour * 3600)) * 1_000_000
            offsets[hour] = offset
        }
        lastHour = hour
        lastOffset = offset
        return Timestamp(microseconds: stamp.microseconds + offset).utcDate
    }
}
