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

    /// COPYs one table into the staging schema, checksumming what is sent. An integer column declared
    /// `integer` that holds a value past 32 bits is widened to bigint and the table copied again; the
    /// table is returned with the types it has now.
    func copy(_ table: MigrationTable, rowids: ClosedRange<Int64>? = nil, rejects: RejectLog, progress: CopyProgress) throws -> (MigratedTable, MigrationTable) {
        var table = table
        while true {
            var checksum = RowChecksum()
            // Held until the copy succeeds, so a copy started again never lists a row twice.
            var pending: [MigrationReject] = []
            var roundings: [MigrationReject] = []
            var sinceReport = 0
            let binary = migration.options.binaryCopy
            var reader = SourceRowReader(database: database, table: table, roundDecimals: migration.options.roundDecimals, rowids: rowids, binary: binary)
            reader.onRound = { key, column, from, to in
                roundings.append(MigrationReject(table: table.name, key: key, column: column, reason: "rounded to \(to) (--round-decimals)", value: from))
            }
            do {
                try postgres.copyIn(migration.copySQL(table, schema: migration.staging, binary: binary)) { writer in
                    if binary { try writer.write(BinaryCopy.header) }
                    defer { if binary { try? writer.write(BinaryCopy.trailer) } }
                    try reader.forEachRow(onReject: { key, column, reason, value in
                        pending.append(MigrationReject(table: table.name, key: key, column: column, reason: reason, value: value))
                    }) { line, canonical in
                        try writer.write(line)
                        canonical.withUnsafeBufferPointer { checksum.add(row: $0) }
                        sinceReport += 1
                        if sinceReport == 8192 { progress.advance(table.name, by: sinceReport); sinceReport = 0 }
                    }
                }
            } catch let widen as SourceRowReader.WidenColumn {
                let column = table.columns[widen.column]
                // Another part of the table may have widened it already: then this changes nothing.
                try postgres.execute("ALTER TABLE \(migration.qualified(migration.staging, table.name)) ALTER COLUMN \(quoteIdentifier(column.name)) TYPE bigint")
                table.columns[widen.column].type = .bigint
                table.columns[widen.column].widenable = false
                table.columns[widen.column].typeSource = "declared \(column.declared), holds integers past 32 bits: bigint"
                continue
            }
            for reject in pending { try rejects.record(table: reject.table, key: reject.key, column: reject.column, reason: reject.reason, value: reject.value) }
            rejects.recordRounded(roundings)
            progress.advance(table.name, by: sinceReport, done: true)
            return (MigratedTable(name: table.name, sourceRows: table.rowCount, rejected: Int64(pending.count), expected: checksum, actual: nil), table)
        }
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

    /// Runs `body` for each item, the free workers taking them in list order: a graph without dependencies.
    func run(_ items: [Int], _ body: @escaping (MigrationWorker, Int) throws -> Void) throws {
        try run(graph: items.map { item in Task(after: []) { worker in try body(worker, item) } })
    }

    /// One piece of work of `run(graph:)`: it starts only when the tasks at `after` are done. They must be
    /// earlier in the list, so that some task is always ready or running.
    struct Task {
        var after: [Int]
        var body: (MigrationWorker) throws -> Void
    }

    /// Runs `tasks` on the workers: each free worker takes the first task (in list order) whose
    /// dependencies are done, so that a table's indexes, checksum and constraints start as soon as its
    /// copy ends, beside the other tables' copies, rather than after every copy; the first error stops the rest.
    func run(graph tasks: [Task]) throws {
        /// What the workers share, read and changed only while holding `condition`.
        final class Progress: @unchecked Sendable {
            let condition = NSCondition()
            let tasks: [Task]
            var started: [Bool], done: [Bool]
            var remaining: Int
            var failure: Error?
            init(_ tasks: [Task]) {
                self.tasks = tasks
                started = [Bool](repeating: false, count: tasks.count)
                done = started
                remaining = tasks.count
            }
        }
        let state = Progress(tasks)
        let group = DispatchGroup()
        for worker in workers {
            let box = UncheckedSendable(worker)
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                state.condition.lock()
                while state.failure == nil && state.remaining > 0 {
                    guard let position = state.tasks.indices.first(where: { !state.started[$0] && state.tasks[$0].after.allSatisfy { state.done[$0] } }) else {
                        // Nothing is ready (or everything is taken): wait for a running task to end.
                        state.condition.wait()
                        continue
                    }
                    state.started[position] = true
                    state.condition.unlock()
                    var error: Error?
                    do { try state.tasks[position].body(box.value) } catch let thrown { error = thrown }
                    state.condition.lock()
                    state.done[position] = true
                    state.remaining -= 1
                    if let error, state.failure == nil { state.failure = error }
                    state.condition.broadcast()
                }
                state.condition.unlock()
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
        group.wait()
        if let failure = state.failure { throw failure }
    }
}
