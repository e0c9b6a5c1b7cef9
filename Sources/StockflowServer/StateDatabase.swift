import Foundation
import StockflowCore

/// A connection to the state database shared by the server's threads: one statement at a time,
/// behind a lock (the driver opens connections without SQLite's own mutex).
final class StateDatabase: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let lock = NSLock()
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
        lock.lock()
        defer { lock.unlock() }
        try database.execute(sql)
    }

    /// Runs one statement with its parameters and reads every row it returns.
    func query<T>(_ sql: String, _ values: [SQLValue] = [], _ read: (SQLiteStatement) -> T) throws -> [T] {
        lock.lock()
        defer { lock.unlock() }
        let prepared = try database.prepare(sql)
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

    /// Runs one statement that returns no rows.
    func run(_ sql: String, _ values: [SQLValue] = []) throws {
        _ = try query(sql, values) { _ in () }
    }
}

/// A statement parameter.
enum SQLValue {
    case text(String)
    case integer(Int64)
    case null

    init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
}
