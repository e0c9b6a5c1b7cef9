import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StockflowCore

/// What the server knows of one pipeline file.
struct PipelineEntry: Sendable {
    var name: String
    var description: String?
    var file: String
    var schedule: CronSchedule?
    var locale: String
}

/// The pipelines of the `--pipelines` folder, read again when a file changes: the folder is listed
/// again when its modification time changes, each file parsed again when its own does (a stat each).
final class PipelineCatalog: @unchecked Sendable {
    private let directory: String
    private let lock = NSLock()
    private var cache: [String: (modified: timespec, entry: PipelineEntry?)] = [:]
    private var listing: (modified: timespec, names: [String])?

    init(directory: String) { self.directory = directory }

    /// Every valid pipeline, by name (files that do not validate are left out).
    func all() -> [PipelineEntry] {
        var entries: [PipelineEntry] = []
        for name in fileNames() {
            let path = (directory as NSString).appendingPathComponent(name)
            let modified = PipelineCatalog.modification(path)
            lock.lock()
            let cached = cache[path]
            lock.unlock()
            if let cached, cached.modified == modified, PipelineCatalog.settled(modified) {
                if let entry = cached.entry, !entries.contains(where: { $0.name == entry.name }) { entries.append(entry) }
                continue
            }
            let entry = (try? Pipeline.load(path: path)).map {
                PipelineEntry(name: $0.name, description: $0.description, file: path,
                              schedule: $0.schedule.map(CronSchedule.init), locale: $0.settings.locale)
            }
            lock.lock()
            cache[path] = (modified, entry)
            lock.unlock()
            if let entry, !entries.contains(where: { $0.name == entry.name }) { entries.append(entry) }
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// The pipeline called `name`, if any.
    func entry(named name: String) -> PipelineEntry? { all().first { $0.name == name } }

    /// The YAML files of the folder, sorted; listed again only when the folder changed.
    private func fileNames() -> [String] {
        let modified = PipelineCatalog.modification(directory)
        if let listing = lock.withLock({ listing }), listing.modified == modified, PipelineCatalog.settled(modified) { return listing.names }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted()
        lock.withLock { listing = (modified, names) }
        return names
    }

    /// True when a modification time is old enough to be trusted: the file system's clock is coarse
    /// (a few milliseconds), so a change in the same tick as the last look would keep the same time.
    private static func settled(_ modified: timespec) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec - modified.tv_sec >= 2
    }

    /// A file's modification time (zero when it cannot be read).
    private static func modification(_ path: String) -> timespec {
        var info = stat()
        guard stat(path, &info) == 0 else { return timespec() }
        return info.st_mtim
    }
}

extension timespec: @retroactive Equatable {
    public static func == (lhs: timespec, rhs: timespec) -> Bool { lhs.tv_sec == rhs.tv_sec && lhs.tv_nsec == rhs.tv_nsec }
}

/// One row of the runs table, as the server reads it.
struct RunRow: Sendable {
    var rowID: Int64
    var record: RunRecord

    /// The run as the API shows it (no process id or server path).
    func json(includeReport: Bool) -> [String: Any] {
        var object: [String: Any] = [
            "id": record.runID, "pipeline": record.pipeline, "as_of": record.asOf, "started": record.started,
            "finished": record.finished.isEmpty ? NSNull() : record.finished, "status": record.status,
            "exit_code": record.exitCode.map { Int($0) as Any } ?? NSNull(), "error": record.error ?? NSNull(),
            "trigger": record.trigger, "scheduled_for": record.scheduledFor ?? NSNull(),
        ]
        let report = self.report
        object["rejects"] = report?["rejects"] ?? NSNull()
        object["findings"] = report?["findings"] ?? NSNull()
        if includeReport {
            object["stages"] = report?["stages"] ?? []
            object["outputs"] = outputs
        }
        return object
    }

    /// The run's run.json, once finished.
    var report: [String: Any]? {
        guard let text = record.report else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// The output files the run committed, relative to its output folder.
    var outputs: [String] {
        let root = record.outputDirectory.hasSuffix("/") ? record.outputDirectory : record.outputDirectory + "/"
        return ((report?["outputs"] as? [String]) ?? []).map { $0.hasPrefix(root) ? String($0.dropFirst(root.count)) : $0 }
    }
}

/// Reads the run history for the API: filters and cursor pages over the `runs` table that
/// `stockflow run` writes.
final class RunQueries: @unchecked Sendable {
    private let database: StateDatabase
    private static let columns = "rowid, run_id, pipeline, as_of, started, finished, status, exit_code, error, trigger, scheduled_for, pid, output_dir, report"

    /// Answers kept until a run (or anything else) writes to the state database.
    private let memo: DatabaseMemo

    init(path: String) throws {
        // RunHistory creates the table; opening it here makes a fresh state database usable at once.
        _ = try RunHistory(path: path)
        database = try StateDatabase(path: path)
        memo = DatabaseMemo(database: database)
    }

    /// `compute`'s answer, kept under `key` while the state database is unchanged: a run starting,
    /// ending or being recorded changes it. This connection only reads, so nothing here must forget.
    func remembered<T>(_ key: String, _ compute: () throws -> T) throws -> T {
        try memo.value(key, compute)
    }

    /// Runs newest first, after the `cursor` row id when given.
    func list(pipeline: String?, status: String?, since: String?, limit: Int, before cursor: Int64?) throws -> [RunRow] {
        var sql = "SELECT \(RunQueries.columns) FROM runs WHERE 1"
        var values: [SQLValue] = []
        if let pipeline { sql += " AND pipeline = ?"; values.append(.text(pipeline)) }
        if let status { sql += " AND status = ?"; values.append(.text(status)) }
        if let since { sql += " AND started >= ?"; values.append(.text(since)) }
        if let cursor { sql += " AND rowid < ?"; values.append(.integer(cursor)) }
        sql += " ORDER BY rowid DESC LIMIT ?"
        values.append(.integer(Int64(limit)))
        return try database.query(sql, values, RunQueries.read)
    }

    /// The run with this id.
    func run(id: String) throws -> RunRow? {
        try database.query("SELECT \(RunQueries.columns) FROM runs WHERE run_id = ?", [.text(id)], RunQueries.read).first
    }

    /// The newest run started by process `pid` at or after `since`.
    func run(pid: Int32, since: String) throws -> RunRow? {
        try database.query("SELECT \(RunQueries.columns) FROM runs WHERE pid = ? AND started >= ? ORDER BY rowid DESC LIMIT 1",
                           [.integer(Int64(pid)), .text(since)], RunQueries.read).first
    }

    /// The newest run of `pipeline`, with `status` when given.
    func latest(pipeline: String, status: String? = nil) throws -> RunRow? {
        try list(pipeline: pipeline, status: status, since: nil, limit: 1, before: nil).first
    }

    /// The newest finished run that wrote into `folder` and, when `output` is given, committed it.
    func newestWriter(folder: String, output: String?) throws -> RunRow? {
        let rows = try database.query("SELECT \(RunQueries.columns) FROM runs WHERE output_dir = ? AND report IS NOT NULL ORDER BY rowid DESC LIMIT 50",
                                      [.text(folder)], RunQueries.read)
        guard let output else { return rows.first }
        return rows.first { $0.outputs.contains(output) }
    }

    /// The run.json of each pipeline's newest finished run, and the end time of each pipeline's
    /// newest successful run: what the metrics textfile would hold after those runs.
    func latestReports() throws -> (reports: [RunReport], lastSuccess: [String: String]) {
        let decoder = JSONDecoder()
        let reports = try database.query("""
            SELECT report FROM runs WHERE rowid IN
            (SELECT max(rowid) FROM runs WHERE report IS NOT NULL GROUP BY pipeline) ORDER BY pipeline
            """) { row in try? decoder.decode(RunReport.self, from: Data(row.text(0).utf8)) }
        let successes = try database.query("""
            SELECT pipeline, finished FROM runs WHERE rowid IN
            (SELECT max(rowid) FROM runs WHERE report IS NOT NULL AND exit_code = 0 GROUP BY pipeline)
            """) { row in (row.text(0), row.text(1)) }
        return (reports.compactMap { $0 }, Dictionary(successes, uniquingKeysWith: { first, _ in first }))
    }

    private static func read(_ row: SQLiteStatement) -> RunRow {
        var record = RunRecord(runID: row.text(1), pipeline: row.text(2), asOf: row.text(3), started: row.text(4),
                               trigger: row.text(9), scheduledFor: row.storage(10) == .null ? nil : row.text(10),
                               pid: Int32(truncatingIfNeeded: row.int64(11)), outputDirectory: row.text(12))
        record.finished = row.text(5)
        record.status = row.text(6)
        record.exitCode = row.storage(7) == .null ? nil : Int32(truncatingIfNeeded: row.int64(7))
        record.error = row.storage(8) == .null ? nil : row.text(8)
        record.report = row.storage(13) == .null ? nil : row.text(13)
        return RunRow(rowID: row.int64(0), record: record)
    }
}
