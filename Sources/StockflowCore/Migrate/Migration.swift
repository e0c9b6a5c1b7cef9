import Foundation

/// What to do when a migrated table already exists in the target schema.
public enum IfExists: String, Sendable, CaseIterable {
    /// Stop before touching anything.
    case fail
    /// Drop the existing tables in the same transaction that brings the new ones in.
    case replace
}

/// Everything `stockflow migrate` (and the `migrate` stage) needs.
public struct MigrationOptions: Sendable {
    public var sqlitePath: String
    public var connection: PostgresConnectionOptions
    /// Target schema (created when missing).
    public var schema = "public"
    /// Connections loading tables in parallel.
    public var jobs = 2
    public var ifExists = IfExists.fail
    /// Load the valid rows and report the rest instead of failing.
    public var carryValid = false
    /// Where rows that cannot be carried are listed.
    public var rejectsPath = "migrate-rejects.csv"
    /// Precision and scale for undeclared decimals, by `table.column`.
    public var decimalHints: [String: (Int, Int)] = [:]
    /// Show per-table progress (a terminal).
    public var progress = false
    /// Also told of each row that cannot be carried (called one at a time, from the loading threads).
    public var onReject: (@Sendable (MigrationReject) -> Void)?

    /// Makes options.
    public init(sqlitePath: String, connection: PostgresConnectionOptions) {
        self.sqlitePath = sqlitePath
        self.connection = connection
    }
}

/// A row that cannot be carried, as listed in the rejects file.
public struct MigrationReject: Sendable {
    public var table: String
    /// `column=value` of the key, or `rowid=n`.
    public var key: String
    public var column: String
    public var reason: String
    public var value: String
}

/// A migration that did not complete; `exitStatus` says why (65 rejects, 75 unreachable, 1 otherwise).
public struct MigrationFailure: Error, CustomStringConvertible {
    public var message: String
    public var exitStatus: ExitStatus
    public var description: String { message }
}

/// Per-table figures of a migration or verification.
public struct MigratedTable: Sendable {
    public var name: String
    public var sourceRows: Int64
    public var rejected: Int64
    public var expected: RowChecksum
    public var actual: RowChecksum?
    /// True when the target's count and checksum equal the source's.
    public var matches: Bool { actual == expected }
}

/// The outcome: tables with their checksums, and the rejects written.
public struct MigrationReport: Sendable {
    public var tables: [MigratedTable]
    public var rejects: Int
    public var rejectsPath: String?
    public var seconds: Double

    /// A fixed-width summary, one line per table.
    public var text: String {
        let width = max(5, tables.map(\.name.count).max() ?? 5)
        var lines = ["\("table".padding(toLength: width, withPad: " ", startingAt: 0))  \("source".leftPadded(10))  \("rejected".leftPadded(8))  \("target".leftPadded(10))  checksum"]
        for table in tables {
            let state = table.actual == nil ? "missing" : (table.matches ? "ok \(String(table.expected.sum, radix: 16))" : "DIFFERS (\(String(table.expected.sum, radix: 16)) vs \(String(table.actual!.sum, radix: 16)))")
            lines.append("\(table.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(table.sourceRows).leftPadded(10))  \(String(table.rejected).leftPadded(8))  \((table.actual.map { String($0.rows) } ?? "-").leftPadded(10))  \(state)")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// Moves a whole SQLite database into PostgreSQL, all or nothing, and verifies it.
///
/// Tables are created in a staging schema and filled by COPY over `jobs` connections; keys, checks,
/// indexes, identity restarts and foreign keys are added after the data; rows breaking a CHECK or a
/// foreign key are found there. Checksums are compared, and only then one transaction moves the
/// tables into the target schema (dropping the old ones with `--if-exists replace`). Any failure
/// drops the staging schema, so the target stays as it was and a re-run starts clean.
public final class Migration {
    public let options: MigrationOptions
    public let tables: [MigrationTable]
    private let log: (String) -> Void

    /// Reads the source schema; `log` receives phase messages.
    public init(_ options: MigrationOptions, log: @escaping (String) -> Void = { _ in }) throws {
        self.options = options
        self.log = log
        guard FileManager.default.fileExists(atPath: options.sqlitePath) else {
            throw MigrationFailure(message: "\(options.sqlitePath): no such file", exitStatus: .failed)
        }
        do {
            let database = try SQLiteDatabase(path: options.sqlitePath, readOnly: true)
            tables = try SourceSchemaReader.read(database, decimalHints: options.decimalHints)
        } catch let error as SQLiteError {
            throw MigrationFailure(message: "\(options.sqlitePath): \(error)", exitStatus: error.isTemporary ? .temporary : .failed)
        }
    }

    var staging: String { postgresName("stockflow_migrate_\(options.schema)") }

    func qualified(_ schema: String, _ table: String) -> String { "\(quoteIdentifier(schema)).\(quoteIdentifier(table))" }

    // MARK: SQL

    func createTableSQL(_ table: MigrationTable, schema: String) -> String {
        let columns = table.columns.map { column in
            var text = "\(quoteIdentifier(column.name)) \(column.type)"
            if column.isIdentity { text += " GENERATED BY DEFAULT AS IDENTITY" }
            if column.notNull { text += " NOT NULL" }
            return text
        }
        return "CREATE TABLE \(qualified(schema, table.name)) (\(columns.joined(separator: ", ")))"
    }

    func keySQL(_ table: MigrationTable, schema: String) -> [String] {
        let name = qualified(schema, table.name)
        var statements: [String] = []
        if !table.primaryKey.isEmpty {
            statements.append("ALTER TABLE \(name) ADD CONSTRAINT \(quoteIdentifier(postgresName("\(table.name)_pkey"))) PRIMARY KEY (\(table.primaryKey.map(quoteIdentifier).joined(separator: ", ")))")
        }
        for index in table.indexes {
            let columns = index.columns.map(quoteIdentifier).joined(separator: ", ")
            if index.isConstraint {
                statements.append("ALTER TABLE \(name) ADD CONSTRAINT \(quoteIdentifier(index.name)) UNIQUE (\(columns))")
            } else {
                statements.append("CREATE \(index.unique ? "UNIQUE " : "")INDEX \(quoteIdentifier(index.name)) ON \(name) (\(columns))")
            }
        }
        if let identity = table.identity {
            let column = quoteIdentifier(identity.name)
            // Past both the highest id and sqlite_sequence, so an id deleted in SQLite is never handed out again.
            statements.append("SELECT setval(pg_get_serial_sequence(\(PostgresConnection.literal(name)), \(PostgresConnection.literal(identity.name))), GREATEST(coalesce((SELECT max(\(column)) FROM \(name)), 0), \(table.sequence), 1), coalesce((SELECT max(\(column)) FROM \(name)), 0) > 0 OR \(table.sequence) > 0)")
        }
        return statements
    }

    /// `(name, ADD CONSTRAINT clause)` for each CHECK of a table.
    func checkClauses(_ table: MigrationTable) -> [(name: String, clause: String)] {
        table.checks.map { ($0.name, "ADD CONSTRAINT \(quoteIdentifier($0.name)) CHECK (\($0.expression))") }
    }

    /// `(name, ADD CONSTRAINT clause)` for each foreign key of a table whose parent is migrated too.
    func foreignKeyClauses(_ table: MigrationTable, schema: String) -> [(name: String, clause: String)] {
        table.foreignKeys.compactMap { key in
            guard tables.contains(where: { $0.name == key.parent }) else { return nil }
            let name = postgresName("\(table.name)_\(key.columns.joined(separator: "_"))_fk_\(key.parent)_\(key.parentColumns.joined(separator: "_"))")
            return (name, "ADD CONSTRAINT \(quoteIdentifier(name)) FOREIGN KEY (\(key.columns.map(quoteIdentifier).joined(separator: ", "))) REFERENCES \(qualified(schema, key.parent)) (\(key.parentColumns.map(quoteIdentifier).joined(separator: ", "))) DEFERRABLE INITIALLY DEFERRED")
        }
    }

    func checkSQL(_ table: MigrationTable, schema: String) -> [String] {
        checkClauses(table).map { "ALTER TABLE \(qualified(schema, table.name)) \($0.clause)" }
    }

    func foreignKeySQL(_ table: MigrationTable, schema: String) -> [String] {
        foreignKeyClauses(table, schema: schema).map { "ALTER TABLE \(qualified(schema, table.name)) \($0.clause)" }
    }

    /// One ALTER TABLE adding every CHECK and foreign key of a table (PostgreSQL validates all the checks in one scan), or nil.
    func constraintSQL(_ table: MigrationTable, schema: String) -> String? {
        let clauses = (checkClauses(table) + foreignKeyClauses(table, schema: schema)).map(\.clause)
        return clauses.isEmpty ? nil : "ALTER TABLE \(qualified(schema, table.name)) \(clauses.joined(separator: ", "))"
    }

    /// The ALTER TABLE taking `constraintSQL`'s constraints off again, or nil.
    func dropConstraintSQL(_ table: MigrationTable, schema: String) -> String? {
        let names = (checkClauses(table) + foreignKeyClauses(table, schema: schema)).map(\.name)
        return names.isEmpty ? nil : "ALTER TABLE \(qualified(schema, table.name)) " + names.map { "DROP CONSTRAINT IF EXISTS \(quoteIdentifier($0))" }.joined(separator: ", ")
    }

    func copySQL(_ table: MigrationTable, schema: String) -> String {
        "COPY \(qualified(schema, table.name)) (\(table.columns.map { quoteIdentifier($0.name) }.joined(separator: ", "))) FROM STDIN"
    }

    func rowTextSQL(_ columns: [MigrationColumn], alias: String? = nil) -> String {
        let parts = columns.map { column -> String in
            let reference = (alias.map { "\($0)." } ?? "") + quoteIdentifier(column.name)
            return "coalesce(\(column.type.canonicalSQL(reference)), '\\N')"
        }
        return parts.isEmpty ? "''" : "concat_ws(E'\\t', \(parts.joined(separator: ", ")))"
    }

    func swapSQL(existing: Set<String>) -> [String] {
        var statements = ["BEGIN", "CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(options.schema))"]
        for table in tables where existing.contains(table.name) {
            statements.append("DROP TABLE \(qualified(options.schema, table.name)) CASCADE")
        }
        for table in tables { statements.append("ALTER TABLE \(qualified(staging, table.name)) SET SCHEMA \(quoteIdentifier(options.schema))") }
        statements.append("DROP SCHEMA \(quoteIdentifier(staging))")
        statements.append("COMMIT")
        return statements
    }

    /// The plan and the DDL, as `--dry-run` prints them; touches nothing.
    public func planText() -> String {
        var lines: [String] = ["-- stockflow migrate plan: \(options.sqlitePath) -> \(options.connection.redacted.isEmpty ? "libpq defaults" : options.connection.redacted) schema \(options.schema)"]
        lines.append("-- \(tables.count) tables, \(tables.reduce(0) { $0 + $1.rowCount }) rows; \(options.jobs) connection(s); staging schema \(staging); if-exists \(options.ifExists.rawValue)")
        for table in tables {
            lines.append("--   \(table.name): \(table.rowCount) rows" + (table.identity.map { ", identity \($0.name) past max(id) and sqlite_sequence \(table.sequence)" } ?? ""))
            for column in table.columns where column.typeSource != nil {
                lines.append("--     \(column.name) \(column.declared) -> \(column.type) (\(column.typeSource!))")
            }
            for note in table.notes { lines.append("--     note: \(note)") }
        }
        lines.append("\n-- 1. staging schema and tables")
        lines.append("DROP SCHEMA IF EXISTS \(quoteIdentifier(staging)) CASCADE;")
        lines.append("CREATE SCHEMA \(quoteIdentifier(staging));")
        for table in tables { lines.append(createTableSQL(table, schema: staging) + ";") }
        lines.append("\n-- 2. data, one COPY per table (SET TimeZone TO 'UTC'), tables in parallel")
        for table in tables { lines.append(copySQL(table, schema: staging) + ";  -- \(table.rowCount) rows") }
        lines.append("\n-- 3. keys, unique constraints, indexes, sequences")
        for table in tables { lines += keySQL(table, schema: staging).map { $0 + ";" } }
        lines.append("\n-- 4. rows breaking a CHECK or a foreign key go to the rejects file; then the constraints")
        for table in tables { lines += checkSQL(table, schema: staging).map { $0 + ";" } }
        for table in tables { lines += foreignKeySQL(table, schema: staging).map { $0 + ";" } }
        lines.append("\n-- 5. per-table count and checksum compared with the source, then one transaction:")
        lines += swapSQL(existing: Set(tables.map(\.name)).filter { _ in options.ifExists == .replace }).map { $0 + ";" }
        return lines.joined(separator: "\n")
    }

    // MARK: Running

    /// Opens a PostgreSQL session with the migration's settings (UTC, ISO dates).
    func connect(worker: Bool = false) throws -> PostgresConnection {
        let connection = try PostgresConnection(options.connection)
        try connection.execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET client_encoding TO 'UTF8'; SET extra_float_digits TO 1; SET client_min_messages TO error"
                               + (worker ? "; SET synchronous_commit TO off; SET maintenance_work_mem TO '128MB'" : ""))
        return connection
    }

    private func failure(_ error: Error) -> MigrationFailure {
        switch error {
        case let error as MigrationFailure: return error
        case let error as PostgresError: return MigrationFailure(message: "PostgreSQL: \(error)", exitStatus: error.isTemporary ? .temporary : .failed)
        case let error as SQLiteError: return MigrationFailure(message: "\(options.sqlitePath): \(error)", exitStatus: error.isTemporary ? .temporary : .failed)
        default: return MigrationFailure(message: "\(error)", exitStatus: .failed)
        }
    }

    /// Runs the migration; throws `MigrationFailure` with the target left as it was.
    public func run() throws -> MigrationReport {
        let started = Date()
        let control: PostgresConnection
        do { control = try connect() } catch { throw failure(error) }
        let existing: Set<String>
        do {
            let names = try control.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", [options.schema])
            existing = Set(names.compactMap { $0[0] }).intersection(tables.map(\.name))
        } catch { throw failure(error) }
        if !existing.isEmpty && options.ifExists == .fail {
            throw MigrationFailure(message: "\(existing.count) table(s) already exist in schema \(options.schema): \(existing.sorted().prefix(8).joined(separator: ", "))\(existing.count > 8 ? ", ..." : ""); nothing was changed. Use --if-exists replace (if_exists: replace in a pipeline) to replace them, or another --schema.", exitStatus: .failed)
        }
        let rejects: RejectLog
        do { rejects = try RejectLog(path: options.rejectsPath, onReject: options.onReject) } catch { throw failure(error) }
        do {
            log("staging schema \(staging): creating \(tables.count) tables")
            try control.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(staging)) CASCADE")
            try control.execute("BEGIN; CREATE SCHEMA \(quoteIdentifier(staging)); " + tables.map { createTableSQL($0, schema: staging) }.joined(separator: "; ") + "; COMMIT")
            let pool = try WorkerPool(count: max(1, min(options.jobs, tables.count)), migration: self)
            let progress = CopyProgress(enabled: options.progress, tables: tables)
            log("copying \(tables.reduce(0) { $0 + $1.rowCount }) rows over \(pool.count) connection(s)")
            let ordered = tables.indices.sorted { tables[$0].rowCount > tables[$1].rowCount }
            var loaded = [MigratedTable?](repeating: nil, count: tables.count)
            let results = Locked(loaded)
            try pool.run(ordered) { worker, index in
                let result = try worker.copy(self.tables[index], rejects: rejects, progress: progress)
                results.mutate { $0[index] = result }
            }
            progress.finish()
            loaded = results.value
            log("building keys and indexes")
            try pool.run(ordered) { worker, index in
                for statement in self.keySQL(self.tables[index], schema: self.staging) { try worker.postgres.execute(statement) }
            }
            var report = loaded.map { $0! }
            log("adding check constraints and foreign keys")
            // Optimistic: PostgreSQL validates every constraint anyway, so rows breaking one are only looked
            // up (a second pass over the data) when a constraint fails or rows were already rejected.
            let violated = rejects.count > 0 ? Set(ordered) : try addConstraints(pool, ordered)
            if !violated.isEmpty {
                // Rows may be deleted below (--carry-valid): take off what was added, and add it all again after.
                try pool.run(ordered.filter { !violated.contains($0) }) { worker, index in
                    if let statement = self.dropConstraintSQL(self.tables[index], schema: self.staging) { try worker.postgres.execute(statement) }
                }
                try findConstraintRejects(control, rejects: rejects, report: &report)
                if rejects.count > 0 && !options.carryValid {
                    try rejects.close()
                    throw MigrationFailure(message: "\(rejects.count) row(s) cannot be carried; nothing was changed. They are listed in \(options.rejectsPath):\n\(rejects.sample.joined(separator: "\n"))\nFix them in the source, or rerun with --carry-valid to load the other rows.", exitStatus: .tooManyRejects)
                }
                _ = try addConstraints(pool, ordered, tolerateViolations: false)
            }
            log("verifying counts and checksums")
            let checked = Locked(report)
            try pool.run(ordered) { worker, index in
                let actual = try worker.checksum(self.tables[index], schema: self.staging)
                checked.mutate { $0[index].actual = actual }
            }
            report = checked.value
            let differing = report.filter { !$0.matches }
            if !differing.isEmpty {
                throw MigrationFailure(message: "verification failed before commit; nothing was changed:\n" + differing.map { "\($0.name): source \($0.expected), target \($0.actual.map(\.description) ?? "missing")" }.joined(separator: "\n"), exitStatus: .failed)
            }
            log("moving \(tables.count) tables into schema \(options.schema) in one transaction")
            try control.execute(swapSQL(existing: existing).joined(separator: "; "))
            try rejects.close()
            return MigrationReport(tables: report, rejects: rejects.count, rejectsPath: rejects.count > 0 ? options.rejectsPath : nil,
                                   seconds: Date().timeIntervalSince(started))
        } catch {
            try? control.execute("ROLLBACK")
            try? control.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(staging)) CASCADE")
            try? rejects.close()
            if rejects.count == 0 { rejects.remove() }
            throw failure(error)
        }
    }

    /// Adds each table's CHECKs and foreign keys (one ALTER TABLE per table, tables in parallel) and
    /// returns the tables where a row breaks one (nothing added there); other errors are thrown.
    private func addConstraints(_ pool: WorkerPool, _ ordered: [Int], tolerateViolations: Bool = true) throws -> Set<Int> {
        let violated = Locked(Set<Int>())
        try pool.run(ordered) { worker, index in
            guard let statement = self.constraintSQL(self.tables[index], schema: self.staging) else { return }
            var attempt = 0
            while true {
                do {
                    try worker.postgres.execute(statement)
                    return
                } catch let error as PostgresError where error.sqlState == "40P01" && attempt < 5 {
                    // Two foreign keys lock their tables in opposite orders: PostgreSQL cancelled one; run it again.
                    attempt += 1
                } catch let error as PostgresError where tolerateViolations && (error.sqlState == "23514" || error.sqlState == "23503") {
                    violated.mutate { _ = $0.insert(index) }
                    return
                }
            }
        }
        return violated.value
    }

    /// Lists rows that break a CHECK or reference a missing parent; with --carry-valid deletes them
    /// (repeating, since a deleted parent can orphan children) and takes them out of the expected checksums.
    private func findConstraintRejects(_ connection: PostgresConnection, rejects: RejectLog, report: inout [MigratedTable]) throws {
        var pass = 0
        while true {
            pass += 1
            var found = 0
            for (tableIndex, table) in tables.enumerated() {
                let name = qualified(staging, table.name)
                let key = table.keyColumn.map { "t.\(quoteIdentifier($0))::text" } ?? "t.ctid::text"
                var conditions: [(column: String, reason: String, condition: String)] = []
                if pass == 1 {
                    for check in table.checks {
                        let column = table.columns.first { check.expression.contains(quoteIdentifier($0.name)) }?.name ?? ""
                        conditions.append((column, "CHECK \(check.name) (\(check.expression)) fails", "NOT coalesce((\(check.expression)), true)"))
                    }
                }
                for foreignKey in table.foreignKeys where tables.contains(where: { $0.name == foreignKey.parent }) {
                    let present = foreignKey.columns.map { "t.\(quoteIdentifier($0)) IS NOT NULL" }.joined(separator: " AND ")
                    let join = zip(foreignKey.columns, foreignKey.parentColumns).map { "p.\(quoteIdentifier($1)) = t.\(quoteIdentifier($0))" }.joined(separator: " AND ")
                    conditions.append((foreignKey.columns.joined(separator: ","), "foreign key: no \(foreignKey.parent) row with \(foreignKey.parentColumns.joined(separator: ",")) =",
                                       "\(present) AND NOT EXISTS (SELECT 1 FROM \(qualified(staging, foreignKey.parent)) p WHERE \(join))"))
                }
                for condition in conditions {
                    let valueColumns = condition.column.split(separator: ",").map { "t.\(quoteIdentifier(String($0)))::text" }
                    let values = valueColumns.isEmpty ? "''" : "concat_ws(',', \(valueColumns.joined(separator: ", ")))"
                    let rows = try connection.query("SELECT \(key), \(values) FROM \(name) t WHERE \(condition.condition) LIMIT 100000")
                    guard !rows.isEmpty else { continue }
                    found += rows.count
                    for row in rows {
                        let reason = condition.reason.hasSuffix("=") ? "\(condition.reason) \(row[1] ?? "")" : condition.reason
                        try rejects.record(table: table.name, key: (table.keyColumn.map { "\($0)=" } ?? "ctid=") + (row[0] ?? ""), column: condition.column, reason: reason, value: row[1] ?? "")
                    }
                    if options.carryValid {
                        report[tableIndex].expected.remove(try RowChecksum.query(connection, table: "\(name) t", rowText: rowTextSQL(table.columns, alias: "t"), filter: condition.condition))
                        report[tableIndex].rejected += Int64(rows.count)
                        try connection.execute("DELETE FROM \(name) t WHERE \(condition.condition)")
                    }
                }
            }
            if found == 0 || !options.carryValid { return }
        }
    }

    /// Compares the source and an existing target, table by table, without changing anything.
    public func verify() throws -> MigrationReport {
        let started = Date()
        do {
            let control = try connect()
            var targetTables = tables
            var report: [MigratedTable] = []
            for index in targetTables.indices {
                let types = try control.query("""
                    SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                    """, [options.schema, targetTables[index].name])
                let byName = Dictionary(types.map { ($0[0] ?? "", $0[1] ?? "") }, uniquingKeysWith: { a, _ in a })
                for column in targetTables[index].columns.indices {
                    if let type = byName[targetTables[index].columns[column].name] {
                        targetTables[index].columns[column].type = TargetType.fromPostgres(type)
                    }
                }
                let table = targetTables[index]
                let expected = try sourceChecksum(table)
                var actual: RowChecksum?
                if !types.isEmpty {
                    actual = try RowChecksum.query(control, table: qualified(options.schema, table.name), rowText: rowTextSQL(table.columns))
                }
                report.append(MigratedTable(name: table.name, sourceRows: table.rowCount, rejected: 0, expected: expected, actual: actual))
            }
            return MigrationReport(tables: report, rejects: 0, rejectsPath: nil, seconds: Date().timeIntervalSince(started))
        } catch {
            throw failure(error)
        }
    }

    /// The source side's checksum of one table, with the target's types.
    func sourceChecksum(_ table: MigrationTable) throws -> RowChecksum {
        let database = try SQLiteDatabase(path: options.sqlitePath, readOnly: true)
        var checksum = RowChecksum()
        try SourceRowReader(database: database, table: table).forEachRow(onReject: { _, _, _, _ in }) { _, text in
            text.withUnsafeBufferPointer { checksum.add(row: $0) }
        }
        return checksum
    }
}

/// Reads one table's rows from SQLite and turns each into COPY text and canonical (checksum) text.
struct SourceRowReader {
    let database: SQLiteDatabase
    let table: MigrationTable

    /// Calls `body` with each carried row's COPY line (ending in a newline) and canonical text;
    /// rows with a value that cannot be carried go to `onReject(key, column, reason, value)`.
    func forEachRow(onReject: (String, String, String, String) throws -> Void,
                    _ body: (_ copyLine: [UInt8], _ canonical: [UInt8]) throws -> Void) throws {
        let converters = table.columns.map { CellConverter(type: $0.type) }
        let notNull = table.columns.map(\.notNull)
        let keyIndex = table.keyColumn.flatMap { key in table.columns.firstIndex { $0.name == key } }
        let selected = table.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let statement = try database.prepare("SELECT \(table.hasRowid ? "rowid, " : "")\(selected) FROM \(quoteIdentifier(table.name))")
        let offset = table.hasRowid ? 1 : 0
        var line: [UInt8] = []
        var canonical: [UInt8] = []
        var cell: [UInt8] = []
        line.reserveCapacity(4096)
        canonical.reserveCapacity(4096)
        cell.reserveCapacity(1024)
        var ordinal: Int64 = 0
        rows: while try statement.step() {
            ordinal += 1
            line.removeAll(keepingCapacity: true)
            canonical.removeAll(keepingCapacity: true)
            for index in 0..<converters.count {
                if index > 0 { line.append(9); canonical.append(9) }
                let storage = statement.storage(index + offset)
                if storage == .null {
                    if notNull[index] {
                        try onReject(key(statement, keyIndex, offset, ordinal), table.columns[index].name, "NULL in a NOT NULL column", "")
                        continue rows
                    }
                    line.append(contentsOf: [92, 78])
                    canonical.append(contentsOf: [92, 78])
                    continue
                }
                do {
                    try converters[index].append(statement, index + offset, storage: storage, line: &line, canonical: &canonical, scratch: &cell)
                } catch let rejection as CellConverter.Rejection {
                    let column = table.columns[index]
                    try onReject(key(statement, keyIndex, offset, ordinal), column.name, "\(column.type): \(rejection.reason)", String(statement.text(index + offset).prefix(200)))
                    continue rows
                }
            }
            line.append(10)
            try body(line, canonical)
        }
    }

    private func key(_ statement: SQLiteStatement, _ keyIndex: Int?, _ offset: Int, _ ordinal: Int64) -> String {
        if let keyIndex { return "\(table.columns[keyIndex].name)=\(statement.text(keyIndex + offset))" }
        if table.hasRowid { return "rowid=\(statement.int64(0))" }
        return "row \(ordinal)"
    }
}

/// One loading connection: its own SQLite handle and PostgreSQL session.
final class MigrationWorker {
    let database: SQLiteDatabase
    let postgres: PostgresConnection
    let migration: Migration

    init(migration: Migration) throws {
        self.migration = migration
        database = try SQLiteDatabase(path: migration.options.sqlitePath, readOnly: true)
        postgres = try migration.connect(worker: true)
    }

    /// COPYs one table into the staging schema, checksumming what is sent.
    func copy(_ table: MigrationTable, rejects: RejectLog, progress: CopyProgress) throws -> MigratedTable {
        var checksum = RowChecksum()
        var rejected: Int64 = 0
        var sinceReport = 0
        try postgres.copyIn(migration.copySQL(table, schema: migration.staging)) { writer in
            try SourceRowReader(database: database, table: table).forEachRow(onReject: { key, column, reason, value in
                rejected += 1
                try rejects.record(table: table.name, key: key, column: column, reason: reason, value: value)
            }) { line, canonical in
                try writer.write(line)
                canonical.withUnsafeBufferPointer { checksum.add(row: $0) }
                sinceReport += 1
                if sinceReport == 8192 { progress.advance(table.name, by: sinceReport); sinceReport = 0 }
            }
        }
        progress.advance(table.name, by: sinceReport, done: true)
        return MigratedTable(name: table.name, sourceRows: table.rowCount, rejected: rejected, expected: checksum, actual: nil)
    }

    /// The target side's count and checksum of one table.
    func checksum(_ table: MigrationTable, schema: String) throws -> RowChecksum {
        try RowChecksum.query(postgres, table: migration.qualified(schema, table.name), rowText: migration.rowTextSQL(table.columns))
    }
}

/// N workers taking items from one queue on their own threads; the first error stops the rest.
final class WorkerPool: @unchecked Sendable {
    private let workers: [MigrationWorker]
    var count: Int { workers.count }

    init(count: Int, migration: Migration) throws {
        workers = try (0..<count).map { _ in try MigrationWorker(migration: migration) }
    }

    func run(_ items: [Int], _ body: @escaping (MigrationWorker, Int) throws -> Void) throws {
        let next = Locked(0)
        let failure = Locked<Error?>(nil)
        let group = DispatchGroup()
        let task = UncheckedSendable(body)
        for worker in workers {
            let box = UncheckedSendable(worker)
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while failure.value == nil {
                    let position = next.mutate { value -> Int in value += 1; return value - 1 }
                    guard position < items.count else { return }
                    do { try task.value(box.value, items[position]) } catch { failure.mutate { if $0 == nil { $0 = error } } }
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
        group.wait()
        if let error = failure.value { throw error }
    }
}

/// The rejects file: table, key, column, reason, value; shared by the loading threads.
final class RejectLog: @unchecked Sendable {
    private let writer: CSVWriter
    private let lock = NSLock()
    private(set) var count = 0
    private(set) var sample: [String] = []
    let path: String
    private let onReject: (@Sendable (MigrationReject) -> Void)?

    init(path: String, onReject: (@Sendable (MigrationReject) -> Void)? = nil) throws {
        self.path = path
        self.onReject = onReject
        writer = try CSVWriter(url: URL(fileURLWithPath: path))
        try writer.write(["table", "key", "column", "reason", "value"])
    }

    func record(table: String, key: String, column: String, reason: String, value: String) throws {
        lock.lock(); defer { lock.unlock() }
        count += 1
        if sample.count < 10 { sample.append("  \(table) \(key) \(column): \(reason)") }
        try writer.write([table, key, column, reason, value])
        onReject?(MigrationReject(table: table, key: key, column: column, reason: reason, value: value))
    }

    func close() throws { lock.lock(); defer { lock.unlock() }; try writer.close() }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Per-table progress on a terminal: rows done, rows per second, time left. Silent otherwise.
final class CopyProgress: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var done: [String: Int] = [:]
    private var finished = Set<String>()
    private let totals: [String: Int64]
    private let started = Date()
    private var lastPrint = Date.distantPast

    init(enabled: Bool, tables: [MigrationTable]) {
        self.enabled = enabled
        totals = Dictionary(tables.map { ($0.name, $0.rowCount) }, uniquingKeysWith: { a, _ in a })
    }

    func advance(_ table: String, by rows: Int, done isDone: Bool = false) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        done[table, default: 0] += rows
        if isDone { finished.insert(table) }
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let all = done.values.reduce(0, +)
        let total = totals.values.reduce(0, +)
        let rate = Double(all) / elapsed
        let left = rate > 0 ? Int(Double(total - Int64(all)) / rate) : 0
        let active = done.keys.filter { !finished.contains($0) }.sorted().map { "\($0) \(done[$0]!)/\(totals[$0] ?? 0)" }
        let text = "\r\u{1B}[K\(all)/\(total) rows, \(Int(rate)) rows/s, ~\(left)s left  \(active.joined(separator: "  "))"
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
