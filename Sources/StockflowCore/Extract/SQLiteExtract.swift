import Foundation

/// `extract: sqlite` — streams a table or a query from an SQLite database opened read-only.
public final class SQLiteExtract: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "sqlite", role: .extract,
        summary: "Streams a table or a query from an SQLite database, opened read-only. Types follow the declared column types the way Django's SQLite backend stores them: `decimal` columns (stored as REAL or INTEGER) come back as exact decimals, `bool` 0/1 as booleans, `datetime` naive UTC text as instants, `date` text as dates.",
        options: [
            OptionSpec("database", .inputPath, required: true, "The SQLite file, relative to the pipeline file."),
            OptionSpec("table", .string, "Table to read (all columns, or those under `columns`). Give `table` or `query`."),
            OptionSpec("query", .string, "SELECT statement to run instead of a table."),
            OptionSpec("columns", .mapping, "Columns to read with their types, overriding the declared ones: `name: type` or `name: {type, scale, from}`; `scale` rounds decimals stored as REAL to that many places."),
            OptionSpec("busy_timeout_ms", .int, default: "5000", "How long to wait for a locked database before failing with exit 75."),
            IncrementalRead.option,
        ],
        example: """
        products:
          extract: sqlite
          database: ../fixtures/inventory.sqlite3
          table: stock_produit
          columns:
            code_prod: int
            nom_prod: text
            prix_unit: {type: decimal, scale: 2}
            quantite: int
            is_deleted: bool
            categorie_id: {type: int, nullable: true}
        """)

    let databasePath: String
    let displayName: String
    let sql: String
    let keyName: String?
    let hasRowid: Bool
    let declarations: [ColumnDeclaration]
    /// What reading a cell needs of each declaration: no strings, so nothing to retain per cell.
    private let readings: [CellReading]
    let busyTimeout: Int32
    public let outputSchema: Schema
    /// `incremental:`, with the statement reading from a bound (`>= ?`).
    var incremental: (read: IncrementalRead, sql: String)?
    /// A `query:` that is a FULL JOIN read as two merged scans, with where each column is read.
    var fullJoin: (join: SQLiteFullJoin, sources: [(right: Bool, index: Int)])?

    init(databasePath: String, displayName: String, sql: String, keyName: String?, hasRowid: Bool,
         declarations: [ColumnDeclaration], busyTimeout: Int32) {
        self.databasePath = databasePath
        self.displayName = displayName
        self.sql = sql
        self.keyName = keyName
        self.hasRowid = hasRowid
        self.declarations = declarations
        readings = declarations.map { CellReading(type: $0.type, nullable: $0.nullable, scale: $0.scale) }
        self.busyTimeout = busyTimeout
        outputSchema = Schema(declarations.map(\.column))
    }

    /// Maps an SQLite declared type (as Django writes them) to a column type.
    static func columnType(declared: String) -> ColumnType {
        let type = declared.lowercased()
        if type.contains("bool") { return .bool }
        if type.contains("int") { return .int }
        if type.contains("datetime") || type.contains("timestamp") { return .datetime }
        if type == "date" { return .date }
        if type.contains("decimal") || type.contains("numeric") || type.contains("real") || type.contains("floa") || type.contains("doub") {
            return .decimal
        }
        return .text
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let url = config.inputPath("database") else { return nil }
        let table = config.string("table")
        let query = config.string("query")
        if (table == nil) == (query == nil) {
            config.error("stage '\(config.id)' needs exactly one of 'table' or 'query'")
            return nil
        }
        let busy = Int32(clamping: config.int("busy_timeout_ms"))
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let where_ = config.node["database"]?.position
        do {
            let database = try SQLiteDatabase(path: url.path, readOnly: true, busyTimeoutMilliseconds: busy)
            var keyName: String?
            var hasRowid = false
            var baseSQL: String
            if let table {
                let quoted = quoteIdentifier(table)
                let info = try database.prepare("PRAGMA table_info(\(quoted))")
                var keyColumns: [(name: String, type: String)] = []
                var sawColumns = false
                while try info.step() {
                    sawColumns = true
                    if info.int64(5) > 0 { keyColumns.append((info.text(1), info.text(2))) }
                }
                guard sawColumns else {
                    let tables = try database.prepare("SELECT name FROM sqlite_master WHERE type IN ('table','view') ORDER BY name")
                    var names: [String] = []
                    while try tables.step() { names.append(tables.text(0)) }
                    config.error("table '\(table)' does not exist in \(url.lastPathComponent)\(didYouMean(table, names))", at: config.node["table"]?.position)
                    return nil
                }
                hasRowid = (try? database.prepare("SELECT rowid FROM \(quoted) LIMIT 0")) != nil
                // Only a lone INTEGER PRIMARY KEY is the rowid; `int`, `bigint` or composite keys are not.
                if hasRowid, keyColumns.count == 1, let key = keyColumns.first, key.type.uppercased() == "INTEGER" { keyName = key.name }
                baseSQL = "SELECT * FROM \(quoted)"
            } else if let query {
                // The query becomes a subquery, where a trailing ';' is a syntax error.
                baseSQL = query.trimmingCharacters(in: .whitespacesAndNewlines)
                while baseSQL.hasSuffix(";") { baseSQL = baseSQL.dropLast().trimmingCharacters(in: .whitespacesAndNewlines) }
            } else {
                return nil
            }
            let probe = try database.prepare(baseSQL)
            var available: [(name: String, type: ColumnType)] = []
            for index in 0..<probe.columnCount {
                available.append((probe.columnName(index), columnType(declared: probe.declaredType(index))))
            }
            var declarations: [ColumnDeclaration]
            if let columns = config.node["columns"] {
                declarations = ColumnDeclaration.read(columns, config: config, defaultNullable: true)
                for declaration in declarations where !available.contains(where: { $0.name == declaration.sourceName }) {
                    config.error("column '\(declaration.sourceName)' is not in \(table ?? "the query")'s result (columns: \(available.map(\.name).joined(separator: ", ")))\(didYouMean(declaration.sourceName, available.map(\.name)))",
                                 at: columns[declaration.name]?.position)
                }
            } else {
                declarations = available.map {
                    ColumnDeclaration(name: $0.name, sourceName: $0.name, type: $0.type, nullable: true, scale: nil, format: nil)
                }
            }
            let selected = declarations.map { quoteIdentifier($0.sourceName) }.joined(separator: ", ")
            let incremental = IncrementalRead.read(config, schema: Schema(declarations.map(\.column)), sourceName: { name in
                declarations.first { $0.name == name }?.sourceName ?? name
            })
            func select(_ filter: String) -> String {
                if let table {
                    return "SELECT \(hasRowid ? "rowid, " : "")\(selected) FROM \(quoteIdentifier(table))\(filter)\(hasRowid ? " ORDER BY rowid" : "")"
                }
                // The line break keeps a trailing `-- comment` of the query from hiding the ')'.
                return "SELECT \(selected) FROM (\(baseSQL)\n)\(filter)"
            }
            let extract = SQLiteExtract(databasePath: url.path, displayName: table ?? "query in \(url.lastPathComponent)", sql: select(""),
                                        keyName: keyName, hasRowid: hasRowid, declarations: declarations, busyTimeout: busy)
            extract.incremental = incremental.map { ($0, select(" WHERE \(quoteIdentifier($0.sourceColumn)) >= ?")) }
            if query != nil, let join = SQLiteFullJoin.parse(baseSQL), try join.holds(in: database, query: baseSQL) {
                let sources = declarations.compactMap { join.source(ofResultColumn: $0.sourceName) }
                if sources.count == declarations.count { extract.fullJoin = (join, sources) }
            }
            return extract
        } catch let error as SQLiteError {
            if error.isNotADatabase {
                config.error("'\(url.lastPathComponent)' is not an SQLite database (\(error.message))", at: where_)
            } else if error.isTemporary {
                config.diagnostics.error("database \(url.lastPathComponent) is locked by another process (\(error.message)); try again later", at: where_, temporary: true)
            } else {
                config.error("cannot read \(url.lastPathComponent): \(error)", at: where_)
            }
            return nil
        } catch {
            config.error("cannot read \(url.lastPathComponent): \(error)", at: where_)
            return nil
        }
    }

    public func produce(_ context: StageContext, emit: Emit) throws {
        let statement: SQLiteStatement
        let database: SQLiteDatabase
        let bound = incremental.flatMap { context.incrementalBound($0.read) }
        var tracker = incremental.map { WatermarkTracker($0.read) }
        var merge: SQLiteFullJoin.Merge?
        do {
            database = try SQLiteDatabase(path: databasePath, readOnly: true, busyTimeoutMilliseconds: busyTimeout)
            if let bound, let incremental {
                statement = try database.prepare(incremental.sql)
                try incremental.read.bind(bound, to: statement)
            } else {
                statement = try database.prepare(sql)
                if let fullJoin { merge = try fullJoin.join.merge(in: database, sources: fullJoin.sources) }
            }
        } catch let error as SQLiteError {
            throw stageError(error)
        }
        let source = context.run.origins.register(displayName, kind: keyName.map { .tableKey($0) } ?? (hasRowid ? .tableRowid : .fileLine))
        var batch = Batch(capacity: Batch.preferredSize)
        var ordinal: Int64 = 0
        /// Reads one result row, cell `n` from `cell(n)` (a row's cells and column, no cells for a
        /// null); `text` is the row as the rejects file shows it.
        func take(_ position: Int64?, _ cell: (Int) -> (SQLiteCells?, Int), text: () -> String) throws {
            ordinal += 1
            context.countRead(1)
            let origin = RowOrigin(source: source, position: position ?? ordinal)
            var row = Row()
            row.reserveCapacity(declarations.count)
            for index in readings.indices {
                let (cells, column) = cell(index)
                switch value(cells, column, declaration: index) {
                case .success(let value):
                    row.append(value)
                case .failure(let problem):
                    try context.reject(origin, rule: "sqlite-type", message: problem.message, row: text())
                    return
                }
            }
            tracker?.observe(row)
            try batch.append(row, origin: origin, flushingTo: emit)
        }
        // Only SQLite's own errors name this database; what downstream stages throw passes as it is.
        let step = { (statement: SQLiteStatement) throws -> Bool in
            do { return try statement.step() } catch let error as SQLiteError { throw self.stageError(error) }
        }
        if let merge {
            let sources = merge.sources
            try merge.run(step: step) { left, right in
                let leftCells = left?.cells, rightCells = right?.cells
                func cell(_ index: Int) -> (SQLiteCells?, Int) {
                    let source = sources[index]
                    return (source.right ? rightCells : leftCells, source.index)
                }
                try take(nil, cell) {
                    declarations.indices.map { index in
                        let (cells, column) = cell(index)
                        return cells?.text(column) ?? ""
                    }.joined(separator: "|")
                }
            }
        } else {
            let offset = hasRowid ? 1 : 0
            let cells = statement.cells
            while try step(statement) {
                try take(hasRowid ? cells.int64(0) : nil, { index in (cells, index + offset) }) {
                    (0..<statement.columnCount).map { statement.text($0) }.joined(separator: "|")
                }
            }
        }
        try emit(batch)
        if let tracker { context.recordWatermark(tracker, from: bound) }
    }

    private func stageError(_ error: SQLiteError) -> StageError {
        let name = URL(fileURLWithPath: databasePath).lastPathComponent
        if error.isTemporary {
            return StageError("\(databasePath): database is locked by another process (waited \(busyTimeout) ms); try again later", kind: .temporary)
        }
        if error.isNotADatabase {
            return StageError("\(databasePath): not an SQLite database (\(error.message))")
        }
        return StageError("\(name): \(error)")
    }

    struct Problem: Error { var message: LocalizedText }

    struct CellReading {
        var type: ColumnType
        var nullable: Bool
        var scale: Int?
    }

    /// A cell that does not read as `expected`, a stored REAL quoted in French notation for French readers.
    private func unreadable(_ statement: SQLiteCells, _ index: Int, _ declaration: Int,
                            _ expected: MessageCatalogue.StoredValueExpectation) -> Result<Value, Problem> {
        let declaration = declarations[declaration]
        let french = statement.storage(index) == .real ? MessageCatalogue.frenchNumber(statement.double(index)) : nil
        return .failure(Problem(message: MessageCatalogue.unreadableStoredValue(column: declaration.name, value: statement.text(index),
                                                                                frenchValue: french, expected: expected)))
    }

    /// Reads one cell, undoing Django's SQLite storage quirks.
    /// Reads column `index` of `statement` (nil: a null) as declaration number `declaration` says.
    private func value(_ statement: SQLiteCells?, _ index: Int, declaration: Int) -> Result<Value, Problem> {
        let reading = readings[declaration]
        // The storage class is asked once per cell (sqlite3_column_type is among the read's top costs).
        let storage = statement?.storage(index) ?? .null
        guard let statement, storage != .null else {
            if reading.nullable { return .success(.null) }
            return .failure(Problem(message: MessageCatalogue.nullInRequiredColumn(column: declarations[declaration].name)))
        }
        switch reading.type {
        case .int:
            switch storage {
            case .integer: return .success(.int(statement.int64(index)))
            case .real:
                let double = statement.double(index)
                if double == double.rounded(), abs(double) < 9e15 { return .success(.int(Int64(double))) }
            case .text:
                if let value = Int64(statement.text(index).trimmingCharacters(in: .whitespaces)) { return .success(.int(value)) }
            default: break
            }
            return unreadable(statement, index, declaration, .wholeNumber)
        case .decimal:
            var money: Money?
            switch storage {
            case .integer: money = Money(statement.int64(index))
            case .real: money = Money(storedReal: statement.double(index), scale: reading.scale)
            case .text: money = Money(statement.text(index).trimmingCharacters(in: .whitespaces))
            default: money = nil
            }
            guard var value = money else {
                return unreadable(statement, index, declaration, .decimal)
            }
            if let scale = reading.scale { value = value.scale > scale ? value.rounded(to: scale) : ((try? value.rescaledUp(to: scale)) ?? value) }
            return .success(.decimal(value))
        case .bool:
            if storage == .integer { return .success(.bool(statement.int64(index) != 0)) }
            if let value = parseBool(statement.text(index)) { return .success(.bool(value)) }
            if statement.text(index) == "1" || statement.text(index) == "0" { return .success(.bool(statement.text(index) == "1")) }
            return unreadable(statement, index, declaration, .boolean)
        case .text:
            return .success(.text(statement.text(index)))
        case .date:
            if let date = CivilDate(iso: String(statement.text(index).prefix(10))) { return .success(.date(date)) }
            return unreadable(statement, index, declaration, .date)
        case .datetime:
            if let stamp = statement.withTextBytes(index, parseStoredDatetimeFast) { return .success(.datetime(stamp)) }
            if let stamp = parseStoredDatetime(statement.text(index)) { return .success(.datetime(stamp)) }
            return unreadable(statement, index, declaration, .datetime)
        }
    }
}


