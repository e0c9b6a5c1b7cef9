import Foundation

/// `load: postgres` — writes one stage into a PostgreSQL table by COPY, the whole load in one transaction.
public final class PostgresLoad: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "postgres", role: .load,
        summary: "Writes one stage into a PostgreSQL table with COPY FROM STDIN, streamed, the whole load in one transaction that commits when the stage finishes. `append` adds rows; `replace` loads a new table and swaps it in within that transaction, so readers see the old table or the new one, never half of one; `upsert` loads into a temporary table and merges on `key` (INSERT ... ON CONFLICT). The table is created (types from the stage's columns, decimals as numeric with their scale, datetimes as timestamptz) when it does not exist.",
        options: [
            OptionSpec("connection", .string, required: true, "libpq connection string or URL (see extract postgres)."),
            OptionSpec("table", .string, required: true, "Target table, optionally `schema.table`."),
            OptionSpec("mode", .choice(["append", "replace", "upsert"]), default: "append", "How rows meet the existing table."),
            OptionSpec("key", .list, "Columns identifying a row, for `upsert` (a unique index on them must exist or is created with the table)."),
            OptionSpec("retries", .int, default: "3", "Connection attempts after the first while the server is unreachable."),
        ],
        ports: [PortSpec("rows", "The stage to write.")],
        example: """
        to_warehouse:
          load: postgres
          input: totals
          connection: "${REPORTING_DB}"
          table: reporting.order_totals
          mode: upsert
          key: [code_cmd]
        """)

    let options: PostgresConnectionOptions
    let schemaName: String?
    let tableName: String
    let mode: String
    let key: [String]
    let schema: Schema
    public let outputSchema = Schema([])
    public var countsOwnOutput: Bool { true }
    private var connection: PostgresConnection?
    private var writer: PostgresCopyWriter?
    private var pending: [Batch] = []
    private var line: [UInt8] = []

    init(options: PostgresConnectionOptions, schemaName: String?, tableName: String, mode: String, key: [String], schema: Schema) {
        self.options = options
        self.schemaName = schemaName
        self.tableName = tableName
        self.mode = mode
        self.key = key
        self.schema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let rows = config.input("rows"), let table = config.string("table") else { return nil }
        let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
        guard let tableName = parts.last else {
            config.error("'table' of stage '\(config.id)' names a table, optionally schema.table, found '\(table)'", at: config.node["table"]?.position)
            return nil
        }
        let mode = config.text("mode")
        let key = config.stringList("key") ?? []
        if mode == "upsert" && key.isEmpty {
            config.error("stage '\(config.id)' has mode upsert but no 'key': list the columns that identify a row", at: config.node["mode"]?.position)
            return nil
        }
        for column in key where rows.index(of: column) == nil {
            config.error("key column '\(column)' is not in the input's columns (\(rows.names.joined(separator: ", ")))\(didYouMean(column, rows.names))", at: config.node["key"]?.position)
        }
        return PostgresLoad(options: PostgresConnectionOptions(config.string("connection") ?? "", retries: config.int("retries")),
                            schemaName: parts.count == 2 ? parts.first : nil, tableName: tableName, mode: mode, key: key, schema: rows)
    }

    private func name(_ table: String) -> String { (schemaName.map { quoteIdentifier($0) + "." } ?? "") + quoteIdentifier(table) }

    private func sqlType(_ column: Column) -> String {
        switch column.type {
        case .int: return "bigint"
        case .decimal: return column.scale.map { "numeric(38,\($0))" } ?? "numeric"
        case .text: return "text"
        case .bool: return "boolean"
        case .date: return "date"
        case .datetime: return "timestamp with time zone"
        }
    }

    /// Opens the transaction and the COPY into the table rows go to (the new table for replace, a temporary one for upsert).
    private func start() throws -> PostgresCopyWriter {
        if let writer { return writer }
        let connection = try PostgresConnection(options)
        try connection.execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET client_encoding TO 'UTF8'; SET client_min_messages TO warning; BEGIN")
        let columns = schema.columns.map { "\(quoteIdentifier($0.name)) \(sqlType($0))" }.joined(separator: ", ")
        let uniqueKey = key.isEmpty ? "" : ", UNIQUE (\(key.map(quoteIdentifier).joined(separator: ", ")))"
        try connection.execute("CREATE TABLE IF NOT EXISTS \(name(tableName)) (\(columns)\(uniqueKey))")
        let copyTarget: String
        switch mode {
        case "replace":
            copyTarget = name(tableName + "_stockflow_new")
            try connection.execute("DROP TABLE IF EXISTS \(copyTarget); CREATE TABLE \(copyTarget) (LIKE \(name(tableName)) INCLUDING ALL)")
        case "upsert":
            copyTarget = quoteIdentifier("stockflow_upsert")
            try connection.execute("CREATE TEMPORARY TABLE stockflow_upsert (LIKE \(name(tableName)) INCLUDING DEFAULTS) ON COMMIT DROP")
        default:
            copyTarget = name(tableName)
        }
        let columnList = schema.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let result = try connection.beginCopyIn("COPY \(copyTarget) (\(columnList)) FROM STDIN")
        self.connection = connection
        writer = result
        return result
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        do {
            let writer = try start()
            for row in batch.rows {
                line.removeAll(keepingCapacity: true)
                for (index, value) in row.enumerated() {
                    if index > 0 { line.append(9) }
                    switch value {
                    case .null: line.append(contentsOf: [92, 78])
                    case .bool(let flag): line.append(flag ? UInt8(ascii: "t") : UInt8(ascii: "f"))
                    case .datetime(let stamp):
                        var text: [UInt8] = []
                        appendInstant(stamp, to: &text)
                        line.append(contentsOf: text)
                        line.append(contentsOf: "+00".utf8)
                    default: appendCopyEscaped(Array(value.description.utf8), to: &line)
                    }
                }
                line.append(10)
                try writer.write(line)
            }
            context.countOut(batch.count)
        } catch let error as PostgresError {
            throw StageError("\(name(tableName)): \(error)", kind: error.isTemporary ? .temporary : .failed)
        }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        do {
            _ = try start()
            guard let connection else { return }
            try connection.endCopyIn()
            let columns = schema.columns.map { quoteIdentifier($0.name) }
            switch mode {
            case "replace":
                // Readers keep the old table until this commit, then see the whole new one.
                try connection.execute("DROP TABLE \(name(tableName)); ALTER TABLE \(name(tableName + "_stockflow_new")) RENAME TO \(quoteIdentifier(tableName))")
            case "upsert":
                let updates = columns.filter { !key.map(quoteIdentifier).contains($0) }.map { "\($0) = EXCLUDED.\($0)" }
                try connection.execute("INSERT INTO \(name(tableName)) (\(columns.joined(separator: ", "))) SELECT \(columns.joined(separator: ", ")) FROM stockflow_upsert ON CONFLICT (\(key.map(quoteIdentifier).joined(separator: ", "))) DO \(updates.isEmpty ? "NOTHING" : "UPDATE SET " + updates.joined(separator: ", "))")
            default: break
            }
            try connection.execute("COMMIT")
            self.connection = nil
            writer = nil
        } catch let error as PostgresError {
            throw StageError("\(name(tableName)): \(error)", kind: error.isTemporary ? .temporary : .failed)
        }
    }
}
