import Foundation
import StockflowCore

/// A connection to the state database shared by the server's threads: one statement at a time,
/// behind a lock (the driver opens connections without SQLite's own mutex). Statements are compiled
/// once and kept; each is reset after use so that no read transaction stays open.
final class StateDatabase: @unchecked Sendable {
    private let database: SQLiteDatabase
    /// Recursive: a transaction or a cache check holds it around several queries.
    private let lock = NSRecursiveLock()
    private var statements: [String: SQLiteStatement] = [:]
    /// The database file.
    let path: String

    /// Opens (and creates) the database at `path` in WAL mode, as RunHistory does.
    init(path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        self.path = path
        database = try SQLiteDatabase(path: path, readOnly: false, busyTimeoutMilliseconds: 10_000)
        try database.execute("PRAGMA journal_mode = WAL")
    }

    /// Runs statements that return no rows (schema creation).
    func execute(_ sql: String) throws {
        try locked { try database.execute(sql) }
    }

    /// Runs `body` holding the connection: nothing else runs a statement on it meanwhile.
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs `body` in one write transaction taken at once (`BEGIN IMMEDIATE`: the busy timeout waits
    /// for another writer there, never halfway through), committed when it returns, rolled back when
    /// it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try locked {
            try database.execute("BEGIN IMMEDIATE")
            do {
                let result = try body()
                try database.execute("COMMIT")
                return result
            } catch {
                try? database.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// The connection's `PRAGMA data_version`: it changes when another connection (another process
    /// such as `stockflow users passwd` or a run, or another connection of this one) commits.
    func dataVersion() throws -> Int64 {
        try query("PRAGMA data_version") { $0.int64(0) }.first ?? 0
    }

    /// Runs one statement with its parameters and reads every row it returns.
    func query<T>(_ sql: String, _ values: [SQLValue] = [], _ read: (SQLiteStatement) -> T) throws -> [T] {
        try locked {
            let prepared: SQLiteStatement
            if let known = statements[sql] {
                prepared = known
            } else {
                prepared = try database.prepare(sql)
                if statements.count >= 64 { statements.removeAll() }
                statements[sql] = prepared
            }
            defer { prepared.reset() }
            for (index, value) in values.enumerated() {
                let position = Int32(index + 1)
                switch value {
                case .text(let text): try prepared.bind(text, at: position)
                case .integer(let number): try prepared.bind(number, at: position)
                case .null: try prepared.bindNull(at: position)
                }
            }
            var rows: [T] = []
            while try prepared.step() { rows.append(read(prepared)) }
            return rows
        }
    }

    /// Runs one statement that returns no rows.
    func run(_ sql: String, _ values: [SQLValue] = []) throws {
        _ = try query(sql, values) { _ in () }
    }
}

/// Answers computed from the state database, kept while nothing changed it: each look-up first asks
/// the connection's `PRAGMA data_version` (a few microseconds, no disk read), which changes when any
/// other connection, in this process or another (`stockflow run`, `users passwd`), commits. Writes
/// through the same connection do not change it: their callers `forget()`. The connection's lock is
/// held from the check to the answer, so no write of this connection lands in between.
final class DatabaseMemo: @unchecked Sendable {
    private let database: StateDatabase
    private var version: Int64 = -1
    private var values: [String: Any] = [:]
    /// Past this many answers the memory starts over (a few MB at most).
    private let capacity = 4096

    init(database: StateDatabase) {
        self.database = database
    }

    /// The answer remembered under `key`, or `compute`'s, remembered.
    func value<T>(_ key: String, _ compute: () throws -> T) throws -> T {
        try database.locked {
            let current = try database.dataVersion()
            if current != version {
                values.removeAll(keepingCapacity: true)
                version = current
            }
            if let known = values[key], let typed = known as? T { return typed }
            let made = try compute()
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[key] = made
            return made
        }
    }

    /// Forgets every answer (after a write through the same connection).
    func forget() {
        database.locked {
            values.removeAll(keepingCapacity: true)
            version = -1
        }
    }
}

/// A statement parameter.
enum SQLValue {
    case text(String)
    case integer(Int64)
    case null

    init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
}
