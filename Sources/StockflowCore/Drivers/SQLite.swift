import CSQLite

/// An error from libsqlite3, with its result code, its own message and the SQL involved.
public struct SQLiteError: Error, CustomStringConvertible {
    /// The primary result code (SQLITE_BUSY, SQLITE_NOTADB, ...).
    public var code: Int32
    /// sqlite3_errmsg's text.
    public var message: String
    /// The statement, when there was one.
    public var sql: String?

    /// True when retrying later may succeed (the database is locked or busy).
    public var isTemporary: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    /// True when the file is not an SQLite database.
    public var isNotADatabase: Bool { code == SQLITE_NOTADB }

    public var description: String {
        sql.map { "\(message) (in: \($0))" } ?? message
    }
}

/// An open SQLite connection; owns the `sqlite3*` handle and closes it on deinit.
public final class SQLiteDatabase {
    fileprivate let handle: OpaquePointer
    /// The file opened (":memory:" for in-memory databases).
    public let path: String

    /// Opens a database; `readOnly` opens it without any write access.
    public init(path: String, readOnly: Bool, busyTimeoutMilliseconds: Int32 = 5000) throws {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: result & 0xff, message: message, sql: nil)
        }
        self.handle = handle
        self.path = path
        sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(handle, 0)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Compiles a statement.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard result == SQLITE_OK, let statement else {
            throw error(result, sql: sql)
        }
        return SQLiteStatement(database: self, handle: statement, sql: sql)
    }

    /// Runs statements that return no rows.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        if result != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: result & 0xff, message: text, sql: sql)
        }
    }

    fileprivate func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code & 0xff, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

/// The storage class of a value in a row (SQLite's dynamic typing).
public enum SQLiteStorage {
    case integer, real, text, blob, null
}

/// A compiled statement; owns the `sqlite3_stmt*` and finalizes it on deinit.
public final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let handle: OpaquePointer
    /// The SQL text.
    public let sql: String

    fileprivate init(database: SQLiteDatabase, handle: OpaquePointer, sql: String) {
        self.database = database
        self.handle = handle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Number of result columns.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// The name of result column `index`.
    public func columnName(_ index: Int) -> String {
        sqlite3_column_name(handle, Int32(index)).map { String(cString: $0) } ?? "column\(index + 1)"
    }

    /// The declared type of result column `index` (empty for expressions).
    public func declaredType(_ index: Int) -> String {
        sqlite3_column_decltype(handle, Int32(index)).map { String(cString: $0) } ?? ""
    }

    /// Advances to the next row; false when done.
    public func step() throws -> Bool {
        let result = sqlite3_step(handle)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(result, sql: sql)
        }
    }

    /// Restarts the statement and clears its bindings.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// The current row's cells, read without retaining the statement (hot paths: one read per cell).
    public var cells: SQLiteCells { SQLiteCells(handle: handle) }

    /// The storage class of column `index` in the current row.
    public func storage(_ index: Int) -> SQLiteStorage { cells.storage(index) }
    /// Column `index` as an integer.
    public func int64(_ index: Int) -> Int64 { cells.int64(index) }
    /// Column `index` as a double.
    public func double(_ index: Int) -> Double { cells.double(index) }
    /// Column `index` as text.
    public func text(_ index: Int) -> String { cells.text(index) }
    /// Calls `body` with column `index`'s text as UTF-8 bytes, without making a String (hot paths:
    /// parsing datetimes and decimals, copying cells); the bytes are valid only inside `body`.
    public func withTextBytes<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try cells.withTextBytes(index, body)
    }

    /// Column `index` as raw bytes.
    public func bytes(_ index: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        guard count > 0, let pointer = sqlite3_column_blob(handle, Int32(index)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Binds an integer to parameter `index` (1-based).
    public func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    /// Binds text to parameter `index` (1-based).
    public func bind(_ value: String, at index: Int32) throws {
        // SQLITE_TRANSIENT: sqlite copies the text before this call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        try check(sqlite3_bind_text(handle, index, value, -1, transient))
    }

    /// Binds a double to parameter `index` (1-based).
    public func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// Binds NULL to parameter `index` (1-based).
    public func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(handle, index))
    }

    private func check(_ result: Int32) throws {
        if result != SQLITE_OK { throw database.error(result, sql: sql) }
    }
}

/// The cells of a statement's current row: a plain handle, so passing it per cell costs no reference
/// counting. Valid while its statement lives and until the statement steps again.
public struct SQLiteCells {
    fileprivate let handle: OpaquePointer

    /// The storage class of column `index` in the current row.
    public func storage(_ index: Int) -> SQLiteStorage {
        switch sqlite3_column_type(handle, Int32(index)) {
        case SQLITE_INTEGER: return .integer
        case SQLITE_FLOAT: return .real
        case SQLITE_TEXT: return .text
        case SQLITE_BLOB: return .blob
        default: return .null
        }
    }

    /// Column `index` as an integer.
    public func int64(_ index: Int) -> Int64 { sqlite3_column_int64(handle, Int32(index)) }
    /// Column `index` as a double.
    public func double(_ index: Int) -> Double { sqlite3_column_double(handle, Int32(index)) }
    /// Column `index` as text.
    public func text(_ index: Int) -> String {
        guard let pointer = sqlite3_column_text(handle, Int32(index)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
    /// Calls `body` with column `index`'s text as UTF-8 bytes; the bytes are valid only inside `body`.
    public func withTextBytes<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let pointer = sqlite3_column_text(handle, Int32(index))
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return try body(UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count))
    }
}
