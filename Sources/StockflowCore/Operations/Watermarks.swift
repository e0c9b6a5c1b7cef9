import Foundation
import Logging

/// The watermarks of a pipeline's incremental extracts for one run: the committed ones it reads
/// from, and the new ones it saves only once its outputs are committed, so a failed or killed run
/// leaves the old ones and the next run reads the same rows again.
public final class WatermarkLedger: @unchecked Sendable {
    /// One stage's watermark.
    public struct Mark: Sendable, Equatable {
        public var column: String
        public var value: String
    }

    private let lock = NSLock()
    private let store: WatermarkStore?
    private let pipeline: String
    private let runID: String
    private let committedMarks: [String: Mark]
    private var observed: [String: Mark] = [:]

    /// Reads the committed watermarks of `pipeline` from `store`; `fullRefresh` ignores them (the new
    /// ones are still saved, as after any run).
    public init(store: WatermarkStore?, pipeline: String, runID: String, fullRefresh: Bool = false) throws {
        self.store = store
        self.pipeline = pipeline
        self.runID = runID
        committedMarks = fullRefresh ? [:] : try store?.marks(pipeline: pipeline) ?? [:]
    }

    /// The ledger of a session's run, when its pipeline reads incrementally; nil otherwise, or when the
    /// state database cannot be read (the extracts then read in full and no watermark is saved).
    static func forSession(_ session: RunSession, logger: Logger) -> WatermarkLedger? {
        guard session.pipeline.stages.contains(where: { IncrementalRead.of($0.runner) != nil }) else { return nil }
        do {
            return try WatermarkLedger(store: WatermarkStore(path: session.options.statePath), pipeline: session.pipeline.name,
                                       runID: session.runID, fullRefresh: session.options.fullRefresh)
        } catch {
            logger.error("incremental: watermarks not readable in \(session.options.statePath), so this run reads everything: \(error)")
            return nil
        }
    }

    /// The committed watermark of `stage`, if it was taken on `column`.
    func committed(stage: String, column: String) -> String? {
        guard let mark = committedMarks[stage], mark.column == column else { return nil }
        return mark.value
    }

    /// Notes the watermark a stage reached in this run (called from the extract's thread).
    func observe(stage: String, column: String, value: String) {
        lock.withLock { observed[stage] = Mark(column: column, value: value) }
    }

    /// The watermarks this run reached, by stage.
    public var pending: [String: Mark] { lock.withLock { observed } }

    /// Saves the watermarks this run reached; called once its outputs are committed.
    public func commit() throws {
        let marks = pending
        guard !marks.isEmpty, let store else { return }
        try store.save(marks, pipeline: pipeline, runID: runID)
    }
}

/// The `watermarks` table of the state database.
public final class WatermarkStore {
    private let database: StateDatabase

    /// Opens (and creates) the table in the state database at `path`.
    public init(path: String) throws {
        database = try StateDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS watermarks (
                pipeline TEXT NOT NULL, stage TEXT NOT NULL, column_name TEXT NOT NULL, value TEXT NOT NULL,
                run_id TEXT NOT NULL, committed TEXT NOT NULL, PRIMARY KEY (pipeline, stage))
            """)
    }

    /// The committed watermarks of a pipeline, by stage.
    public func marks(pipeline: String) throws -> [String: WatermarkLedger.Mark] {
        let rows = try database.rows("SELECT stage, column_name, value FROM watermarks WHERE pipeline = ?", [pipeline])
        var result: [String: WatermarkLedger.Mark] = [:]
        for row in rows where row.count == 3 { result[row[0]] = WatermarkLedger.Mark(column: row[1], value: row[2]) }
        return result
    }

    /// Replaces the watermarks of the given stages, all or none.
    func save(_ marks: [String: WatermarkLedger.Mark], pipeline: String, runID: String) throws {
        let now = iso8601(Date())
        try database.transaction {
            for (stage, mark) in marks.sorted(by: { $0.key < $1.key }) {
                try database.run("""
                    INSERT INTO watermarks (pipeline, stage, column_name, value, run_id, committed) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (pipeline, stage) DO UPDATE SET column_name = excluded.column_name, value = excluded.value,
                    run_id = excluded.run_id, committed = excluded.committed
                    """, [pipeline, stage, mark.column, mark.value, runID, now])
            }
        }
    }
}

/// A connection to the state database for the tables beside the run history (watermarks, input
/// fingerprints): WAL mode and a busy timeout, as `RunHistory` opens it, and text-only statements.
final class StateDatabase {
    private let database: SQLiteDatabase
    let path: String

    init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        database = try Self.wrap(path) { try SQLiteDatabase(path: path, readOnly: false, busyTimeoutMilliseconds: 10_000) }
        try execute("PRAGMA journal_mode = WAL")
    }

    private static func wrap<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SQLiteError {
            throw StageError("state database \(path): \(error.message)", kind: error.isTemporary ? .temporary : .failed)
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T { try Self.wrap(path, body) }

    func execute(_ sql: String) throws { try wrap { try database.execute(sql) } }

    /// Runs a statement with text parameters (nil binds NULL).
    func run(_ sql: String, _ values: [String?]) throws {
        _ = try rows(sql, values)
    }

    /// The rows of a query, every column as text.
    func rows(_ sql: String, _ values: [String?]) throws -> [[String]] {
        try wrap {
            let statement = try database.prepare(sql)
            for (index, value) in values.enumerated() {
                if let value { try statement.bind(value, at: Int32(index + 1)) } else { try statement.bindNull(at: Int32(index + 1)) }
            }
            var rows: [[String]] = []
            while try statement.step() { rows.append((0..<statement.columnCount).map { statement.text($0) }) }
            return rows
        }
    }

    /// Runs `body` in one transaction, rolled back when it throws.
    func transaction(_ body: () throws -> Void) throws {
        try execute("BEGIN IMMEDIATE")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
