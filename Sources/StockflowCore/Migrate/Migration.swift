import Foundation

/// Moves a whole SQLite database into PostgreSQL, all or nothing, and verifies it.
///
/// Tables are created in a staging schema and filled by COPY over `jobs` connections; keys, checks,
/// indexes, identity restarts and foreign keys are added after the data; rows breaking a CHECK or a
/// foreign key are found there. Checksums are compared, and only then one transaction moves the
/// tables into the target schema (dropping the old ones with `--if-exists replace`). Any failure
/// drops the staging schema, so the target stays as it was and a re-run starts clean.
public final class Migration {
    public let options: MigrationOptions
    /// The tables, with the types they get (an integer column may widen to bigint while copying).
    public private(set) var tables: [MigrationTable]
    /// Views, triggers and the problems that stop the migration, as read from the source.
    public let source: SourceSchema
    private let log: (String) -> Void

    /// Reads the source schema; `log` receives phase messages.
    public init(_ options: MigrationOptions, log: @escaping (String) -> Void = { _ in }) throws {
        self.options = options
        self.log = log
        guard FileManager.default.fileExists(atPath: options.sqlitePath) else {
            throw MigrationFailure(message: "\(options.sqlitePath): no such file", exitStatus: .failed)
        }
        // SQLite opens an empty file as an empty database, and reports a foreign one only at the first read.
        let header = FileHandle(forReadingAtPath: options.sqlitePath).map { handle -> Data in
            defer { try? handle.close() }
            return (try? handle.read(upToCount: 16)) ?? Data()
        } ?? Data()
        if header.isEmpty {
            throw MigrationFailure(message: "\(options.sqlitePath) is empty: it is not an SQLite database; nothing was changed", exitStatus: .failed)
        }
        guard header.starts(with: Array("SQLite format 3".utf8) + [0]) else {
            throw MigrationFailure(message: "\(options.sqlitePath) is not an SQLite database (its first bytes are not \"SQLite format 3\"); nothing was changed", exitStatus: .failed)
        }
        do {
            let database = try SQLiteDatabase(path: options.sqlitePath, readOnly: true)
            source = try SourceSchemaReader.read(database, options: options)
            tables = source.tables
        } catch let error as SQLiteError {
            throw MigrationFailure(message: "\(options.sqlitePath): \(error)", exitStatus: error.isTemporary ? .temporary : .failed)
        }
    }

    // MARK: Running

    /// Opens a PostgreSQL session with the migration's settings (UTC, ISO dates).
    func connect(worker: Bool = false) throws -> PostgresConnection {
        let connection = try PostgresConnection(options.connection)
        try connection.execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET client_encoding TO 'UTF8'; SET extra_float_digits TO 1; SET client_min_messages TO error"
                               + (worker ? "; SET synchronous_commit TO off; SET maintenance_work_mem TO '256MB'" : ""))
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
        if !source.problems.isEmpty {
            throw MigrationFailure(message: "the source cannot be migrated as it is; nothing was changed:\n" + source.problems.map { "  \($0)" }.joined(separator: "\n"), exitStatus: .failed)
        }
        let control: PostgresConnection
        do { control = try connect() } catch { throw failure(error) }
        var notes = source.changes
        let existing: [String: String]
        do {
            let ours = Set(tables.map(\.name) + source.views.map(\.name))
            let names = try control.query("SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", [options.schema])
            existing = Dictionary(names.compactMap { row in row[0].flatMap { ours.contains($0) ? ($0, row[1] ?? "r") : nil } }, uniquingKeysWith: { a, _ in a })
        } catch { throw failure(error) }
        if !existing.isEmpty && options.ifExists == .fail {
            let sorted = existing.keys.sorted()
            throw MigrationFailure(message: "\(existing.count) table(s) already exist in schema \(options.schema): \(sorted.prefix(8).joined(separator: ", "))\(existing.count > 8 ? ", ..." : ""); nothing was changed. Use --if-exists replace (if_exists: replace in a pipeline) to replace them, or another --schema.", exitStatus: .failed)
        }
        if !existing.isEmpty {
            let dependents: [String]
            do { dependents = try dependentObjects(control, of: Array(existing.keys)) } catch { throw failure(error) }
            if !dependents.isEmpty {
                guard options.cascade else {
                    throw MigrationFailure(message: "--if-exists replace would also drop \(dependents.count) object(s) outside the migration that depend on the tables it replaces; nothing was changed:\n" + dependents.map { "  \($0)" }.joined(separator: "\n") + "\nDrop or move them first, or add --cascade to drop them with the tables.", exitStatus: .failed)
                }
                notes += dependents.map { "\($0) dropped with the replaced tables (--cascade)" }
            }
        }
        let rejects: RejectLog
        do { rejects = try RejectLog(path: options.rejectsPath, onReject: options.onReject) } catch { throw failure(error) }
        do {
            log("staging schema \(staging): creating \(tables.count) tables")
            try control.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(staging)) CASCADE")
            try control.execute("BEGIN; CREATE SCHEMA \(quoteIdentifier(staging)); " + tables.map { createTableSQL($0, schema: staging) }.joined(separator: "; ") + "; COMMIT")
            let pool = try WorkerPool(count: max(1, min(options.jobs, tables.count)), migration: self)
            let progress = CopyProgress(enabled: options.progress, tables: tables)
            log("copying \(tables.reduce(0) { $0 + $1.rowCount }) rows over \(pool.count) connection(s); each table's indexes, keys, checks and foreign keys follow its copy")
            let ordered = tables.indices.sorted { tables[$0].rowCount > tables[$1].rowCount }
            let units = try copyUnits(connections: pool.count)
            let results = Locked([[(MigratedTable, MigrationTable)]](repeating: [], count: tables.count))
            let before = tables
            // The tables with the types their copies ended with (an integer column may have widened).
            let copied = Locked([MigrationTable?](repeating: nil, count: tables.count))
            let actual = Locked([RowChecksum?](repeating: nil, count: tables.count))
            let violatedInGraph = Locked(Set<Int>())
            func table(_ index: Int) throws -> MigrationTable {
                try copied.mutate { known in
                    if let table = known[index] { return table }
                    let table = try Self.merged(results.value[index], before: before[index])
                    known[index] = table
                    return table
                }
            }
            // One graph: each table's indexes and checksum start when its copy ends (beside the other
            // tables' copies), then its keys, then its CHECKs and foreign keys once its parents' keys exist.
            // The target checksums are taken right after the copy: the data no longer changes when nothing
            // is rejected (when rows are, they are taken again below).
            var tasks: [WorkerPool.Task] = []
            var copies = [[Int]](repeating: [], count: tables.count)
            for position in units.indices.sorted(by: { units[$0].rows > units[$1].rows }) {
                let unit = units[position]
                copies[unit.table].append(tasks.count)
                tasks.append(.init(after: []) { worker in
                    let result = try worker.copy(before[unit.table], rowids: unit.rowids, rejects: rejects, progress: progress)
                    results.mutate { $0[unit.table].append(result) }
                })
            }
            // Each index is a task of its own: two sessions may build two indexes of one table at once.
            var indexTasks = [[Int]](repeating: [], count: tables.count)
            var checksumTask = [Int](repeating: 0, count: tables.count), keyTask = checksumTask
            for index in ordered {
                for statement in indexSQL(before[index], schema: staging).indices {
                    indexTasks[index].append(tasks.count)
                    tasks.append(.init(after: copies[index]) { worker in
                        let statements = self.indexSQL(try table(index), schema: self.staging)
                        if statement < statements.count { try worker.postgres.execute(statements[statement]) }
                    })
                }
            }
            for index in ordered {
                checksumTask[index] = tasks.count
                tasks.append(.init(after: copies[index]) { worker in
                    let sum = try worker.checksum(try table(index), schema: self.staging)
                    actual.mutate { $0[index] = sum }
                })
            }
            for index in ordered {
                keyTask[index] = tasks.count
                tasks.append(.init(after: indexTasks[index] + [checksumTask[index]]) { worker in
                    if let statement = self.keyConstraintSQL(try table(index), schema: self.staging) { try worker.postgres.execute(statement) }
                })
            }
            for index in ordered {
                let parents = Set(before[index].foreignKeys.compactMap { key in before.firstIndex { $0.name == key.parent } })
                tasks.append(.init(after: [keyTask[index]] + parents.map { keyTask[$0] }) { worker in
                    // Rows rejected while copying: the constraints are added later, after the rejects are looked up.
                    guard rejects.count == 0 else { return }
                    if try !self.addConstraint(worker, try table(index), tolerateViolations: true) { violatedInGraph.mutate { _ = $0.insert(index) } }
                })
            }
            try pool.run(graph: tasks)
            progress.finish()
            var loaded: [(MigratedTable, MigrationTable)] = []
            for index in tables.indices {
                var figures = MigratedTable(name: tables[index].name, sourceRows: tables[index].rowCount, rejected: 0, expected: RowChecksum(), actual: actual.value[index])
                for (part, _) in results.value[index] {
                    figures.expected.add(part.expected)
                    figures.rejected += part.rejected
                }
                loaded.append((figures, try table(index)))
            }
            tables = loaded.map(\.1)
            for (old, new) in zip(before, tables) {
                for (a, b) in zip(old.columns, new.columns) where a.type != b.type { notes.append("\(new.name).\(b.name): \(b.typeSource ?? "\(b.type)")") }
            }
            var report = loaded.map(\.0)
            let checked = Locked(report)
            // Optimistic: PostgreSQL validates every constraint anyway, so rows breaking one are only looked
            // up (a second pass over the data) when a constraint fails or rows were already rejected.
            let violated = rejects.count > 0 ? Set(ordered) : violatedInGraph.value
            if !violated.isEmpty {
                // Rows may be deleted below (--carry-valid): take off what was added, and add it all again after.
                try pool.run(ordered) { worker, index in
                    if let statement = self.dropConstraintSQL(self.tables[index], schema: self.staging) { try worker.postgres.execute(statement) }
                }
                try findConstraintRejects(control, rejects: rejects, report: &report)
                if rejects.count > 0 && !options.carryValid {
                    try rejects.close()
                    throw MigrationFailure(message: "\(rejects.count) row(s) cannot be carried; nothing was changed. They are listed in \(options.rejectsPath):\n\(rejects.sample.joined(separator: "\n"))\nFix them in the source, or rerun with --carry-valid to load the other rows.", exitStatus: .tooManyRejects)
                }
                try addConstraints(pool, ordered)
            }
            if violated.isEmpty {
                log("verified counts and checksums")
            } else {
                log("verifying counts and checksums")
                checked.mutate { $0 = report }
                try pool.run(ordered) { worker, index in
                    let actual = try worker.checksum(self.tables[index], schema: self.staging)
                    checked.mutate { $0[index].actual = actual }
                }
            }
            report = checked.value
            let differing = report.filter { !$0.matches }
            if !differing.isEmpty {
                let located = differing.map { table in "\(table.name): source \(table.expected), target \(table.actual.map(\.description) ?? "missing")" + ((try? self.firstDifference(control, table.name, schema: self.staging)) ?? nil).map { "; first difference at \($0)" }.orEmpty }
                throw MigrationFailure(message: "verification failed before commit; nothing was changed:\n" + located.joined(separator: "\n"), exitStatus: .failed)
            }
            let views = try createViews(control)
            notes += source.views.filter { !views.contains($0.name) }.map { "view \($0.name) not carried: \($0.problem ?? "PostgreSQL refused it")" }
            if !source.triggers.isEmpty {
                let path = triggersPath
                let text = source.triggers.map { "-- trigger \($0.name) on \($0.table), as SQLite has it: port it to PL/pgSQL by hand\n\($0.sql);\n" }.joined(separator: "\n")
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                notes += source.triggers.map { "trigger \($0.name) on \($0.table) not carried (its SQL is in \(path))" }
            }
            log("moving \(tables.count) tables\(views.isEmpty ? "" : " and \(views.count) views") into schema \(options.schema) in one transaction")
            try control.execute(swapSQL(existing: existing, views: views).joined(separator: "; "))
            try rejects.close()
            return MigrationReport(tables: report, rejects: rejects.count, rejectsPath: rejects.count > 0 ? options.rejectsPath : nil,
                                   seconds: Date().timeIntervalSince(started), notes: notes, rounded: rejects.rounded)
        } catch {
            try? control.execute("ROLLBACK")
            try? control.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(staging)) CASCADE")
            try? rejects.close()
            if rejects.count == 0 { rejects.remove() }
            throw failure(error)
        }
    }

    /// The copies to make: one per table, and a table holding more than half of all rows cut into
    /// `connections` rowid ranges, so that it does not set the pace alone. Only then: two COPYs into one
    /// table contend for its pages (measured at 1M orders, three big tables copied whole over three
    /// connections beat the same tables cut in parts over two or three).
    private func copyUnits(connections: Int) throws -> [(table: Int, rowids: ClosedRange<Int64>?, rows: Int64)] {
        let total = tables.reduce(0) { $0 + $1.rowCount }
        let database = try SQLiteDatabase(path: options.sqlitePath, readOnly: true)
        var units: [(table: Int, rowids: ClosedRange<Int64>?, rows: Int64)] = []
        for (index, table) in tables.enumerated() {
            guard connections > 1, table.hasRowid, table.rowCount >= 50_000, table.rowCount * 2 > total else {
                units.append((index, nil, table.rowCount))
                continue
            }
            let bounds = try database.prepare("SELECT min(rowid), max(rowid) FROM \(quoteIdentifier(table.sourceName))")
            _ = try bounds.step()
            let low = bounds.int64(0), high = bounds.int64(1)
            let parts = Int64(connections)
            let width = (high - low) / parts + 1
            var start = low
            for part in 0..<parts {
                let end = part == parts - 1 ? high : min(high, start + width - 1)
                units.append((index, start...end, table.rowCount / parts))
                if end == high { break }
                start = end + 1
            }
        }
        return units
    }

    /// Where the triggers' SQL is written: beside the rejects file.
    var triggersPath: String {
        URL(fileURLWithPath: options.rejectsPath).deletingLastPathComponent().appendingPathComponent("migrate-triggers.sql").path
    }

    /// Objects outside the migration (views, foreign keys of other tables) that depend on the target relations `names`.
    private func dependentObjects(_ connection: PostgresConnection, of names: [String]) throws -> [String] {
        let list = names.map(PostgresConnection.literal).joined(separator: ", ")
        let ours = "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = \(PostgresConnection.literal(options.schema)) AND c.relname IN (\(list))"
        let rows = try connection.query("""
            SELECT DISTINCT 'view ' || v.oid::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (\(ours)) AND v.oid NOT IN (\(ours))
            UNION SELECT 'foreign key ' || quote_ident(conname) || ' of ' || conrelid::regclass::text FROM pg_constraint
            WHERE contype = 'f' AND confrelid IN (\(ours)) AND conrelid NOT IN (\(ours))
            ORDER BY 1
            """)
        return rows.compactMap { $0[0] }
    }

    /// Creates the translated views in the staging schema (a view over another after it); returns those PostgreSQL accepted.
    private func createViews(_ connection: PostgresConnection) throws -> [String] {
        var pending = source.views.filter { $0.body != nil }
        guard !pending.isEmpty else { return [] }
        try connection.execute("SET search_path TO \(quoteIdentifier(staging))")
        defer { try? connection.execute("SET search_path TO DEFAULT") }
        var created: [String] = []
        var progress = true
        while progress && !pending.isEmpty {
            progress = false
            for view in pending {
                do {
                    try connection.execute("CREATE VIEW \(qualified(staging, view.name)) \(view.body ?? "")")
                    created.append(view.name)
                    progress = true
                } catch is PostgresError {
                    continue
                }
            }
            pending.removeAll { created.contains($0.name) }
        }
        return created
    }

    /// `key=value` of the first row whose canonical text differs between the source and the staging table, or nil.
    private func firstDifference(_ connection: PostgresConnection, _ name: String, schema: String) throws -> String? {
        guard let table = tables.first(where: { $0.name == name }), let key = table.keyColumn,
              let keyIndex = table.columns.firstIndex(where: { $0.name == key }) else { return nil }
        var target: [String: String] = [:]
        for row in try connection.query("SELECT \(quoteIdentifier(key))::text, \(rowTextSQL(table.columns)) FROM \(qualified(schema, table.name)) LIMIT 1000000") {
            target[row[0] ?? "NULL"] = row[1] ?? ""
        }
        let database = try SQLiteDatabase(path: options.sqlitePath, readOnly: true)
        var found: String?
        try SourceRowReader(database: database, table: table, roundDecimals: options.roundDecimals).forEachRow(onReject: { _, _, _, _ in }) { _, canonical in
            guard found == nil else { return }
            let text = String(decoding: canonical, as: UTF8.self)
            let fields = text.components(separatedBy: "\t")
            guard keyIndex < fields.count else { return }
            let id = fields[keyIndex]
            if let stored = target[id], stored != text {
                let storedFields = stored.components(separatedBy: "\t")
                let column = zip(fields.indices, zip(fields, storedFields)).first { $0.1.0 != $0.1.1 }.map { table.columns[$0.0].name } ?? "?"
                found = "\(key)=\(id), column \(column)"
            } else if target[id] == nil {
                found = "\(key)=\(id) (missing in the target)"
            }
        }
        return found
    }

    /// A table as its copies left it: `before`, with the columns any part widened.
    static func merged(_ parts: [(MigratedTable, MigrationTable)], before: MigrationTable) throws -> MigrationTable {
        guard var table = parts.first?.1 else { throw MigrationFailure(message: "table \(before.name) was not copied", exitStatus: .failed) }
        for (_, partTable) in parts {
            for column in partTable.columns.indices where column < before.columns.count && partTable.columns[column].type != before.columns[column].type {
                table.columns[column] = partTable.columns[column]
            }
        }
        return table
    }

    /// Adds a table's CHECKs and foreign keys in one ALTER TABLE; returns false when a row breaks one
    /// (nothing added then) under `tolerateViolations`; other errors are thrown.
    func addConstraint(_ worker: MigrationWorker, _ table: MigrationTable, tolerateViolations: Bool) throws -> Bool {
        guard let statement = constraintSQL(table, schema: staging) else { return true }
        var attempt = 0
        while true {
            do {
                try worker.postgres.execute(statement)
                return true
            } catch let error as PostgresError where error.sqlState == "40P01" && attempt < 5 {
                // Two foreign keys lock their tables in opposite orders: PostgreSQL cancelled one; run it again.
                attempt += 1
            } catch let error as PostgresError where tolerateViolations && (error.sqlState == "23514" || error.sqlState == "23503") {
                return false
            }
        }
    }

    /// Adds each table's CHECKs and foreign keys (tables in parallel); every row must satisfy them.
    private func addConstraints(_ pool: WorkerPool, _ ordered: [Int]) throws {
        try pool.run(ordered) { worker, index in
            _ = try self.addConstraint(worker, self.tables[index], tolerateViolations: false)
        }
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
                        try rejects.record(table: table.name, key: (table.keyColumn.map { "\($0)=" } ?? "ctid=") + (row[0] ?? "NULL"), column: condition.column, reason: reason, value: row[1] ?? "")
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
                var figures = MigratedTable(name: table.name, sourceRows: table.rowCount, rejected: 0, expected: expected, actual: actual)
                if actual != nil && !figures.matches { figures.difference = try firstDifference(control, table.name, schema: options.schema) }
                report.append(figures)
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
        try SourceRowReader(database: database, table: table, roundDecimals: options.roundDecimals).forEachRow(onReject: { _, _, _, _ in }) { _, text in
            text.withUnsafeBufferPointer { checksum.add(row: $0) }
        }
        return checksum
    }
}

extension Optional where Wrapped == String {
    /// The text, or "" for nil.
    var orEmpty: String { self ?? "" }
}
