import Foundation

/// `incremental: {column, lookback}` of an SQLite or PostgreSQL extract: read only the rows whose
/// `column` is at or past the last committed watermark minus the lookback.
public struct IncrementalRead: Sendable {
    /// How far before the watermark a run reads again, so rows that arrive late are not missed.
    public enum Lookback: Sendable, Equatable {
        /// Microseconds, for datetime and date columns (`2h`, `3d`).
        case duration(Int64)
        /// A count of values, for integer columns (`1000`: the last thousand ids again).
        case count(Int64)
    }

    /// The option's docs, shared by both extracts.
    static let option = OptionSpec("incremental", .mapping, "`{column: updated_at, lookback: 2h}`: read only rows whose `column` is at or past the last committed watermark minus `lookback` (the watermark is the largest value of `column` among the rows read, kept in the state database and committed only with the run's outputs; `run --full-refresh` reads everything). The column's type decides: datetime and date columns take a duration (`90s`, `30m`, `2h`, `3d`), integer columns a count (`1000`), text columns no lookback (compared as text, so ISO timestamps order right). Rows whose column is NULL are read only by a full run. Incremental rows may flow only through `filter`, `select` and the streamed side of `join` into `load: postgres` with `mode: upsert` (see docs/scale.md).")

    /// The column, as the extract emits it.
    public var column: String
    /// The name the source knows it by (the `from:` of a declared column).
    public var sourceColumn: String
    /// Its index in the extract's rows.
    public var index: Int
    /// Its type: int, date, datetime or text.
    public var type: ColumnType
    /// Nil for none.
    public var lookback: Lookback?
    /// Where `incremental:` is written.
    public var position: SourcePosition

    /// Reads `incremental:` against the extract's output columns; nil (with diagnostics) when absent or wrong.
    static func read(_ config: StageConfig, schema: Schema, sourceName: (String) -> String = { $0 }) -> IncrementalRead? {
        guard let node = config.node["incremental"], let entries = node.entries else { return nil }
        for entry in entries where !["column", "lookback"].contains(entry.key) {
            config.error("unknown key '\(entry.key)' in 'incremental' of stage '\(config.id)'\(didYouMean(entry.key, ["column", "lookback"]))", at: entry.keyPosition)
        }
        guard let column = node["column"]?.scalar else {
            config.error("'incremental' of stage '\(config.id)' needs 'column': a column that only grows (an id) or an updated-at datetime", at: node.position)
            return nil
        }
        guard let index = schema.index(of: column) else {
            config.error("incremental column '\(column)' is not among the columns stage '\(config.id)' reads (\(schema.names.joined(separator: ", ")))\(didYouMean(column, schema.names))", at: node["column"]?.position)
            return nil
        }
        let type = schema.columns[index].type
        guard [.int, .date, .datetime, .text].contains(type) else {
            config.error("incremental column '\(column)' is \(type.rawValue); it must be an integer, a date, a datetime or text", at: node["column"]?.position)
            return nil
        }
        var lookback: Lookback?
        if let lookbackNode = node["lookback"] {
            let text = lookbackNode.scalar ?? ""
            switch type {
            case .int:
                guard let count = Int64(text), count >= 0 else {
                    config.error("lookback of integer column '\(column)' is a count of values like 1000, found \(lookbackNode.shapeName)", at: lookbackNode.position)
                    return nil
                }
                lookback = .count(count)
            case .date, .datetime:
                guard let micro = parseDuration(text) else {
                    config.error("lookback must be a duration like 90s, 30m, 2h or 3d, found \(lookbackNode.shapeName)", at: lookbackNode.position)
                    return nil
                }
                lookback = .duration(micro)
            default:
                config.error("text column '\(column)' takes no lookback (text has no distance); use a datetime or integer column to read late rows again", at: lookbackNode.position)
                return nil
            }
        }
        return IncrementalRead(column: column, sourceColumn: sourceName(column), index: index, type: type,
                               lookback: lookback, position: node.position)
    }

    /// `90s`, `30m`, `2h`, `3d`, `1w` in microseconds; nil for anything else.
    static func parseDuration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = text.last, let seconds = units[unit], let amount = Int64(text.dropLast()), amount >= 0,
              amount <= Int64.max / 1_000_000 / seconds else { return nil }
        return amount * seconds * 1_000_000
    }

    /// The smallest value the run reads: the watermark minus the lookback.
    func lowerBound(from watermark: Value) -> Value {
        switch (watermark, lookback) {
        case (.int(let value), .count(let count)?):
            return .int(value.subtractingReportingOverflow(count).overflow ? Int64.min : value - count)
        case (.datetime(let stamp), .duration(let micro)?):
            let (result, overflow) = stamp.microseconds.subtractingReportingOverflow(micro)
            return .datetime(Timestamp(microseconds: overflow ? Int64.min : result))
        case (.date(let date), .duration(let micro)?):
            // Whole days, rounded up: `lookback: 2h` on a date column reads the previous day again.
            let days = (micro + 86_399_999_999) / 86_400_000_000
            return .date(CivilDate(days: Int32(clamping: Int64(date.days) - days)))
        default:
            return watermark
        }
    }

    /// The watermark's text as the state database keeps it.
    static func stored(_ value: Value) -> String { value.description }

    /// A watermark read back from the state database; nil when it no longer fits the column's type.
    func parse(stored text: String) -> Value? {
        switch type {
        case .int: return Int64(text).map(Value.int)
        case .date: return CivilDate(iso: text).map(Value.date)
        case .datetime: return parseStoredDatetime(text).map(Value.datetime)
        case .text: return .text(text)
        default: return nil
        }
    }

    /// The value bound into SQLite's `>= ?`, as Django stores it (naive UTC text for datetimes), so
    /// the comparison is the one an index on the column serves.
    func sqliteText(_ bound: Value) -> String {
        guard case .datetime(let stamp) = bound else { return bound.description }
        var bytes: [UInt8] = []
        appendInstant(stamp, to: &bytes)
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix(".000000") { text.removeLast(7) }
        return text
    }

    /// Binds the bound to the `?` of an SQLite statement.
    func bind(_ bound: Value, to statement: SQLiteStatement) throws {
        if case .int(let value) = bound { try statement.bind(value, at: 1) } else { try statement.bind(sqliteText(bound), at: 1) }
    }

    /// The bound as a PostgreSQL literal of the column's type (the session runs in UTC).
    func postgresLiteral(_ bound: Value) -> String {
        switch bound {
        case .int(let value): return String(value)
        case .date(let date): return "'\(date)'::date"
        case .datetime(let stamp): return "'\(stamp)'::timestamptz"
        default: return PostgresConnection.literal(bound.description)
        }
    }

    /// Wraps `sql` so it returns only the rows at or past `literal` (a placeholder or a literal).
    func wrap(_ sql: String, bound literal: String) -> String {
        // The line break keeps a trailing `-- comment` of the query from hiding the ')'.
        "SELECT * FROM (\(sql)\n) AS stockflow_incremental WHERE \(quoteIdentifier(sourceColumn)) >= \(literal)"
    }
}

/// The largest value of the incremental column among the rows an extract emitted.
struct WatermarkTracker {
    let read: IncrementalRead
    private(set) var highest: Value?

    init(_ read: IncrementalRead) { self.read = read }

    /// Looks at one emitted row.
    mutating func observe(_ row: Row) {
        guard read.index < row.count else { return }
        let value = row[read.index]
        if value.isNull { return }
        if let highest, Value.compare(value, highest) <= 0 { return }
        highest = value
    }
}

extension StageContext {
    /// The lower bound an incremental extract reads from in this run; nil for a full read (no
    /// watermark yet, `--full-refresh`, or a watermark of another column).
    func incrementalBound(_ read: IncrementalRead) -> Value? {
        guard let ledger = run.watermarks, let committed = ledger.committed(stage: stageID, column: read.column),
              let value = read.parse(stored: committed) else { return nil }
        return read.lowerBound(from: value)
    }

    /// Hands the highest value read to the run's ledger, which commits it with the outputs.
    func recordWatermark(_ tracker: WatermarkTracker, from bound: Value?) {
        guard let ledger = run.watermarks, var highest = tracker.highest else { return }
        // A watermark never moves back (rows deleted or updated downwards), except by a full refresh.
        if let committed = ledger.committed(stage: stageID, column: tracker.read.column),
           let previous = tracker.read.parse(stored: committed), Value.compare(previous, highest) > 0 {
            highest = previous
        }
        ledger.observe(stage: stageID, column: tracker.read.column, value: IncrementalRead.stored(highest))
        note("incremental: read \(tracker.read.column) \(bound.map { "from \($0)" } ?? "in full") up to \(highest)")
    }
}

extension IncrementalRead {
    /// Transforms that handle each streamed row on its own, so rows read again give the same rows again.
    static let rowWiseTransforms: Set<String> = ["filter", "select", "join", "order_totals"]

    /// The incremental read of an extract, if it has one.
    static func of(_ runner: StageRunner) -> IncrementalRead? {
        (runner as? SQLiteExtract)?.incremental?.read ?? (runner as? PostgresExtract)?.incremental
    }

    /// Refuses incremental rows that reach a stage where reading only the new rows (and some rows
    /// again) would give a wrong result: a whole-file output (xlsx, csv, html, email) would hold only
    /// the new rows, an aggregate or rulebook transform would compute over a part of the data, and a
    /// postgres load that appends would add the rows of the lookback twice. What is allowed: row-wise
    /// transforms on their streamed input into `load: postgres` with `mode: upsert`.
    static func checkFlow(_ stages: [PlannedStage], diagnostics: DiagnosticCollector) {
        // For each stage, the incremental extract its rows come from (stages are in run order).
        var origin: [String: String] = [:]
        for stage in stages {
            if of(stage.runner) != nil { origin[stage.id] = stage.id; continue }
            for input in stage.inputs {
                guard let source = origin[input.stage] else { continue }
                let what = "stage '\(stage.id)' (\(stage.spec.role.rawValue): \(stage.spec.kind)) reads the incremental rows of '\(source)'"
                switch stage.spec.role {
                case .transform where rowWiseTransforms.contains(stage.spec.kind) && !input.lookup:
                    origin[stage.id] = source
                case .transform:
                    let reason = input.lookup ? "as its lookup input, which must be complete" : "and would compute over only the rows read since the last run"
                    diagnostics.error("\(what) \(reason); incremental rows may pass only through \(rowWiseTransforms.sorted().joined(separator: ", ")) (streamed input) into load: postgres with mode: upsert", at: input.position)
                case .load where (stage.runner as? PostgresLoad)?.mode == "upsert":
                    break
                case .load, .extract:
                    diagnostics.error("\(what), but only load: postgres with mode: upsert takes them: each run reads only the new rows and those of the lookback again, which mode append would add twice and a whole-table or whole-file output (replace, xlsx, csv, html_report, email) would hold alone; give the load mode: upsert with a key, or read '\(source)' in full", at: input.position)
                }
            }
        }
    }
}
