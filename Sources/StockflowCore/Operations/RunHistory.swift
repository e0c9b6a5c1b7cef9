import Foundation

/// One run as the state database keeps it.
public struct RunRecord: Sendable {
    /// The run id (also in every log line of the run).
    public var runID: String
    public var pipeline: String
    public var asOf: String
    public var started: String
    /// Empty while the run is going.
    public var finished: String
    /// `running`, `succeeded`, `failed`, `too_many_rejects`, `cancelled`, or `killed` (a run that
    /// was still `running` when the next run of its pipeline took the lock).
    public var status: String
    public var exitCode: Int32?
    public var error: String?
    /// `manual` (someone or cron called `stockflow run`) or `schedule`.
    public var trigger: String
    /// The fire time a scheduled run is for.
    public var scheduledFor: String?
    public var pid: Int32
    public var outputDirectory: String
    /// The whole run.json, once finished.
    public var report: String?

    /// Makes a record of a run that starts now.
    public init(runID: String, pipeline: String, asOf: String, started: String, trigger: String, scheduledFor: String?,
                pid: Int32, outputDirectory: String) {
        self.init(runID: runID, pipeline: pipeline, asOf: asOf, started: started, finished: "", status: "running",
                  exitCode: nil, error: nil, trigger: trigger, scheduledFor: scheduledFor, pid: pid,
                  outputDirectory: outputDirectory, report: nil)
    }

    init(runID: String, pipeline: String, asOf: String, started: String, finished: String, status: String, exitCode: Int32?,
         error: String?, trigger: String, scheduledFor: String?, pid: Int32, outputDirectory: String, report: String?) {
        self.runID = runID
        self.pipeline = pipeline
        self.asOf = asOf
        self.started = started
        self.finished = finished
        self.status = status
        self.exitCode = exitCode
        self.error = error
        self.trigger = trigger
        self.scheduledFor = scheduledFor
        self.pid = pid
        self.outputDirectory = outputDirectory
        self.report = report
    }
}

/// The state database (SQLite, default `.stockflow/state.sqlite`): every run's record and the
/// scheduler's per-pipeline cursor. Several processes share it; WAL mode and the driver's busy
/// timeout keep their short writes from failing each other.
public final class RunHistory: ScheduleCursorStore {
    private let database: SQLiteDatabase
    /// The database file.
    public let path: String

    /// The default location, relative to the working folder.
    public static let defaultPath = ".stockflow/state.sqlite"

    /// Opens (and creates) the state database at `path`, read-write.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        self.path = path
        do {
            database = try SQLiteDatabase(path: path, readOnly: false, busyTimeoutMilliseconds: 10_000)
            try database.execute("PRAGMA journal_mode = WAL")
            try database.execute("""
                CREATE TABLE IF NOT EXISTS runs (
                    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, as_of TEXT NOT NULL, started TEXT NOT NULL,
                    finished TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, exit_code INTEGER, error TEXT,
                    trigger TEXT NOT NULL, scheduled_for TEXT, pid INTEGER NOT NULL, output_dir TEXT NOT NULL,
                    report TEXT);
                CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started);
                CREATE TABLE IF NOT EXISTS schedule_cursor (pipeline TEXT PRIMARY KEY, last_fire TEXT NOT NULL);
                """)
        } catch let error as SQLiteError {
            throw StageError("state database \(path): \(error.message)", kind: error.isTemporary ? .temporary : .failed)
        }
    }

    /// The folder holding the state database; run locks live under it.
    public var folder: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    /// Records the start of a run. The caller holds the pipeline's lock, so any run of the pipeline
    /// still marked `running` was killed: it is marked `killed` first.
    public func begin(_ record: RunRecord) throws {
        try statement("UPDATE runs SET status = 'killed', finished = ? WHERE pipeline = ? AND status = 'running'",
                      [record.started, record.pipeline])
        try statement("""
            INSERT INTO runs (run_id, pipeline, as_of, started, status, trigger, scheduled_for, pid, output_dir)
            VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)
            """, [record.runID, record.pipeline, record.asOf, record.started, record.trigger, record.scheduledFor,
                  Int64(record.pid), record.outputDirectory])
    }

    /// Records how a run ended, with its whole report.
    public func finish(runID: String, report: RunReport) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(report)).map { String(decoding: $0, as: UTF8.self) }
        try statement("UPDATE runs SET finished = ?, status = ?, exit_code = ?, error = ?, report = ?, as_of = ? WHERE run_id = ?",
                      [report.finished, report.status, Int64(report.exitCode), report.error, json, report.asOf, runID])
    }

    /// Records a run abandoned by a stop signal before it could write its report.
    public func markCancelled(runID: String, finished: String, error: String) throws {
        try statement("UPDATE runs SET finished = ?, status = 'cancelled', exit_code = 75, error = ? WHERE run_id = ?",
                      [finished, error, runID])
    }

    /// The newest runs first, of one pipeline or all, at most `limit`.
    public func runs(pipeline: String? = nil, status: String? = nil, limit: Int = 20) throws -> [RunRecord] {
        var sql = "SELECT run_id, pipeline, as_of, started, finished, status, exit_code, error, trigger, scheduled_for, pid, output_dir, report FROM runs WHERE 1"
        var values: [Any?] = []
        if let pipeline {
            sql += " AND pipeline = ?"
            values.append(pipeline)
        }
        if let status {
            sql += " AND status = ?"
            values.append(status)
        }
        sql += " ORDER BY started DESC, rowid DESC LIMIT ?"
        values.append(Int64(limit))
        return try query(sql, values) { row in
            RunRecord(runID: row.text(0), pipeline: row.text(1), asOf: row.text(2), started: row.text(3), finished: row.text(4),
                      status: row.text(5), exitCode: row.storage(6) == .null ? nil : Int32(row.int64(6)),
                      error: row.storage(7) == .null ? nil : row.text(7), trigger: row.text(8),
                      scheduledFor: row.storage(9) == .null ? nil : row.text(9), pid: Int32(row.int64(10)),
                      outputDirectory: row.text(11), report: row.storage(12) == .null ? nil : row.text(12))
        }
    }

    /// The last run and the last successful run of each pipeline that has run, by name.
    public func latest() throws -> [String: (last: RunRecord, lastSuccess: RunRecord?)] {
        var result: [String: (last: RunRecord, lastSuccess: RunRecord?)] = [:]
        let names = try query("SELECT DISTINCT pipeline FROM runs ORDER BY pipeline", []) { $0.text(0) }
        for name in names {
            guard let last = try runs(pipeline: name, limit: 1).first else { continue }
            result[name] = (last, try runs(pipeline: name, status: "succeeded", limit: 1).first)
        }
        return result
    }

    // MARK: ScheduleCursorStore

    public func lastFire(pipeline: String) -> Date? {
        let values = try? query("SELECT last_fire FROM schedule_cursor WHERE pipeline = ?", [pipeline]) { $0.text(0) }
        return values?.first.flatMap(parseISO8601)
    }

    public func recordFire(pipeline: String, fire: Date) {
        try? statement("INSERT INTO schedule_cursor (pipeline, last_fire) VALUES (?, ?) ON CONFLICT (pipeline) DO UPDATE SET last_fire = excluded.last_fire",
                       [pipeline, iso8601(fire)])
    }

    // MARK: SQL helpers

    private func bind(_ statement: SQLiteStatement, _ values: [Any?]) throws {
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case let text as String: try statement.bind(text, at: position)
            case let number as Int64: try statement.bind(number, at: position)
            default: try statement.bindNull(at: position)
            }
        }
    }

    private func statement(_ sql: String, _ values: [Any?]) throws {
        do {
            let prepared = try database.prepare(sql)
            try bind(prepared, values)
            while try prepared.step() {}
        } catch let error as SQLiteError {
            throw StageError("state database \(path): \(error.message)", kind: error.isTemporary ? .temporary : .failed)
        }
    }

    private func query<T>(_ sql: String, _ values: [Any?], _ read: (SQLiteStatement) -> T) throws -> [T] {
        do {
            let prepared = try database.prepare(sql)
            try bind(prepared, values)
            var rows: [T] = []
            while try prepared.step() { rows.append(read(prepared)) }
            return rows
        } catch let error as SQLiteError {
            throw StageError("state database \(path): \(error.message)", kind: error.isTemporary ? .temporary : .failed)
        }
    }
}
