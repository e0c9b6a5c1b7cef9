import Foundation

/// `extract: postgres` — streams a table or a query from PostgreSQL in libpq's single-row mode.
public final class PostgresExtract: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "postgres", role: .extract,
        summary: "Streams a table or a query from PostgreSQL (single-row mode, never the whole result in memory) with exact types: integer types as int, numeric as exact decimals with their declared scale, boolean, date, timestamptz as UTC instants (the session runs in UTC whatever the server's zone), json/jsonb as text, bytea as hex text. An unreachable server fails with exit 75 after the retries; the password never appears in messages or run.json.",
        options: [
            OptionSpec("connection", .string, required: true, "libpq connection: `postgres://user@host:port/db?sslmode=require`, `host=... dbname=...`, or empty for the PG* environment variables; passwords best from ~/.pgpass or `${PGPASSWORD}`."),
            OptionSpec("table", .string, "Table to read, optionally `schema.table`. Give `table` or `query`."),
            OptionSpec("query", .string, "SELECT statement to run instead of a table."),
            OptionSpec("retries", .int, default: "3", "Connection attempts after the first while the server is unreachable (1 s, 2 s, 4 s... apart)."),
            IncrementalRead.option,
            OptionSpec("change_query", .string, "For `skip_unchanged`: a query whose result changes whenever the rows read do (e.g. `SELECT max(updated_at), count(*) FROM stock_commande`). Without it a `table` read is fingerprinted by the table's counters in pg_stat_user_tables; a `query` read needs it."),
        ],
        example: """
        orders:
          extract: postgres
          connection: "postgres://reporting@db.internal/stock?sslmode=require"
          query: SELECT code_cmd, produit_id, quantite_cmd, montant_commande, date_commande FROM stock_commande
        """)

    let options: PostgresConnectionOptions
    let sql: String
    let displayName: String
    let scales: [Int?]
    /// The PostgreSQL type of each column, as the server described it (pushdown refuses floats).
    var sourceTypes: [UInt32] = []
    /// The declared precision of each numeric column (`numeric(12,2)`: 12), nil when unconstrained.
    var sourcePrecisions: [Int?] = []
    /// Set when the extract runs inside PostgreSQL with the stages reading it (`pushdown:`).
    var pushed: PushedPart?
    public let outputSchema: Schema
    /// `incremental:`, if any.
    var incremental: IncrementalRead?
    /// The table read (for its statistics), or nil for a query; and `change_query`.
    var fingerprintSource: (table: String?, changeQuery: String?) = (nil, nil)

    init(options: PostgresConnectionOptions, sql: String, displayName: String, schema: Schema, scales: [Int?]) {
        self.options = options
        self.sql = sql
        self.displayName = displayName
        self.scales = scales
        outputSchema = schema
    }

    /// The stockflow column type of a PostgreSQL type OID.
    static func columnType(_ oid: UInt32) -> ColumnType {
        switch oid {
        case PostgresType.int2, PostgresType.int4, PostgresType.int8, PostgresType.oid: return .int
        case PostgresType.numeric, PostgresType.float4, PostgresType.float8: return .decimal
        case PostgresType.bool: return .bool
        case PostgresType.date: return .date
        case PostgresType.timestamp, PostgresType.timestamptz: return .datetime
        default: return .text
        }
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        let table = config.string("table")
        let query = config.string("query")
        if (table == nil) == (query == nil) {
            config.error("stage '\(config.id)' needs exactly one of 'table' or 'query'")
            return nil
        }
        let options = PostgresConnectionOptions(config.string("connection") ?? "", retries: config.int("retries"))
        let sql: String
        if let table {
            sql = "SELECT * FROM " + table.split(separator: ".", maxSplits: 1).map { quoteIdentifier(String($0)) }.joined(separator: ".")
        } else if let query {
            sql = query
        } else {
            return nil
        }
        do {
            let connection = try PostgresConnection(options)
            let columns = try connection.describe(sql)
            var scales: [Int?] = []
            let schema = Schema(columns.map { column in
                let type = columnType(column.type)
                let scale: Int? = column.type == PostgresType.numeric && column.modifier >= 4 ? Int((column.modifier - 4) & 0xffff) : nil
                scales.append(scale)
                return Column(column.name, type, scale: scale)
            })
            let extract = PostgresExtract(options: options, sql: sql, displayName: table ?? "query on \(connection.target)", schema: schema, scales: scales)
            extract.sourceTypes = columns.map(\.type)
            extract.sourcePrecisions = columns.map { $0.type == PostgresType.numeric && $0.modifier >= 4 ? Int((($0.modifier - 4) >> 16) & 0xffff) : nil }
            extract.incremental = IncrementalRead.read(config, schema: schema)
            extract.fingerprintSource = (table, config.string("change_query"))
            return extract
        } catch let error as PostgresError {
            config.diagnostics.error("stage '\(config.id)': \(error)", at: config.node[table == nil ? "query" : "table"]?.position ?? config.position, temporary: error.isTemporary)
            return nil
        } catch {
            config.error("stage '\(config.id)': \(error)")
            return nil
        }
    }

    /// Opens a session whose texts read the same whatever the server's settings: instants in UTC, ISO dates.
    static func openSession(_ options: PostgresConnectionOptions) throws -> PostgresConnection {
        let connection = try PostgresConnection(options)
        // synchronize_seqscans off: a scan of a big table (over a quarter of shared_buffers) would
        // otherwise start where the last or a concurrent scan of it is, and the rows, numbered in the
        // order they come (a reject's `stock_commande:34`), would be numbered from the middle.
        try connection.execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET extra_float_digits TO 1; SET client_encoding TO 'UTF8'; SET synchronize_seqscans TO off")
        return connection
    }

    public func produce(_ context: StageContext, emit: Emit) throws {
        if let pushed { return try pushed.run(context, isExtract: true, emit: emit) }
        let source = context.run.origins.register(displayName, kind: .fileLine)
        var batch = Batch(capacity: Batch.preferredSize)
        var ordinal: Int64 = 0
        let types = outputSchema.columns.map(\.type)
        let columnNames = outputSchema.names
        let bound = incremental.flatMap { context.incrementalBound($0) }
        var tracker = incremental.map(WatermarkTracker.init)
        do {
            let connection = try Self.openSession(options)
            let query = incremental.flatMap { read in bound.map { read.wrap(sql, bound: read.postgresLiteral($0)) } } ?? sql
            try connection.forEachRow(query) { row in
                ordinal += 1
                context.countRead(1)
                let (values, problem) = decodeRow(row, types: types, scales: scales, names: columnNames)
                let origin = RowOrigin(source: source, position: ordinal)
                if let problem {
                    try context.reject(origin, rule: "postgres-type", message: problem, row: (0..<row.count).map { row.text($0) }.joined(separator: "|"))
                    return true
                }
                tracker?.observe(values)
                batch.append(values, origin: origin)
                if batch.count >= Batch.preferredSize {
                    try emit(batch)
                    batch = Batch(capacity: Batch.preferredSize)
                }
                return true
            }
        } catch let error as PostgresError {
            throw StageError("\(displayName): \(error)", kind: error.isTemporary ? .temporary : .failed)
        }
        try emit(batch)
        if let tracker { context.recordWatermark(tracker, from: bound) }
    }
}

/// A row of PostgreSQL text: a live result's (`PostgresRow`) or one kept for later (`TextRow`).
protocol PostgresTextRow {
    func isNull(_ index: Int) -> Bool
    func text(_ index: Int) -> String
}

extension PostgresRow: PostgresTextRow {}

/// A row's values as text (nil for NULL), read from a result and kept (pushdown's queries run ahead).
struct TextRow: PostgresTextRow {
    var values: [String?]

    init(_ row: PostgresRow) { values = (0..<row.count).map { row.isNull($0) ? nil : row.text($0) } }
    init(values: [String?]) { self.values = values }

    func isNull(_ index: Int) -> Bool { !values.indices.contains(index) || values[index] == nil }
    func text(_ index: Int) -> String { values.indices.contains(index) ? values[index] ?? "" : "" }
}

/// Reads one row of PostgreSQL text into typed values (`extract: postgres` and pushed queries alike);
/// the problem, if any, names the first column that does not read as its type.
func decodeRow<R: PostgresTextRow>(_ row: R, types: [ColumnType], scales: [Int?], names: [String]) -> (Row, LocalizedText?) {
    var values = Row()
    values.reserveCapacity(types.count)
    for index in 0..<types.count {
        if row.isNull(index) { values.append(.null); continue }
        let text = row.text(index)
        func unreadable(_ expected: MessageCatalogue.StoredValueExpectation) -> (Row, LocalizedText?) {
            (values, MessageCatalogue.unreadableStoredValue(column: names[index], value: text, expected: expected))
        }
        switch types[index] {
        case .int:
            guard let value = Int64(text) else { return unreadable(.wholeNumber) }
            values.append(.int(value))
        case .decimal:
            guard var value = Money(text) ?? Double(text).flatMap({ Money(shortestRepresentationOf: $0) }) else { return unreadable(.exactDecimal) }
            if let scale = scales[index] { value = (try? value.rescaledUp(to: scale)) ?? value }
            values.append(.decimal(value))
        case .bool: values.append(.bool(text == "t"))
        case .date:
            guard let date = CivilDate(iso: text) else { return unreadable(.date) }
            values.append(.date(date))
        case .datetime:
            // The session runs in UTC, so timestamptz prints with the offset `+00`.
            let local = text.hasSuffix("+00") ? String(text.dropLast(3)) : text
            guard let stamp = parseStoredDatetime(local) else { return unreadable(.datetime) }
            values.append(.datetime(stamp))
        case .text: values.append(.text(text))
        }
    }
    return (values, nil)
}
