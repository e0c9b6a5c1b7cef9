import Foundation

/// The pushed stages of one PostgreSQL database during a run: one snapshot (REPEATABLE READ, so the
/// counts and every stage's rows come from the same state of the tables) on two connections, one
/// query counting every stage's rows, then one query per stage whose rows come back.
///
/// Both cores work: the second connection imports the first one's snapshot (`pg_export_snapshot()`,
/// `SET TRANSACTION SNAPSHOT`), and the queries whose results are small (`aheadSQL`: the rejects
/// and findings of rulebook stages, the groups of aggregates and trends) run ahead on the two
/// connections, alternately, each on its own thread, the count query first on the first one;
/// their rows are kept as text (`AheadRows`: in memory up to a few MB, beyond in a temporary file)
/// until their stage asks. The other stages' rows stream on the first connection once its
/// queries ahead are done.
final class PushedRegion: @unchecked Sendable {
    /// The extracts' connection text.
    let database: String
    /// The display names of the region's extracts, by `__src` index (their rows' origins).
    let sources: [String]
    /// The query counting every member's rows: one number per scan of `countLayout`.
    var countSQL = ""
    var countLayout: [(from: String, aggregate: String)] = []
    /// Per member: rows in, out, filtered, emitted, unreadable, in terms of the count query's numbers.
    var memberCounts: [String: [RowCount]] = [:]
    /// The pushed stages, in run order.
    var members: [(id: String, relation: PushedRelation)] = []
    /// How many members send rows back; the snapshot ends after the last.
    var exitCount = 0
    /// The queries run ahead of their stages, in run order (not the count query, always ahead).
    var aheadSQL: [String] = []

    private let lock = NSLock()
    private var connection: PostgresConnection?
    /// The run the session belongs to (weak: a later run, even at the same address, opens its own).
    private weak var run: RunContext?
    private var counts: [String: [Int]] = [:]
    private var sourceIDs: [Int32] = []
    private var exitsServed = 0
    /// The queries running or run ahead, by SQL text, and whether the first connection's are done.
    private let progress = NSCondition()
    private var ahead: [String: AheadQuery] = [:]
    private var firstBusy = false
    private var generation = 0

    /// The `work_mem` of the pushed queries' transaction.
    static let workMemory = "64MB"

    init(database: String, sources: [String]) {
        self.database = database
        self.sources = sources
    }

    /// Opens this run's session and counts every member, on first use in the run. The connection
    /// stays open (in the snapshot) until the last stage whose rows come back has read them.
    private func prepare(_ context: StageContext) throws {
        if run === context.run { return }
        connection = nil
        exitsServed = 0
        counts = [:]
        var connection = try Self.openSnapshot(database, importing: nil)
        // The second connection sees what the first sees; where a snapshot cannot be exported or
        // imported (a standby, a proxy), everything runs on the first, in a transaction begun again.
        var second: PostgresConnection?
        if !aheadSQL.isEmpty {
            do {
                if let snapshot = try connection.scalar("SELECT pg_export_snapshot()") {
                    second = try Self.openSnapshot(database, importing: snapshot)
                }
            } catch {
                second = nil
                connection = try Self.openSnapshot(database, importing: nil)
            }
        }
        let countQuery = AheadQuery(countSQL)
        var queues: [[AheadQuery]] = [[countQuery], []]
        for (index, sql) in aheadSQL.enumerated() where !queues.joined().contains(where: { $0.sql == sql }) {
            queues[second != nil && index % 2 == 0 ? 1 : 0].append(AheadQuery(sql))
        }
        progress.lock()
        ahead = Dictionary(queues.joined().map { ($0.sql, $0) }, uniquingKeysWith: { first, _ in first })
        firstBusy = true
        generation += 1
        let current = generation
        progress.unlock()
        sourceIDs = sources.map { context.run.origins.register($0, kind: .fileLine) }
        self.connection = connection
        run = context.run
        startAhead(queues[0], on: connection, last: { [progress] in
            progress.lock()
            // A later run's first connection is another one.
            if self.generation == current { self.firstBusy = false }
            progress.broadcast()
            progress.unlock()
        })
        if let second {
            startAhead(queues[1], on: second, last: { try? second.execute("COMMIT") })
        }
        guard let row = try wait(countQuery)?.first() else { throw StageError("pushdown: the count query returned no row") }
        var numbers: [String: [String: Int]] = [:]
        for (index, scan) in countLayout.enumerated() {
            numbers[scan.from, default: [:]][scan.aggregate] = row.isNull(index) ? 0 : Int(row.text(index)) ?? 0
        }
        counts = memberCounts.mapValues { $0.map { $0.value(numbers) } }
    }

    /// A session in a REPEATABLE READ READ ONLY transaction, with another session's snapshot if given.
    private static func openSnapshot(_ database: String, importing snapshot: String?) throws -> PostgresConnection {
        let connection = try PostgresExtract.openSession(PostgresConnectionOptions(database))
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if let snapshot { try connection.execute("SET TRANSACTION SNAPSHOT \(PostgresConnection.literal(snapshot))") }
        // PostgreSQL guesses a group per distinct instant for a period label (`to_char` of a date),
        // and with the default 4 MB sorts a million rows on disk rather than hash a few hundred
        // groups; for this transaction only (docs/pushdown.md).
        try connection.execute("SET LOCAL work_mem = '\(Self.workMemory)'")
        return connection
    }

    /// Runs `queries` in order on `connection` on a thread of their own, keeping their rows, then `last`.
    private func startAhead(_ queries: [AheadQuery], on connection: PostgresConnection, last: @escaping () -> Void) {
        /// What the thread owns from here on (the connection until `last`).
        struct Work: @unchecked Sendable {
            let queries: [AheadQuery], connection: PostgresConnection, progress: NSCondition, last: () -> Void
        }
        let work = Work(queries: queries, connection: connection, progress: progress, last: last)
        let thread = Thread {
            let (connection, progress) = (work.connection, work.progress)
            for query in work.queries {
                var rows = AheadRows(), kept = true, failure: Error?
                do {
                    // Every row is read (a cancelled query would end the snapshot); if they cannot all
                    // be kept (no room for the temporary file), none are and the stage runs the query itself.
                    try connection.forEachRow(query.sql) { row in
                        if kept { kept = rows.append(row) }
                        return true
                    }
                } catch {
                    failure = error
                }
                if !kept { rows = AheadRows() }
                progress.lock()
                (query.rows, query.notKept, query.failure, query.done) = (rows, !kept, failure, true)
                progress.broadcast()
                progress.unlock()
            }
            work.last()
        }
        thread.start()
    }

    /// The rows of a query run ahead, once done; nil when it was not run ahead or its rows could not be kept.
    private func wait(_ query: AheadQuery?) throws -> AheadRows? {
        guard let query else { return nil }
        progress.lock()
        while !query.done { progress.wait() }
        progress.unlock()
        if let failure = query.failure { throw failure }
        return query.notKept ? nil : query.rows
    }

    /// The first connection, once its queries ahead are done (then only the caller uses it).
    private func firstConnection(_ stageID: String, asking what: String) throws -> PostgresConnection {
        progress.lock()
        while firstBusy { progress.wait() }
        progress.unlock()
        guard let connection else { throw StageError("pushdown: stage '\(stageID)' asked for its \(what) after the snapshot ended") }
        return connection
    }

    /// Sets a pushed stage's counters from the count query, as in-process counting would have; for a
    /// stage whose rows come back, rows emitted are counted by the runner as they go.
    func applyCounts(_ id: String, to context: StageContext, countsEmitted: Bool, countsOut: Bool) throws {
        try locked(context) {
            guard let numbers = counts[id] else { throw StageError("pushdown: no counts for stage '\(id)'") }
            if numbers[4] > 0 {
                throw StageError("pushdown: stage '\(id)' reads \(numbers[4]) row(s) whose values stockflow cannot hold (NaN, infinite or out-of-range dates, decimals over 18 digits); in-process they are rejected row by row: run with 'pushdown: off' to list them")
            }
            context.counters.rowsIn = numbers[0]
            if countsOut { context.counters.rowsOut = numbers[1] }
            context.counters.rowsFiltered = 0
            context.counters.filteredReasons = [:]
            let reason = members.first { $0.id == id }?.relation.filteredReason ?? "filtered in PostgreSQL"
            context.filtered(numbers[2], reason: reason)
            if countsEmitted { context.counters.rowsEmitted = numbers[3] }
        }
    }

    /// Hands a stage the counts after its five (its own filter reasons, its notes).
    func applyExtraCounts(_ id: String, to context: StageContext, _ apply: ([Int], StageContext) -> Void) throws {
        try locked(context) {
            guard let numbers = counts[id] else { throw StageError("pushdown: no counts for stage '\(id)'") }
            apply(Array(numbers.dropFirst(5)), context)
        }
    }

    /// Streams a pushed stage's rows, in the order the stage emits them in-process; an aggregate
    /// grouped by text gets its groups sorted here, as the in-process aggregate sorts them. Returns
    /// the sum of the part's `rowsOutColumn`, when it has one.
    @discardableResult
    func stream(_ part: PushedPart, context: StageContext, emit: Emit) throws -> Int? {
        guard let sql = part.dataSQL else { return nil }
        return try locked(context) { () -> Int? in
            let columns = part.schema.columns
            let types = columns.map(\.type), scales = columns.map(\.scale), names = columns.map(\.name)
            var batch = Batch(capacity: Batch.preferredSize)
            var collected: [Row] = []
            var summed = 0
            func take<R: PostgresTextRow>(_ row: R) throws {
                let (values, problem) = decodeRow(row, types: types, scales: scales, names: names)
                if let problem { throw StageError("pushdown: stage '\(part.stageID)': \(problem.english)") }
                if let column = part.rowsOutColumn, values.indices.contains(column), case .int(let count) = values[column] {
                    summed += Int(count)
                }
                if part.sortRows != nil {
                    collected.append(values)
                } else {
                    try batch.append(values, origin: origin(row, width: columns.count), flushingTo: emit)
                }
            }
            do {
                if let rows = try wait(ahead[sql]) {
                    try rows.forEach(take)
                } else {
                    try firstConnection(part.stageID, asking: "rows").forEachRow(sql) { row in
                        try take(row)
                        return true
                    }
                }
            } catch let error as PostgresError {
                throw StageError("pushdown: stage '\(part.stageID)': \(error)", kind: error.isTemporary ? .temporary : .failed)
            }
            for row in part.sortRows?(collected) ?? [] {
                try batch.append(row, origin: .derived, flushingTo: emit)
            }
            try emit(batch)
            exitsServed += 1
            if exitsServed == exitCount, let connection = try? firstConnection(part.stageID, asking: "rows") {
                try? connection.execute("COMMIT")
                self.connection = nil
            }
            return part.rowsOutColumn == nil ? nil : summed
        }
    }

    /// Records a rulebook stage's rejects and findings, selected in SQL, through the stage's own code.
    func replay(_ sql: String, _ issues: PushedIssues, stageID: String, context: StageContext) throws {
        try locked(context) {
            let columns = issues.schema.columns
            let types = columns.map(\.type), scales = columns.map(\.scale), names = columns.map(\.name)
            func take<R: PostgresTextRow>(_ row: R) throws {
                let (values, problem) = decodeRow(row, types: types, scales: scales, names: names)
                if let problem { throw StageError("pushdown: stage '\(stageID)': \(problem.english)") }
                try issues.replay(values, origin(row, width: columns.count), context)
            }
            do {
                if let rows = try wait(ahead[sql]) {
                    try rows.forEach(take)
                } else {
                    try firstConnection(stageID, asking: "rejects").forEachRow(sql) { row in
                        try take(row)
                        return true
                    }
                }
            } catch let error as PostgresError {
                throw StageError("pushdown: stage '\(stageID)': \(error)", kind: error.isTemporary ? .temporary : .failed)
            }
        }
    }

    /// A row's origin from its `__src` and `__ord` columns (after the stage's own).
    private func origin<R: PostgresTextRow>(_ row: R, width: Int) -> RowOrigin {
        guard !row.isNull(width), let source = Int(row.text(width)), sourceIDs.indices.contains(source),
              let position = Int64(row.text(width + 1)) else { return .derived }
        return RowOrigin(source: sourceIDs[source], position: position)
    }

    private func locked<T>(_ context: StageContext, _ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            try prepare(context)
            return try body()
        } catch let error as PostgresError {
            connection = nil
            run = nil
            throw StageError("pushdown (\(redactPassword(database))): \(error)", kind: error.isTemporary ? .temporary : .failed)
        } catch {
            connection = nil
            run = nil
            throw error
        }
    }
}

/// A query run ahead on one of a region's connections, and its rows once done (under the region's `progress`).
final class AheadQuery: @unchecked Sendable {
    let sql: String
    var rows = AheadRows()
    var failure: Error?
    /// Its rows could not be kept (`AheadRows.append` refused one): the stage runs the query itself.
    var notKept = false
    var done = false

    init(_ sql: String) { self.sql = sql }
}

/// One pushed stage's share of its region: its counts, and the query of its rows when they come back.
final class PushedPart: @unchecked Sendable {
    let stageID: String
    let region: PushedRegion
    /// The query returning the stage's rows, when a stage in-process reads them.
    let dataSQL: String?
    /// The stage's columns, as in-process.
    let schema: Schema
    /// For a stage whose rows are sorted in-process (an aggregate grouped by text): the sort.
    let sortRows: (@Sendable ([Row]) -> [Row])?
    /// The column whose sum over the rows is the stage's rows out (counted as they come back).
    var rowsOutColumn: Int?
    /// For a rulebook stage: the queries of its rejects and findings, and how to record them.
    var issues: [(sql: String, issues: PushedIssues)] = []
    /// What the stage makes of its further counts (filter reasons, notes).
    var applyExtraCounts: (([Int], StageContext) -> Void)?

    init(stageID: String, region: PushedRegion, dataSQL: String?, schema: Schema, sortRows: (@Sendable ([Row]) -> [Row])?) {
        self.stageID = stageID
        self.region = region
        self.dataSQL = dataSQL
        self.schema = schema
        self.sortRows = sortRows
    }

    /// Counts the stage, then sends its rows downstream if something in-process reads them. An extract
    /// whose rows come back has its rows out counted by the runner as they go.
    func run(_ context: StageContext, isExtract: Bool = false, emit: Emit) throws {
        try region.applyCounts(stageID, to: context, countsEmitted: dataSQL == nil, countsOut: !isExtract || dataSQL == nil)
        if let applyExtraCounts { try region.applyExtraCounts(stageID, to: context, applyExtraCounts) }
        for (sql, issues) in issues { try region.replay(sql, issues, stageID: stageID, context: context) }
        if let rowsOut = try region.stream(self, context: context, emit: emit) {
            context.counters.rowsOut = rowsOut
            context.filtered(context.counters.rowsIn - rowsOut, reason: region.members.first { $0.id == stageID }?.relation.filteredReason ?? "filtered in PostgreSQL")
        }
    }
}

/// A transform that runs inside PostgreSQL: it receives nothing (its inputs are pushed too) and, once
/// they end, reports its counts and sends its rows back if an in-process stage reads them.
final class PushedStage: StageRunner {
    let part: PushedPart
    /// The in-process stage it replaces (its options, for `plan`).
    let original: StageRunner

    init(part: PushedPart, original: StageRunner) {
        self.part = part
        self.original = original
    }

    var outputSchema: Schema { original.outputSchema }
    var countsOwnOutput: Bool { true }

    func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {}

    func finish(_ context: StageContext, emit: Emit) throws {
        try part.run(context, emit: emit)
    }
}
