import Foundation

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
