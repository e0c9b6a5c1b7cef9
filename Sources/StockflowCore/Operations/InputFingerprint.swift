import Foundation
import Logging

/// What a run reads, summed up in one text (`skip_unchanged:`): the pipeline file's bytes and, per
/// extract, the content of its file (CSV; an SQLite database with its WAL), or for PostgreSQL the
/// table's change counters in `pg_stat_user_tables` or the result of the stage's `change_query`.
/// Two runs with the same fingerprint read the same rows, so the second has nothing to add.
public enum InputFingerprint {
    /// Reads `skip_unchanged:`; when true, every extract must be one whose input can be fingerprinted.
    static func readSetting(_ node: ConfigNode?, stages: [PlannedStage], diagnostics: DiagnosticCollector) -> Bool {
        guard let node else { return false }
        guard let value = node.scalar.flatMap(parseBool) else {
            diagnostics.error("'skip_unchanged' must be true or false, found \(node.shapeName)", at: node.position)
            return false
        }
        guard value else { return false }
        for stage in stages where stage.spec.role == .extract {
            if let postgres = stage.runner as? PostgresExtract, postgres.fingerprintSource.table == nil,
               postgres.fingerprintSource.changeQuery == nil {
                diagnostics.error("skip_unchanged cannot tell whether the query of stage '\(stage.id)' returns other rows: give the stage a 'change_query' (e.g. SELECT max(updated_at), count(*) FROM the tables it reads)", at: node.position)
            } else if !(stage.runner is PostgresExtract || stage.runner is SQLiteExtract || stage.runner is CSVExtract) {
                diagnostics.error("skip_unchanged does not know how to fingerprint the input of stage '\(stage.id)' (extract: \(stage.spec.kind))", at: node.position)
            }
        }
        return true
    }

    /// The fingerprint of the pipeline's inputs now, as hexadecimal text.
    public static func compute(_ pipeline: Pipeline) throws -> String {
        var hash = ContentHash()
        try hash.addFile(pipeline.file.path)
        // `run --only` runs a part of the stages and writes a part of the outputs.
        hash.add("\u{0}stages " + pipeline.stages.map(\.id).joined(separator: ","))
        for stage in pipeline.stages where stage.spec.role == .extract {
            hash.add("\u{0}stage \(stage.id) \(stage.spec.kind)\u{0}")
            switch stage.runner {
            case let csv as CSVExtract:
                hash.add(csv.path.path)
                try hash.addFile(csv.path.path)
            case let sqlite as SQLiteExtract:
                hash.add(sqlite.databasePath + "\u{0}" + sqlite.sql)
                try hash.addFile(sqlite.databasePath)
                // Commits not yet checkpointed live in the write-ahead log.
                let wal = sqlite.databasePath + "-wal"
                if FileManager.default.fileExists(atPath: wal) { try hash.addFile(wal) }
            case let postgres as PostgresExtract:
                hash.add(postgres.sql)
                hash.add(try postgresState(postgres))
            default:
                throw StageError("skip_unchanged: cannot fingerprint the input of stage '\(stage.id)'")
            }
        }
        return hash.hex
    }

    /// The change counters of the table read, or the `change_query`'s result, as text.
    private static func postgresState(_ extract: PostgresExtract) throws -> String {
        do {
            let connection = try PostgresConnection(extract.options)
            let rows: [[String?]]
            if let changeQuery = extract.fingerprintSource.changeQuery {
                rows = try connection.query(changeQuery)
            } else if let table = extract.fingerprintSource.table {
                let name = table.split(separator: ".", maxSplits: 1).map { quoteIdentifier(String($0)) }.joined(separator: ".")
                // Counters since the statistics were last reset; a reset changes them too, which only costs a run.
                rows = try connection.query("""
                    SELECT relid, n_tup_ins, n_tup_upd, n_tup_del, coalesce(stats_reset::text, '')
                    FROM pg_stat_user_tables JOIN pg_stat_database ON datname = current_database()
                    WHERE relid = $1::regclass
                    """, [name])
                guard !rows.isEmpty else { throw StageError("skip_unchanged: no statistics for table \(table) in pg_stat_user_tables") }
            } else {
                throw StageError("skip_unchanged: the query of \(extract.displayName) needs a change_query")
            }
            return connection.target + "\u{0}" + rows.map { $0.map { $0 ?? "\\N" }.joined(separator: "\u{1}") }.joined(separator: "\u{2}")
        } catch let error as PostgresError {
            throw StageError("skip_unchanged: \(extract.displayName): \(error)", kind: error.isTemporary ? .temporary : .failed)
        }
    }
}

/// A streamed 64-bit hash of bytes (PostgreSQL's `hash_bytes_extended`, chained chunk by chunk): good
/// for telling whether an input changed, not a defence against someone forging one.
struct ContentHash {
    private var state: UInt64 = 0x5354_4f43_4b46_4c4f

    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        state = PostgresHash.bytesExtended(bytes, seed: state == 0 ? 1 : state)
    }

    mutating func add(_ text: String) {
        var copy = text
        copy.withUTF8 { add($0) }
    }

    /// Adds a file's content, read in 1 MiB chunks.
    mutating func addFile(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StageError("skip_unchanged: cannot read \(path)")
        }
        defer { try? handle.close() }
        var length: Int64 = 0
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            length += Int64(chunk.count)
            chunk.withUnsafeBytes { raw in add(raw.bindMemory(to: UInt8.self)) }
        }
        add("\u{0}\(length)")
    }

    var hex: String {
        let text = String(state, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// The `input_fingerprints` table of the state database: the fingerprint each successful run started from.
public final class FingerprintStore {
    private let database: StateDatabase

    /// Opens (and creates) the table in the state database at `path`.
    public init(path: String) throws {
        database = try StateDatabase(path: path)
        try database.execute("CREATE TABLE IF NOT EXISTS input_fingerprints (run_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)")
    }

    /// Remembers the fingerprint a run started from.
    public func record(runID: String, fingerprint: String) throws {
        try database.run("INSERT OR REPLACE INTO input_fingerprints (run_id, fingerprint) VALUES (?, ?)", [runID, fingerprint])
    }

    /// The last successful run of `pipeline` for `asOf` into `outputDirectory`, if it started from
    /// `fingerprint` and its outputs are all still in place; nil when the run must go.
    public func upToDate(pipeline: String, asOf: String, outputDirectory: String, fingerprint: String) throws -> String? {
        // RunHistory creates `runs`; a state database without it has no success to compare with.
        guard try !database.rows("SELECT 1 FROM sqlite_master WHERE name = 'runs'", []).isEmpty else { return nil }
        let rows = try database.rows("""
            SELECT r.run_id, coalesce(f.fingerprint, ''), coalesce(r.report, '') FROM runs r
            LEFT JOIN input_fingerprints f ON f.run_id = r.run_id
            WHERE r.pipeline = ? AND r.as_of = ? AND r.output_dir = ? AND r.status = 'succeeded'
            ORDER BY r.started DESC, r.rowid DESC LIMIT 1
            """, [pipeline, asOf, outputDirectory])
        guard let last = rows.first, last.count == 3, last[1] == fingerprint else { return nil }
        // Outputs removed or moved since: the run must write them again.
        guard let report = try? JSONDecoder().decode(RunReport.self, from: Data(last[2].utf8)),
              report.outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else { return nil }
        return last[0]
    }
}

/// The `skip_unchanged` step of a run session: before the run, whether the last success for the same
/// date and folder read the same inputs; after a success, the fingerprint it started from.
struct UnchangedInputs {
    let session: RunSession
    let logger: Logger
    /// The inputs' fingerprint at the start, when `skip_unchanged` is on and it could be taken.
    private let fingerprint: String?

    init(session: RunSession, logger: Logger) {
        self.session = session
        self.logger = logger
        guard session.pipeline.skipUnchanged else { fingerprint = nil; return }
        do {
            fingerprint = try InputFingerprint.compute(session.pipeline)
        } catch {
            logger.warning("skip_unchanged: inputs not fingerprinted, so the run goes: \(error)")
            fingerprint = nil
        }
    }

    /// The report of a skipped run and its message, or nil when the run must go.
    func skippedReport(_ record: RunRecord) -> (report: RunReport, message: String)? {
        guard let fingerprint, !session.options.force else { return nil }
        let sameAs: String?
        do {
            sameAs = try FingerprintStore(path: session.options.statePath)
                .upToDate(pipeline: session.pipeline.name, asOf: session.asOf.description,
                          outputDirectory: record.outputDirectory, fingerprint: fingerprint)
        } catch {
            logger.warning("skip_unchanged: state database not readable, so the run goes: \(error)")
            return nil
        }
        guard let sameAs else { return nil }
        let message = "up to date (same inputs as run \(sameAs))"
        logger.notice("\(message)", metadata: ["fingerprint": "\(fingerprint)"])
        let now = iso8601(Date())
        let report = RunReport(pipeline: session.pipeline.name, asOf: session.asOf.description, started: record.started,
                               finished: now, status: "skipped", exitCode: 0, error: nil, stages: [], outputs: [],
                               rejects: 0, findings: 0, rejectsFile: "rejects.csv", findingsFile: "findings.csv")
        return (report, message)
    }

    /// Remembers what a successful run read.
    func recordSuccess(_ report: RunReport) {
        guard let fingerprint, report.status == "succeeded" else { return }
        do { try FingerprintStore(path: session.options.statePath).record(runID: session.runID, fingerprint: fingerprint) } catch {
            logger.warning("skip_unchanged: fingerprint not recorded, so the next run goes: \(error)")
        }
    }
}
