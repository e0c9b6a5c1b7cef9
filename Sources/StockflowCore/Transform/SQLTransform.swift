/// `transform: sql` — runs a SQL query over the stage tables named in its inputs, in an embedded
/// in-memory SQLite, for what the built-in rules do not cover.
public final class SQLTransform: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "sql", role: .transform,
        summary: "Loads each input into a table of an in-memory SQLite database (named by its key under `inputs:`) and runs `query` when all inputs are complete. Memory: the inputs are held whole, so use it on small or aggregated stages. Types come back exact: a result column that is a plain input column keeps that column's type; any other result column (an expression) must have its type under `columns`. Decimals are stored as SQLite REAL and read back through their shortest representation at the declared scale, so sums of amounts stay exact to the cent (within 15 significant digits).",
        options: [
            OptionSpec("query", .string, required: true, "A SELECT over the input tables."),
            OptionSpec("columns", .mapping, "Types of computed result columns: `name: type` or `name: {type, scale}`."),
        ],
        ports: [],
        example: """
        big_customers:
          transform: sql
          inputs: {ventes: revenue_by_customer}
          query: SELECT nom_client, chiffre_affaires_net, nb_commandes * 2 AS double_commandes FROM ventes WHERE chiffre_affaires_net > 1000
          columns: {double_commandes: int}
        """, namedInputs: true)

    let tables: [(name: String, schema: Schema)]
    let query: String
    let resultColumns: [Column]
    public let outputSchema: Schema
    public var countsOwnOutput: Bool { true }
    private var database: SQLiteDatabase?
    private var inserts: [SQLiteStatement] = []

    init(tables: [(String, Schema)], query: String, resultColumns: [Column]) {
        self.tables = tables.map { (name: $0.0, schema: $0.1) }
        self.query = query
        self.resultColumns = resultColumns
        outputSchema = Schema(resultColumns)
    }

    public static func inputReferences(_ config: StageConfig) -> [InputReference] {
        guard let inputs = config.node["inputs"] else {
            config.error("stage '\(config.id)' needs 'inputs: {table_name: stage_id, ...}'")
            return []
        }
        guard let entries = inputs.entries else {
            config.error("'inputs' of stage '\(config.id)' maps table names to stage ids, found \(inputs.shapeName)", at: inputs.position)
            return []
        }
        return entries.compactMap { entry in
            guard let stage = entry.value.scalar else {
                config.error("input '\(entry.key)' names a stage, found \(entry.value.shapeName)", at: entry.value.position)
                return nil
            }
            return InputReference(port: entry.key, stage: stage, position: entry.value.position, lookup: false)
        }
    }

    /// The SQLite declared type used for a column, read back by `ColumnType` in `build`.
    static func declaredType(_ type: ColumnType) -> String { "sf_\(type.rawValue)" }

    static func createStatement(_ name: String, _ schema: Schema) -> String {
        "CREATE TABLE \(quoteIdentifier(name)) (" + schema.columns.map { "\(quoteIdentifier($0.name)) \(declaredType($0.type))" }.joined(separator: ", ") + ")"
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        let names = (config.node["inputs"]?.entries ?? []).map(\.key)
        guard names.count == inputs.count, let query = config.string("query") else { return nil }
        let declared = config.node["columns"].map { ColumnDeclaration.read($0, config: config, defaultNullable: true) } ?? []
        do {
            // Prepare the query against empty tables to learn its result columns now, at validation.
            let database = try SQLiteDatabase(path: ":memory:", readOnly: false)
            for (name, schema) in zip(names, inputs) { try database.execute(createStatement(name, schema)) }
            let statement = try database.prepare(query)
            var columns: [Column] = []
            for index in 0..<statement.columnCount {
                let name = statement.columnName(index)
                if let declaration = declared.first(where: { $0.name == name }) {
                    columns.append(declaration.column)
                } else if let type = ColumnType(rawValue: String(statement.declaredType(index).dropFirst(3))),
                          statement.declaredType(index).hasPrefix("sf_") {
                    let scale = inputs.lazy.compactMap { $0.columns.first { $0.name == name }?.scale }.first
                    columns.append(Column(name, type, scale: scale))
                } else {
                    config.error("result column '\(name)' of stage '\(config.id)' is computed; give its type under 'columns' (e.g. columns: {\(name): decimal})", at: config.node["query"]?.position)
                }
            }
            return SQLTransform(tables: Array(zip(names, inputs)), query: query, resultColumns: columns)
        } catch {
            config.error("query of stage '\(config.id)' does not compile: \(error)", at: config.node["query"]?.position)
            return nil
        }
    }

    private func open() throws -> SQLiteDatabase {
        if let database { return database }
        let database = try SQLiteDatabase(path: ":memory:", readOnly: false)
        for table in tables {
            try database.execute(SQLTransform.createStatement(table.name, table.schema))
            let placeholders = Array(repeating: "?", count: table.schema.columns.count).joined(separator: ", ")
            inserts.append(try database.prepare("INSERT INTO \(quoteIdentifier(table.name)) VALUES (\(placeholders))"))
        }
        try database.execute("BEGIN")
        self.database = database
        return database
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        do {
            _ = try open()
            let insert = inserts[port]
            for row in batch.rows {
                insert.reset()
                for (index, value) in row.enumerated() {
                    let position = Int32(index + 1)
                    switch value {
                    case .null: try insert.bindNull(at: position)
                    case .int(let number): try insert.bind(number, at: position)
                    case .decimal(let money): try insert.bind(money.approximateDouble, at: position)
                    case .bool(let flag): try insert.bind(Int64(flag ? 1 : 0), at: position)
                    case .text(let text): try insert.bind(text, at: position)
                    case .date, .datetime: try insert.bind(value.description, at: position)
                    }
                }
                _ = try insert.step()
            }
        } catch let error as SQLiteError {
            throw StageError("stage '\(context.stageID)': \(error)")
        }
        context.countOut(batch.count)
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        do {
            let database = try open()
            let statement = try database.prepare(query)
            var batch = Batch(capacity: Batch.preferredSize)
            while try statement.step() {
                var row = Row()
                for (index, column) in resultColumns.enumerated() {
                    row.append(try read(statement, index, column, stage: context.stageID))
                }
                try batch.append(row, origin: .derived, flushingTo: emit)
            }
            try emit(batch)
        } catch let error as SQLiteError {
            throw StageError("stage '\(context.stageID)': \(error)")
        }
        database = nil
        inserts = []
    }

    private func read(_ statement: SQLiteStatement, _ index: Int, _ column: Column, stage: String) throws -> Value {
        let storage = statement.storage(index)
        if storage == .null { return .null }
        func mismatch() -> StageError {
            StageError("stage '\(stage)': result column '\(column.name)' holds '\(statement.text(index))', not \(column.type.rawValue)")
        }
        switch column.type {
        case .int:
            if storage == .integer { return .int(statement.int64(index)) }
            let double = statement.double(index)
            guard double == double.rounded() else { throw mismatch() }
            return .int(Int64(double))
        case .decimal:
            var value: Money?
            switch storage {
            case .integer: value = Money(statement.int64(index))
            case .real: value = Money(shortestRepresentationOf: statement.double(index))
            default: value = Money(statement.text(index))
            }
            guard var money = value else { throw mismatch() }
            let scale = column.scale ?? 2
            money = money.scale > scale ? money.rounded(to: scale) : try money.rescaledUp(to: scale)
            return .decimal(money)
        case .bool:
            return .bool(statement.int64(index) != 0)
        case .text:
            return .text(statement.text(index))
        case .date:
            guard let date = CivilDate(iso: String(statement.text(index).prefix(10))) else { throw mismatch() }
            return .date(date)
        case .datetime:
            guard let stamp = parseStoredDatetime(statement.text(index)) else { throw mismatch() }
            return .datetime(stamp)
        }
    }
}
