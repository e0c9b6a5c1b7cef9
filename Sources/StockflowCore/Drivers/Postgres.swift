import CLibPQ
import Foundation

/// An error from libpq or the server, with libpq's own message (password scrubbed), the SQLSTATE and the SQL.
public struct PostgresError: Error, CustomStringConvertible {
    /// libpq's or the server's message, with any password replaced by `***`.
    public var message: String
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    /// The statement, when there was one.
    public var sql: String?
    /// True when the server could not be reached (worth retrying later: exit 75).
    public var isTemporary: Bool

    public var description: String {
        var text = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        if let sql { text += " (in: \(sql.count > 300 ? String(sql.prefix(300)) + "…" : sql))" }
        return text
    }
}

/// How a connection is opened: the libpq connection string and how hard to try.
public struct PostgresConnectionOptions: Sendable {
    /// A `postgres://` URL or `key=value` string; empty means libpq's defaults (PG* variables, ~/.pgpass).
    public var conninfo: String
    /// How an unreachable server is retried (the one backoff of stockflow: the pipeline's `retries:`).
    public var retry: RetryPolicy
    /// Seconds libpq waits for one connection attempt, unless the string says otherwise.
    public var connectTimeout: Int

    /// Further attempts after the first when the server cannot be reached.
    public var retries: Int {
        get { retry.maxRetries }
        set { retry.maxRetries = newValue }
    }
    /// Seconds before the first retry; doubled for each next one.
    public var retryDelay: Double {
        get { retry.initialDelay }
        set { retry.initialDelay = newValue }
    }

    /// Makes options.
    public init(_ conninfo: String, retries: Int = 3, retryDelay: Double = 1, connectTimeout: Int = 10) {
        self.conninfo = conninfo
        retry = RetryPolicy()
        retry.maxRetries = retries
        retry.initialDelay = retryDelay
        self.connectTimeout = connectTimeout
    }

    /// The connection string with its password replaced by `***`, safe for logs.
    public var redacted: String { redactPassword(conninfo) }
}

/// Replaces the password of a `postgres://user:password@host` URL or a `password=...` pair with `***`.
public func redactPassword(_ conninfo: String) -> String {
    var text = conninfo
    if let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") {
        let userInfo = text[scheme.upperBound..<at]
        if let colon = userInfo.firstIndex(of: ":") {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
    }
    if mayMentionPassword(text), let range = text.range(of: #"password\s*=\s*('([^'\\]|\\.)*'|[^\s&]*)"#, options: [.regularExpression, .caseInsensitive]) {
        text.replaceSubrange(range, with: "password=***")
    }
    return text
}

/// Whether `text` can match the case-insensitive `password` of `redactPassword`'s regular expression
/// (which loads ICU): its lowercase with the letters whose case folding gives ASCII ones folded.
func mayMentionPassword(_ text: String) -> Bool {
    text.lowercased().replacingOccurrences(of: "ſ", with: "s").replacingOccurrences(of: "ß", with: "ss").contains("password")
}

/// An open PostgreSQL connection; owns the `PGconn*` and closes it on deinit. One thread at a time.
public final class PostgresConnection {
    private let handle: OpaquePointer
    private let secrets: [String]
    private var activeCopy: PostgresCopyWriter?
    /// Where the connection went, password removed (`host:port/dbname user`).
    public let target: String

    /// Connects, retrying with the options' `RetryPolicy` while the server is unreachable.
    public init(_ options: PostgresConnectionOptions) throws {
        var secrets = [String]()
        let connection = try options.retry.perform(isTemporary: { ($0 as? PostgresError)?.isTemporary == true }) { attempt -> OpaquePointer in
            let keys = ["connect_timeout", "fallback_application_name", "dbname"]
            let values = [String(options.connectTimeout), "stockflow", options.conninfo]
            let connection: OpaquePointer? = withCStrings(keys) { keyPointers in
                withCStrings(values) { valuePointers in
                    PQconnectdbParams(keyPointers, valuePointers, 1)
                }
            }
            guard let connection else {
                throw PostgresError(message: "libpq could not allocate a connection", isTemporary: false)
            }
            if secrets.isEmpty, let password = PQpass(connection).map({ String(cString: $0) }), !password.isEmpty {
                secrets.append(password)
            }
            if PQstatus(connection) == CONNECTION_OK { return connection }
            var message = PQerrorMessage(connection).map { String(cString: $0) } ?? "connection failed"
            PQfinish(connection)
            for secret in secrets { message = message.replacingOccurrences(of: secret, with: "***") }
            message = redactPassword(message)
            let permanent = ["authentication failed", "does not exist", "invalid", "no password supplied", "missing \"=\"", "unrecognized", "not permitted", "SSL is not enabled", "certificate"]
                .contains { message.contains($0) }
            let tries = attempt + 1
            throw PostgresError(message: "cannot connect to PostgreSQL (\(options.redacted.isEmpty ? "libpq defaults" : options.redacted)) after \(tries) attempt\(tries == 1 ? "" : "s"): \(message.trimmingCharacters(in: .whitespacesAndNewlines))",
                                isTemporary: !permanent)
        }
        handle = connection
        self.secrets = secrets
        target = "\(String(cString: PQhost(connection))):\(String(cString: PQport(connection)))/\(String(cString: PQdb(connection))) as \(String(cString: PQuser(connection)))"
    }

    deinit {
        PQfinish(handle)
    }

    private func scrub(_ text: String) -> String {
        var text = text
        for secret in secrets { text = text.replacingOccurrences(of: secret, with: "***") }
        return text
    }

    private func connectionError(sql: String?) -> PostgresError {
        let message = scrub(PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown libpq error")
        return PostgresError(message: message, sqlState: nil, sql: sql.map(scrub), isTemporary: PQstatus(handle) != CONNECTION_OK)
    }

    /// Turns a result into an error unless its status is one of `expected`; clears the result on error.
    private func check(_ result: OpaquePointer?, sql: String?, expected: [ExecStatusType]) throws {
        guard let result else { throw connectionError(sql: sql) }
        let status = PQresultStatus(result)
        if expected.contains(status) { return }
        let message = scrub(PQresultErrorMessage(result).map { String(cString: $0) } ?? "")
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        PQclear(result)
        throw PostgresError(message: message.isEmpty ? String(cString: PQresStatus(status)) : message, sqlState: state,
                            sql: sql.map(scrub), isTemporary: PQstatus(handle) != CONNECTION_OK || state?.hasPrefix("08") == true)
    }

    /// Runs one or more statements that return no rows we need.
    public func execute(_ sql: String) throws {
        let result = PQexec(handle, sql)
        try check(result, sql: sql, expected: [PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY])
        PQclear(result)
    }

    /// Runs a query with text parameters and returns every row as text (nil for NULL); for small results.
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        let result = withOptionalCStrings(parameters) { pointers in
            PQexecParams(handle, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
        }
        try check(result, sql: sql, expected: [PGRES_TUPLES_OK, PGRES_COMMAND_OK])
        defer { PQclear(result) }
        var rows: [[String?]] = []
        let columns = PQnfields(result)
        for row in 0..<PQntuples(result) {
            rows.append((0..<columns).map { column in
                PQgetisnull(result, row, column) != 0 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        return rows
    }

    /// The first column of the first row of a query, or nil.
    public func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    /// Streams a query's rows one at a time in libpq's single-row mode; `body` returns false to stop early.
    public func forEachRow(_ sql: String, _ body: (PostgresRow) throws -> Bool) throws {
        guard PQsendQuery(handle, sql) == 1 else { throw connectionError(sql: sql) }
        PQsetSingleRowMode(handle)
        var failure: Error?
        var wanted = true
        while let result = PQgetResult(handle) {
            if failure != nil || !wanted { PQclear(result); continue }
            do {
                try check(result, sql: sql, expected: [PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK])
                if PQresultStatus(result) == PGRES_SINGLE_TUPLE {
                    wanted = try body(PostgresRow(result: result))
                }
                PQclear(result)
            } catch {
                failure = error
                if !wanted { PQrequestCancel(handle) }
            }
            if !wanted { _ = PQrequestCancel(handle) }
        }
        if let failure { throw failure }
    }

    /// The columns (name, type OID, type modifier) a query would return, without running it.
    public func describe(_ sql: String) throws -> [(name: String, type: UInt32, modifier: Int32)] {
        let prepared = PQprepare(handle, "", sql, 0, nil)
        try check(prepared, sql: sql, expected: [PGRES_COMMAND_OK])
        PQclear(prepared)
        let result = PQdescribePrepared(handle, "")
        try check(result, sql: sql, expected: [PGRES_COMMAND_OK])
        defer { PQclear(result) }
        return (0..<PQnfields(result)).map {
            (String(cString: PQfname(result, $0)), PQftype(result, $0), PQfmod(result, $0))
        }
    }

    /// Runs `COPY ... FROM STDIN` and lets `produce` write text-format data through a buffered writer.
    public func copyIn(_ sql: String, _ produce: (PostgresCopyWriter) throws -> Void) throws {
        let result = PQexec(handle, sql)
        try check(result, sql: sql, expected: [PGRES_COPY_IN])
        PQclear(result)
        let writer = PostgresCopyWriter(connection: self)
        do {
            try produce(writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "stockflow stopped the copy: \(error)".prefix(200).description)
            while let result = PQgetResult(handle) { PQclear(result) }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError(sql: sql) }
        var failure: Error?
        while let result = PQgetResult(handle) {
            do { try check(result, sql: sql, expected: [PGRES_COMMAND_OK]); PQclear(result) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// Starts `COPY ... FROM STDIN` for a caller that writes across several calls; end it with `endCopyIn()`.
    public func beginCopyIn(_ sql: String) throws -> PostgresCopyWriter {
        let result = PQexec(handle, sql)
        try check(result, sql: sql, expected: [PGRES_COPY_IN])
        PQclear(result)
        activeCopy = PostgresCopyWriter(connection: self)
        return activeCopy!
    }

    /// Sends what `beginCopyIn`'s writer holds and ends the COPY; throws the server's verdict.
    public func endCopyIn() throws {
        try activeCopy?.flush()
        activeCopy = nil
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError(sql: "COPY FROM STDIN") }
        var failure: Error?
        while let result = PQgetResult(handle) {
            do { try check(result, sql: "COPY FROM STDIN", expected: [PGRES_COMMAND_OK]); PQclear(result) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    fileprivate func putCopyData(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        let sent = bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        if sent != 1 { throw connectionError(sql: "COPY FROM STDIN") }
    }

    /// Runs `COPY ... TO STDOUT` and hands each data line (without its newline) to `line`.
    public func copyOut(_ sql: String, _ line: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        let result = PQexec(handle, sql)
        try check(result, sql: sql, expected: [PGRES_COPY_OUT])
        PQclear(result)
        var failure: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let count = PQgetCopyData(handle, &buffer, 0)
            if count == -1 { break }
            if count == -2 { throw connectionError(sql: sql) }
            guard let buffer else { continue }
            defer { PQfreemem(buffer) }
            if failure != nil { continue }
            let length = Int(count) > 0 && buffer[Int(count) - 1] == 10 ? Int(count) - 1 : Int(count)
            do {
                try buffer.withMemoryRebound(to: UInt8.self, capacity: Int(count)) {
                    try line(UnsafeBufferPointer(start: $0, count: length))
                }
            } catch {
                failure = error
                _ = PQrequestCancel(handle)
            }
        }
        while let result = PQgetResult(handle) {
            if failure == nil {
                do { try check(result, sql: sql, expected: [PGRES_COMMAND_OK]); PQclear(result) } catch { failure = error }
            } else {
                PQclear(result)
            }
        }
        if let failure { throw failure }
    }

    /// Quotes a text literal for SQL (standard_conforming_strings on).
    public static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// A buffered writer of COPY text-format data; sends in 256 KiB chunks.
public final class PostgresCopyWriter {
    private unowned(unsafe) let connection: PostgresConnection
    private var buffer: [UInt8] = []
    private static let chunk = 1 << 18

    fileprivate init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(PostgresCopyWriter.chunk + 4096)
    }

    /// Appends bytes, sending a chunk when the buffer is full.
    @inline(__always)
    public func write<S: Sequence>(_ bytes: S) throws where S.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        if buffer.count >= PostgresCopyWriter.chunk { try flush() }
    }

    /// Appends one byte.
    @inline(__always)
    public func write(byte: UInt8) {
        buffer.append(byte)
    }

    /// Appends a value in COPY text form: backslash, tab, newline and carriage return escaped.
    public func writeEscaped<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes { appendCopyEscaped(byte: byte, to: &buffer) }
    }

    /// Ends a row and sends a chunk when the buffer is full.
    public func endRow() throws {
        buffer.append(10)
        if buffer.count >= PostgresCopyWriter.chunk { try flush() }
    }

    /// Sends what is buffered.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBufferPointer { try connection.putCopyData($0) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// One row of a single-row-mode result; valid only inside the callback.
public struct PostgresRow {
    fileprivate let result: OpaquePointer

    /// Number of columns.
    public var count: Int { Int(PQnfields(result)) }
    /// Column name.
    public func name(_ index: Int) -> String { String(cString: PQfname(result, Int32(index))) }
    /// Column type OID.
    public func type(_ index: Int) -> UInt32 { PQftype(result, Int32(index)) }
    /// True when the value is NULL.
    public func isNull(_ index: Int) -> Bool { PQgetisnull(result, 0, Int32(index)) != 0 }
    /// The value in PostgreSQL's text form.
    public func text(_ index: Int) -> String {
        withBytes(index) { String(decoding: $0, as: UTF8.self) }
    }
    /// The value's text form as bytes, valid only inside `body` (the row's result is cleared after it).
    public func withBytes<T>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        let length = Int(PQgetlength(result, 0, Int32(index)))
        return try PQgetvalue(result, 0, Int32(index)).withMemoryRebound(to: UInt8.self, capacity: length) {
            try body(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// PostgreSQL type OIDs stockflow reads.
public enum PostgresType {
    public static let bool: UInt32 = 16, bytea: UInt32 = 17, int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23
    public static let text: UInt32 = 25, json: UInt32 = 114, float4: UInt32 = 700, float8: UInt32 = 701
    public static let varchar: UInt32 = 1043, bpchar: UInt32 = 1042, date: UInt32 = 1082, time: UInt32 = 1083
    public static let timestamp: UInt32 = 1114, timestamptz: UInt32 = 1184, numeric: UInt32 = 1700, jsonb: UInt32 = 3802
    public static let oid: UInt32 = 26
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let duplicates = strings.map { $0.map { strdup($0) } ?? nil }
    defer { duplicates.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    if pointers.isEmpty { return body(nil) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
