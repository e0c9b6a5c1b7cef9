import Foundation

/// Periods after grouping (docs/pushdown.md, "Periods after grouping"): instead of labelling every
/// order with its month or week in the pipeline's time zone (`to_char(at AT TIME ZONE ...)` per row,
/// the most expensive part of a grouped scan), the rows are grouped by *pieces* of UTC time within
/// which the local day cannot change, and the few thousand pieces are labelled afterwards.
///
/// A piece is bounded by every instant whose UTC time of day is one of `origins`: the UTC times of
/// local midnight under each offset the zone uses, and the UTC times of day of its transitions.
/// Between two such boundaries the offset is constant and no local midnight passes, so every instant
/// of a piece has the local day of the piece's first boundary, and so the same day, week, month and
/// year. A row's piece is the latest boundary of each origin at or before it (`date_bin('1 day', at,
/// origin)`, one per origin, grouped together); its first instant is the greatest of them. The
/// origins are read from the system's time-zone database over [2000, 2100), the database PostgreSQL
/// reads too (Debian builds it with the system's tzdata); an instant outside that range is a piece
/// of its own (`__p0`, the instant itself), labelled as per row. A zone with more than `maxOrigins`
/// origins keeps the per-row form (no pieces).
struct PeriodPieces {
    /// 2000-01-01 and 2100-01-01 UTC, in seconds since 1970.
    static let start = 946_684_800, end = 4_102_444_800
    /// At most this many `date_bin`s per row; beyond, per-row labels are as cheap.
    static let maxOrigins = 4

    /// The UTC seconds of the day at which a piece may begin, sorted.
    let origins: [Int]

    /// The pieces of `timezone`, or nil when the zone is unknown or needs too many origins.
    init?(timezone: String) {
        guard let zone = TimeZone(identifier: timezone) else { return nil }
        guard let origins = Self.origins(of: zone, maxOrigins: Self.maxOrigins) else { return nil }
        self.origins = origins
    }

    /// The origins of `zone` over [start, end), or nil beyond `maxOrigins`.
    static func origins(of zone: TimeZone, maxOrigins: Int) -> [Int]? {
        func timeOfDay(_ seconds: Int) -> Int { ((seconds % 86_400) + 86_400) % 86_400 }
        var found = Set<Int>()
        var instant = Date(timeIntervalSince1970: TimeInterval(start))
        let last = Date(timeIntervalSince1970: TimeInterval(end))
        found.insert(timeOfDay(-zone.secondsFromGMT(for: instant)))
        while let next = zone.nextDaylightSavingTimeTransition(after: instant), next < last {
            let seconds = next.timeIntervalSince1970
            // A transition that is not on a whole second cannot be a piece boundary of date_bin's origins.
            guard seconds == seconds.rounded() else { return nil }
            found.insert(timeOfDay(Int(seconds)))
            found.insert(timeOfDay(-zone.secondsFromGMT(for: next)))
            guard found.count <= maxOrigins else { return nil }
            instant = next
        }
        return found.sorted()
    }

    /// The grouping keys of the instant `sql`: first the instant itself when it is outside the range
    /// (null inside), then one `date_bin` per origin. An instant within a day of the range's start
    /// is alone too, so that no piece begins before the range.
    func keys(_ sql: String) -> [String] {
        let outside = "CASE WHEN \(sql) < '\(Self.stamp(Self.start + 86_400))' OR \(sql) >= '\(Self.stamp(Self.end))' THEN \(sql) END"
        return [outside] + origins.map { "date_bin('1 day', \(sql), '\(Self.stamp(Self.start + $0))')" }
    }

    /// The first instant of the piece whose keys are the columns `names` (as `keys` gives them).
    func representative(_ names: [String]) -> String {
        guard let alone = names.first else { return "NULL::timestamptz" }
        return "coalesce(\(alone), greatest(\(names.dropFirst().joined(separator: ", "))))"
    }

    /// A timestamptz literal's text for `seconds` since 1970 (UTC).
    static func stamp(_ seconds: Int) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { let v = value ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(c.year ?? 2000)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)):\(two(c.second))+00"
    }
}

/// A period column of a pushed select: `month`, `iso_week`, `year` or `day` of an instant or a date,
/// which an aggregate grouping by it can compute after grouping (by pieces, or by the date).
struct PeriodColumn {
    /// The expression function.
    var function: String
    /// The SQL of its argument, over the select's input columns.
    var argument: String
    /// The argument's type (`.datetime` or `.date`).
    var type: ColumnType

    /// The grouping keys of the argument: its pieces for an instant (nil when the zone has none), the
    /// date itself for a date.
    func keys(_ pieces: PeriodPieces?) -> [String]? {
        if type == .date { return [argument] }
        guard type == .datetime else { return nil }
        return pieces?.keys(argument)
    }

    /// The label over the grouped keys `names`, with the pipeline's time zone.
    func label(_ names: [String], pieces: PeriodPieces?, timezone: String) throws -> String {
        let value = type == .date ? (names.first ?? "NULL::date") : (pieces?.representative(names) ?? "NULL::timestamptz")
        return try Self.label(function, of: value, type: type, timezone: timezone)
    }

    /// `function` of the instant or date `sql` as the expression compiler writes it (a day is its date,
    /// as trends labels days).
    static func label(_ function: String, of sql: String, type: ColumnType, timezone: String) throws -> String {
        let compiler = ExpressionSQL(columns: [sql], schema: Schema([Column("at", type)]), timezone: timezone)
        return try compiler.compile(.call(function, [.column(0, "at")]))
    }

    /// The period column `expression` is, if it is one.
    static func of(_ expression: Expression, compiler: ExpressionSQL, schema: Schema) throws -> PeriodColumn? {
        guard case .call(let name, let arguments) = expression, ["month", "iso_week", "year", "day"].contains(name),
              arguments.count == 1 else { return nil }
        let type = arguments[0].resultType(schema)
        guard type == .datetime || type == .date else { return nil }
        return PeriodColumn(function: name, argument: try compiler.compile(arguments[0]), type: type)
    }
}
