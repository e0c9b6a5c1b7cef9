/// `pushdown:` — whether relational stages run inside PostgreSQL (docs/pushdown.md).
public enum PushdownMode: String, CaseIterable, Sendable {
    /// Every stage runs in-process (the default until the rulebook stages are compiled too).
    case off
    /// What can run in PostgreSQL does; the rest runs in-process.
    case auto
    /// Validation fails at the first extract or transform that cannot run in PostgreSQL.
    case required
}

/// Where each stage of a pipeline runs, and the SQL sent for the stages whose rows come back.
public struct PushdownPlan: Sendable {
    /// Where one stage runs.
    public struct Placement: Sendable {
        /// True when the stage runs inside PostgreSQL.
        public var inPostgres: Bool
        /// Why it stays in-process (nil when pushed, and for loads).
        public var reason: String?
        /// For a pushed stage whose rows a stage in-process reads: the query that returns them.
        public var sql: String?
        /// For a pushed rulebook stage: the query selecting its rejects and findings.
        public var issuesSQL: String?
    }

    /// The setting the plan was made for.
    public var mode: PushdownMode
    /// Per stage id.
    public var placements: [String: Placement] = [:]
    /// Per database: the query that counts every pushed stage's rows.
    public var countQueries: [String] = []
}

/// One pushed stage, as a common table expression: columns `c1...cN` then the row's origin (`__src`,
/// the index of the extract it came from, and `__ord`, its row number there) and `__seq`, its place
/// in the order the stage emits rows in-process.
struct PushedRelation {
    /// The CTE's name.
    var name: String
    /// Its body (a SELECT).
    var body: String
    /// The database it lives in (the extract's connection text).
    var database: String
    /// The pushed stages it reads, in run order (itself last).
    var needs: [String]
    /// Its stage's id.
    var id: String { needs.last ?? "" }
    /// The stages it reads (their ids, by input port).
    var inputIDs: [String] = []
    /// Its counters: rows in, rows out, rows filtered, rows emitted; and the filter reason.
    var counts: (rowsIn: RowCount, rowsOut: RowCount, filtered: RowCount, emitted: RowCount)
    var filteredReason: String?
    /// Why the stage's order cannot be reproduced in SQL (an aggregate emits its groups sorted by
    /// folded text): only its rows leave PostgreSQL, sorted in-process by `sortRows`, and no pushed
    /// stage reads them. Nil when SQL orders them.
    var unorderedReason: String?
    var sortRows: (@Sendable ([Row]) -> [Row])?
    /// The column holding, per row, how many input rows it stands for (trends' orders per period):
    /// when the rows come back their sum is the rows out, counted without another pass.
    var rowsOutColumn: Int?
    /// For extracts: the rows whose values stockflow cannot read (NaN, infinities).
    var unreadable: RowCount?
    /// True for extracts: its rows are numbered in the order a scan of the table returns them.
    var readsTable = false
    /// CTEs the stage's own CTE reads, written before it.
    var helpers: [(name: String, body: String)] = []
    /// For rulebook stages: the rows to reject or list as findings, replayed in-process.
    var issues: [PushedIssues] = []
    /// Further counts, and what the stage makes of them (filter reasons, notes), after the others.
    var extraCounts: [RowCount] = []
    var applyExtraCounts: (([Int], StageContext) -> Void)?
    /// The body without the windows that number the rows (`__ord` and `__seq` null), used in a query
    /// where nothing reads the stage's order nor its rows' origins (an aggregate reads them, or only
    /// their number is counted): PostgreSQL then streams, inlines, parallelises and spares a sort.
    var unorderedBody: String?
    /// Whether the stage reads its inputs' order (their `__seq`) when its own order matters; false
    /// for aggregates and trends, whose groups come out in key order whatever the input order.
    var readsInputOrder = true
    /// Inputs whose order the stage reads even when its own order does not matter (order_totals'
    /// products: of two rows with the same key the last one wins).
    var orderedInputs: Set<Int> = []
    /// For a select: the SQL of its columns over its input, the input's name, and its period columns
    /// (by position), which an aggregate grouping by them labels after grouping.
    var projection: (input: String, columns: [String], periods: [Int: PeriodColumn])?
    /// For extracts: the unreadable values' condition over the relation's own columns (`c1...`), so
    /// that a relation holding each of its rows once can count them in its own scan.
    var unreadableColumns: String?
    /// A relation with exactly one row per row of the extract `of` (order_totals' priced and checked
    /// orders), and all its columns: the count query counts that extract in this relation's scan.
    var rowsOf: (of: String, from: String)?
}

/// A number of rows of a pushed stage, as the count query computes it: scans of the same relation
/// are one pass (`count(*)` and `count(*) FILTER (...)` side by side), and a stage whose count is
/// that of its input reads it instead of counting again.
indirect enum RowCount {
    case zero
    /// The rows the pushed stage of that id emits.
    case emitted(String)
    /// An aggregate (`count(*)`, `count(*) FILTER (WHERE ...)`) over a FROM clause.
    case scan(from: String, aggregate: String)
    case sum(RowCount, RowCount)
    case difference(RowCount, RowCount)

    static func count(_ from: String, where condition: String? = nil) -> RowCount {
        .scan(from: from, aggregate: condition.map { "count(*) FILTER (WHERE \($0))" } ?? "count(*)")
    }

    /// The count with every `emitted` replaced by its stage's own count, down to scans.
    func resolved(_ relations: [String: PushedRelation]) -> RowCount {
        switch self {
        case .zero, .scan: return self
        case .emitted(let id): return relations[id]?.counts.emitted.resolved(relations) ?? .zero
        case .sum(let a, let b): return .sum(a.resolved(relations), b.resolved(relations))
        case .difference(let a, let b): return .difference(a.resolved(relations), b.resolved(relations))
        }
    }

    /// The scans it reads, in order.
    var scans: [(from: String, aggregate: String)] {
        switch self {
        case .zero, .emitted: return []
        case .scan(let from, let aggregate): return [(from, aggregate)]
        case .sum(let a, let b), .difference(let a, let b): return a.scans + b.scans
        }
    }

    /// Its value, given the number each scan gave (keyed by `from` then `aggregate`).
    func value(_ numbers: [String: [String: Int]]) -> Int {
        switch self {
        case .zero, .emitted: return 0
        case .scan(let from, let aggregate): return numbers[from]?[aggregate] ?? 0
        case .sum(let a, let b): return a.value(numbers) + b.value(numbers)
        case .difference(let a, let b): return a.value(numbers) - b.value(numbers)
        }
    }
}

/// The rows a pushed rulebook stage rejects or lists as findings: a query selecting them (in the order
/// the stage meets them) with what the stage needs to decide and word them, and the stage's own code
/// that records them, so the messages, rules and source rows are the in-process ones.
struct PushedIssues {
    /// The SELECT (after the WITH of the stage's CTEs), ending with `__src, __ord`.
    var select: String
    /// The columns before `__src, __ord`.
    var schema: Schema
    /// Records the row's reject or finding.
    var replay: (Row, RowOrigin, StageContext) throws -> Void
}

/// Compiles the stages of a pipeline that can run inside PostgreSQL and rewires them to do so.
enum PushdownPlanner {
    /// The SQL column names of a relation of `width` columns.
    static func columnNames(_ width: Int) -> [String] { (0..<width).map { "c\($0 + 1)" } }

    /// Plans `stages` under `mode`; pushed transforms get a runner that runs their SQL, pushed
    /// extracts learn their part. Under `required` the first stage that cannot be pushed is an error.
    static func apply(_ stages: [PlannedStage], settings: PipelineSettings, diagnostics: DiagnosticCollector) -> ([PlannedStage], PushdownPlan) {
        var plan = PushdownPlan(mode: settings.pushdown)
        guard settings.pushdown != .off else {
            for stage in stages where stage.spec.role != .load {
                plan.placements[stage.id] = .init(inPostgres: false, reason: "pushdown: off")
            }
            return (stages, plan)
        }
        var relations: [String: PushedRelation] = [:]
        var extracts: [String: [String]] = [:]  // database → extract ids, in run order (the __src index)
        let schemas = Dictionary(stages.map { ($0.id, $0.runner.outputSchema) }, uniquingKeysWith: { first, _ in first })
        for stage in stages where stage.spec.role != .load {
            do {
                let relation = try compile(stage, relations: relations, schemas: schemas, extracts: &extracts, timezone: settings.timezone)
                relations[stage.id] = relation
                plan.placements[stage.id] = .init(inPostgres: true)
            } catch let refusal as PushdownRefusal {
                plan.placements[stage.id] = .init(inPostgres: false, reason: refusal.reason)
            } catch {
                plan.placements[stage.id] = .init(inPostgres: false, reason: "\(error)")
            }
        }
        if settings.pushdown == .required,
           let first = stages.first(where: { $0.spec.role != .load && plan.placements[$0.id]?.inPostgres != true }) {
            diagnostics.error("pushdown: required, but stage '\(first.id)' (\(first.spec.role.rawValue): \(first.spec.kind)) cannot run in PostgreSQL: \(plan.placements[first.id]?.reason ?? "not compiled"); set 'pushdown: auto' to run it in-process",
                              at: first.position ?? settings.pushdownPosition)
            return (stages, plan)
        }
        // The pushed stages whose rows something in-process reads send them back; the others only count.
        let readers = Dictionary(grouping: stages.flatMap { stage in stage.inputs.map { ($0.stage, stage.id) } }, by: \.0)
        func isExit(_ id: String) -> Bool {
            (readers[id] ?? []).contains { relations[$0.1] == nil }
        }
        var regions: [String: PushedRegion] = [:]
        for (database, ids) in extracts.sorted(by: { $0.key < $1.key }) {
            let members = stages.filter { relations[$0.id]?.database == database }
            let region = PushedRegion(database: database, sources: ids.map { id in
                (stages.first { $0.id == id }?.runner as? PostgresExtract)?.displayName ?? id
            })
            (region.countSQL, region.countLayout, region.memberCounts) = countQuery(
                members.compactMap { relations[$0.id] }, relations: relations,
                skipped: { member in (isExit(member.id), isExit(member.id) && member.rowsOutColumn != nil) })
            region.members = members.compactMap { stage in relations[stage.id].map { (stage.id, $0) } }
            region.exitCount = members.filter { isExit($0.id) }.count
            regions[database] = region
            plan.countQueries.append(region.countSQL)
        }
        var rewired = stages
        for index in rewired.indices {
            let stage = rewired[index]
            guard let relation = relations[stage.id], let region = regions[relation.database] else { continue }
            let exitSQL = isExit(stage.id) ? dataQuery(for: stage.id, relations: relations) : nil
            plan.placements[stage.id]?.sql = exitSQL
            let part = PushedPart(stageID: stage.id, region: region, dataSQL: exitSQL, schema: stage.runner.outputSchema,
                                  sortRows: relation.unorderedReason == nil ? nil : relation.sortRows)
            part.rowsOutColumn = exitSQL == nil ? nil : relation.rowsOutColumn
            if !relation.issues.isEmpty {
                // The rejects and findings are met in the order of the stage's inputs.
                let cte = with(relation.needs, relations: relations, ordered: Set(relation.inputIDs + [stage.id]))
                part.issues = relation.issues.map { (cte + "\n" + $0.select, $0) }
                plan.placements[stage.id]?.issuesSQL = part.issues.map(\.sql).joined(separator: ";\n")
            }
            part.applyExtraCounts = relation.applyExtraCounts
            // Small results run ahead on the region's two connections: rejects and findings, groups.
            region.aheadSQL += part.issues.map(\.sql) + (exitSQL.map { relation.readsInputOrder ? [] : [$0] } ?? [])
            if let extract = stage.runner as? PostgresExtract {
                extract.pushed = part
            } else {
                rewired[index].runner = PushedStage(part: part, original: stage.runner)
            }
        }
        return (rewired, plan)
    }

    /// The pushed form of one stage, or the reason it has none.
    private static func compile(_ stage: PlannedStage, relations: [String: PushedRelation], schemas: [String: Schema],
                                extracts: inout [String: [String]], timezone: String) throws -> PushedRelation {
        let name = quoteIdentifier("s_" + stage.id)
        let inputs = try stage.inputs.map { input -> PushedRelation in
            guard let relation = relations[input.stage] else { throw PushdownRefusal("its input '\(input.stage)' runs in-process") }
            if let reason = relation.unorderedReason { throw PushdownRefusal("its input '\(input.stage)' \(reason)") }
            return relation
        }
        let databases = Set(inputs.map(\.database))
        guard databases.count <= 1 else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let needs = inputs.flatMap(\.needs)
        var seen = Set<String>()
        let uniqueNeeds = needs.filter { seen.insert($0).inserted } + [stage.id]
        func make(_ body: String, counts: (RowCount, RowCount, RowCount, RowCount), database: String) -> PushedRelation {
            PushedRelation(name: name, body: body, database: database, needs: uniqueNeeds, inputIDs: stage.inputs.map(\.stage),
                           counts: (counts.0, counts.1, counts.2, counts.3))
        }
        switch stage.runner {
        case let extract as PostgresExtract:
            var list = extracts[extract.options.conninfo, default: []]
            let relation = try extractRelation(extract, name: name, source: list.count, needs: uniqueNeeds)
            list.append(stage.id)
            extracts[extract.options.conninfo] = list
            return relation
        case let filter as Filter:
            let input = inputs[0]
            let condition = try ExpressionSQL(columns: columnNames(filter.outputSchema.columns.count), schema: filter.outputSchema,
                                              timezone: timezone).compile(filter.condition)
            let rowsIn = RowCount.emitted(input.id), rowsOut = RowCount.count(input.name, where: condition)
            var relation = make("SELECT * FROM \(input.name) WHERE \(condition)",
                                counts: (rowsIn, rowsOut, .difference(rowsIn, rowsOut), rowsOut), database: input.database)
            relation.filteredReason = "not (\(filter.condition))"
            return relation
        case let select as Select:
            let input = inputs[0]
            guard let schema = stage.inputs.first.flatMap({ schemas[$0.stage] }) else { throw PushdownRefusal("its input schema is unknown") }
            let compiler = ExpressionSQL(columns: columnNames(schema.columns.count), schema: schema, timezone: timezone)
            let compiled = try select.expressions.map { try compiler.compile($0) }
            let columns = compiled.enumerated().map { "\($1) AS c\($0 + 1)" }
            let count = RowCount.emitted(input.id)
            var relation = make("SELECT \((columns + ["__src", "__ord", "__seq"]).joined(separator: ", ")) FROM \(input.name)",
                                counts: (count, count, .zero, count), database: input.database)
            var periods: [Int: PeriodColumn] = [:]
            for (index, expression) in select.expressions.enumerated() {
                periods[index] = try PeriodColumn.of(expression, compiler: compiler, schema: schema)
            }
            relation.projection = (input.name, compiled, periods)
            return relation
        case let join as Join:
            return try joinRelation(join, left: inputs[0], right: inputs[1], make: make)
        case let totals as OrderTotals:
            guard let products = stage.inputs.dropFirst().first.flatMap({ schemas[$0.stage] }) else {
                throw PushdownRefusal("its products schema is unknown")
            }
            return try orderTotalsRelation(totals, name: name, orders: inputs[0], products: inputs[1], productsSchema: products, make: make)
        case let trends as Trends:
            guard let schema = stage.inputs.first.flatMap({ schemas[$0.stage] }) else { throw PushdownRefusal("its input schema is unknown") }
            return try trendsRelation(trends, name: name, input: inputs[0], schema: schema, timezone: timezone, make: make)
        case let customers as Customers:
            guard let sales = stage.inputs.first.flatMap({ schemas[$0.stage] }),
                  let known = stage.inputs.dropFirst().first.flatMap({ schemas[$0.stage] }) else {
                throw PushdownRefusal("its input schemas are unknown")
            }
            return try customersRelation(customers, name: name, sales: inputs[0], customers: inputs[1], salesSchema: sales,
                                         customersSchema: known, timezone: timezone, make: make)
        case let rollup as WarehouseRollup:
            guard let warehouses = stage.inputs.dropFirst(2).first.flatMap({ schemas[$0.stage] }) else {
                throw PushdownRefusal("its warehouses schema is unknown")
            }
            return try warehouseRollupRelation(rollup, name: name, inputs: inputs, warehousesSchema: warehouses, make: make)
        case let invoices as Invoices:
            guard let products = stage.inputs.dropFirst().first.flatMap({ schemas[$0.stage] }),
                  let returns = stage.inputs.dropFirst(2).first.flatMap({ schemas[$0.stage] }) else { throw PushdownRefusal("its input schemas are unknown") }
            return try invoicesRelation(invoices, name: name, inputs: inputs, productsSchema: products, returnsSchema: returns, make: make)
        case let suppliers as Suppliers:
            let known = stage.inputs.compactMap { schemas[$0.stage] }
            guard known.count == 4 else { throw PushdownRefusal("its input schemas are unknown") }
            return try suppliersRelation(suppliers, name: name, inputs: inputs, schemas: known, make: make)
        case let returns as Returns:
            return try returnsRelation(returns, name: name, input: inputs[0], make: make)
        case let aggregate as Aggregate:
            guard let schema = stage.inputs.first.flatMap({ schemas[$0.stage] }) else { throw PushdownRefusal("its input schema is unknown") }
            return try aggregateRelation(aggregate, name: name, input: inputs[0], schema: schema, timezone: timezone, make: make)
        default:
            throw PushdownRefusal(notCompiled(stage.spec))
        }
    }

    /// Why a kind has no SQL form (yet).
    private static func notCompiled(_ spec: StageSpec) -> String {
        switch (spec.role, spec.kind) {
        case (.extract, "csv"): return "it reads a CSV file, not PostgreSQL"
        case (.extract, "postgres"): return "its read cannot be pushed"
        case (.extract, _): return "it reads \(spec.kind), not PostgreSQL"
        case (.transform, "sql"): return "the sql transform's query is in SQLite's dialect, whose translation to PostgreSQL is not done yet"
        default: return "\(spec.kind) is not compiled to SQL yet"
        }
    }

    /// An extract's rows with their row numbers; integer columns widened to bigint (stockflow's int),
    /// text-like columns (json, bytea, uuid...) read as the text the extract would show.
    private static func extractRelation(_ extract: PostgresExtract, name: String, source: Int, needs: [String]) throws -> PushedRelation {
        if extract.incremental != nil {
            throw PushdownRefusal("it reads incrementally (its watermark is kept in-process)")
        }
        let columns = extract.outputSchema.columns
        let inner = columnNames(columns.count).map { "t_" + $0 }
        var selected: [String] = []
        var unreadable: [String] = [], unreadableColumns: [String] = []
        for (index, column) in columns.enumerated() {
            let oid = extract.sourceTypes.indices.contains(index) ? extract.sourceTypes[index] : 0
            let value = inner[index]
            if oid == PostgresType.float4 || oid == PostgresType.float8 {
                throw PushdownRefusal("column '\(column.name)' is a binary float, read in-process through its shortest decimal text")
            }
            switch column.type {
            case .int: selected.append("\(value)::int8")
            case .text: selected.append("\(value)::text")
            case .datetime where oid == PostgresType.timestamp:
                // In-process a timestamp without zone is read as UTC.
                selected.append("(\(value) AT TIME ZONE 'UTC')")
                unreadable.append("NOT isfinite(\(value)) OR \(value) < '0001-01-01' OR \(value) >= '10000-01-01'")
                // The same instants, read as UTC.
                unreadableColumns.append("NOT isfinite(c\(index + 1)) OR c\(index + 1) < '0001-01-01 00:00:00+00' OR c\(index + 1) >= '10000-01-01 00:00:00+00'")
            case .datetime:
                selected.append(value)
                unreadable.append("NOT isfinite(\(value)) OR \(value) < '0001-01-01 00:00:00+00' OR \(value) >= '10000-01-01 00:00:00+00'")
                unreadableColumns.append(unreadable[unreadable.count - 1].replacingOccurrences(of: value, with: "c\(index + 1)"))
            case .date:
                selected.append(value)
                unreadable.append("NOT isfinite(\(value)) OR \(value) < '0001-01-01' OR \(value) > '9999-12-31'")
                unreadableColumns.append(unreadable[unreadable.count - 1].replacingOccurrences(of: value, with: "c\(index + 1)"))
            case .decimal:
                selected.append(value)
                // NaN and infinities, and more digits than stockflow's 64-bit decimals hold, are rejected in-process.
                if let precision = extract.sourcePrecisions.indices.contains(index) ? extract.sourcePrecisions[index] : nil, precision <= 17 {
                    // A declared precision of at most 17 holds at most 18 digits with a leading zero,
                    // and no infinity (PostgreSQL refuses them there): only NaN, compared as a number
                    // rather than printed for every row.
                    unreadable.append("\(value) = 'NaN'::numeric")
                } else {
                    unreadable.append("\(value)::text IN ('NaN', 'Infinity', '-Infinity') OR length(translate(\(value)::text, '-.', '')) > 18")
                }
                unreadableColumns.append(unreadable[unreadable.count - 1].replacingOccurrences(of: value, with: "c\(index + 1)"))
            case .bool: selected.append(value)
            }
        }
        let outputs = zip(selected, columnNames(columns.count)).map { "\($0) AS \($1)" }
        let from = "(\(extract.sql)) AS t(\(inner.joined(separator: ", ")))"
        // Two row_number()s over the same window number the rows alike: the origin and the order.
        let all = outputs + ["\(source) AS __src", "row_number() OVER () AS __ord", "row_number() OVER () AS __seq"]
        let unordered = outputs + ["\(source) AS __src", "NULL::int8 AS __ord", "NULL::int8 AS __seq"]
        // The rows and the unreadable ones are counted in one pass over the table itself.
        let count = RowCount.count(from)
        var relation = PushedRelation(name: name, body: "SELECT \(all.joined(separator: ", ")) FROM \(from)",
                                      database: extract.options.conninfo, needs: needs, counts: (count, count, .zero, count))
        relation.unorderedBody = "SELECT \(unordered.joined(separator: ", ")) FROM \(from)"
        relation.readsTable = true
        relation.unreadable = unreadable.isEmpty ? .zero : .count(from, where: unreadable.map { "(\($0))" }.joined(separator: " OR "))
        relation.unreadableColumns = unreadableColumns.isEmpty ? nil : unreadableColumns.map { "(\($0))" }.joined(separator: " OR ")
        return relation
    }

    /// A join as SQL: the left rows in their order, each with its matches in right order; a full join's
    /// unmatched right rows last. Null keys match nothing, as in-process.
    private static func joinRelation(_ join: Join, left: PushedRelation, right: PushedRelation,
                                     make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        guard left.database == right.database else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let leftWidth = join.outputSchema.columns.count - join.added.count
        let on = zip(join.leftKeys, join.rightKeys).map { "l.c\($0 + 1) = r.c\($1 + 1)" }.joined(separator: " AND ")
        var columns = columnNames(leftWidth).map { "l.\($0)" }
        columns += join.added.map { "r.c\($0 + 1)" }
        columns = columns.enumerated().map { "\($1) AS c\($0 + 1)" }
        let kind: String
        switch join.type {
        case .inner: kind = "JOIN"
        case .left: kind = "LEFT JOIN"
        case .full: kind = "FULL JOIN"
        }
        columns += ["CASE WHEN l.__seq IS NULL THEN r.__src ELSE l.__src END AS __src",
                    "CASE WHEN l.__seq IS NULL THEN r.__ord ELSE l.__ord END AS __ord"]
        let from = " FROM \(left.name) AS l \(kind) \(right.name) AS r ON \(on)"
        let body = "SELECT \((columns + ["row_number() OVER (ORDER BY l.__seq NULLS LAST, r.__seq) AS __seq"]).joined(separator: ", "))" + from
        let leftCount = RowCount.emitted(left.id)
        // EXISTS in WHERE, where PostgreSQL plans it as a (hashed) semi-join.
        let matched = RowCount.count("\(left.name) AS l WHERE EXISTS (SELECT 1 FROM \(right.name) AS r WHERE \(on))")
        let unmatchedRight = RowCount.count("\(right.name) AS r WHERE NOT EXISTS (SELECT 1 FROM \(left.name) AS l WHERE \(on))")
        // Rows emitted beyond one per left row (and the unmatched right ones): a left row matching m
        // right rows emits m - 1 more. Only the right keys held more than once join: when the right
        // keys are unique (a lookup table) that set is empty and PostgreSQL skips the left scan.
        let rightKeys = join.rightKeys.map { "c\($0 + 1)" }
        let repeated = "(SELECT \(rightKeys.joined(separator: ", ")), count(*) - 1 AS __extra FROM \(right.name) GROUP BY \(rightKeys.joined(separator: ", ")) HAVING count(*) > 1) AS r"
        let extra = RowCount.scan(from: "\(left.name) AS l JOIN \(repeated) ON \(on)", aggregate: "coalesce(sum(r.__extra), 0)::int8")
        var relation: PushedRelation
        switch join.type {
        case .inner: relation = make(body, (leftCount, matched, .difference(leftCount, matched), .sum(matched, extra)), left.database)
        case .left: relation = make(body, (leftCount, leftCount, .zero, .sum(leftCount, extra)), left.database)
        case .full:
            let rows = RowCount.sum(leftCount, unmatchedRight)
            relation = make(body, (rows, rows, .zero, .sum(rows, extra)), left.database)
        }
        relation.filteredReason = "no match in the right input"
        relation.unorderedBody = "SELECT \((columns + ["NULL::int8 AS __seq"]).joined(separator: ", "))" + from
        return relation
    }

    /// An aggregate as SQL. Sums of nothing are 0 (in the input's scale once read back), minimums and
    /// maximums of text compare bytes, of booleans false < true.
    private static func aggregateRelation(_ aggregate: Aggregate, name: String, input: PushedRelation, schema: Schema, timezone: String,
                                          make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let keys = aggregate.keys.map { "c\($0 + 1)" }
        var columns = keys
        for measure in aggregate.measures {
            let column = measure.column.map { "c\($0 + 1)" } ?? ""
            let type = measure.column.map { schema.columns[$0].type }
            let text = type == .text ? "\(column) COLLATE \"C\"" : column
            switch measure.function {
            case .sum: columns.append(type == .int ? "coalesce(sum(\(column)), 0)::int8" : "coalesce(sum(\(column)), 0)")
            case .count: columns.append(measure.column == nil ? "count(*)" : "count(\(column))")
            case .count_true:
                guard type == .bool else { throw PushdownRefusal("count_true reads a \(type?.rawValue ?? "missing") column (in-process that counts nothing)") }
                columns.append("count(*) FILTER (WHERE \(column))")
            case .min: columns.append(type == .bool ? "bool_and(\(column))" : "min(\(text))")
            case .max: columns.append(type == .bool ? "bool_or(\(column))" : "max(\(text))")
            case .count_distinct: columns.append("count(DISTINCT \(text))")
            }
        }
        var named = columns.enumerated().map { "\($1) AS c\($0 + 1)" }
        let textKeys = aggregate.keys.contains { schema.columns[$0].type == .text }
        var order = keys.isEmpty ? "" : "ORDER BY " + keys.map { "\($0) NULLS FIRST" }.joined(separator: ", ")
        var grouping = " FROM \(input.name)" + (keys.isEmpty ? "" : " GROUP BY \(keys.joined(separator: ", "))")
        if let after = try periodsAfterGrouping(aggregate, input: input, schema: schema, timezone: timezone) {
            (named, grouping) = (after.columns, after.grouping)
            order = "ORDER BY " + after.keys.map { "\($0) NULLS FIRST" }.joined(separator: ", ")
        }
        let body = "SELECT \((named + ["NULL::int AS __src", "NULL::int8 AS __ord", "row_number() OVER (\(order)) AS __seq"]).joined(separator: ", "))" + grouping
        let count = RowCount.emitted(input.id)
        var relation = make(body, (count, count, .zero, .count(name)), input.database)
        relation.unorderedBody = "SELECT \((named + ["NULL::int AS __src", "NULL::int8 AS __ord", "NULL::int8 AS __seq"]).joined(separator: ", "))" + grouping
        if textKeys {
            relation.unorderedReason = "is an aggregate grouped by text, whose groups are sorted accent- and case-folded in-process, an order PostgreSQL cannot reproduce"
            let width = keys.count
            relation.sortRows = { rows in
                Aggregate.sortedGroups(rows.flatMap { $0.prefix(width) }, width: width, count: rows.count).map { rows[$0] }
            }
        }
        relation.readsInputOrder = false
        return relation
    }

    /// An aggregate grouping by a select's period column (the month, week, year or day of an instant or
    /// a date) computed after grouping: the select's input grouped by the period's pieces of time
    /// (PeriodPieces) or its date and the other keys, with partial measures; then the pieces labelled
    /// and their groups folded into the periods. The same groups and figures, with a label per piece
    /// instead of per row. Nil where that does not hold or does not pay: no period key, a measure
    /// reading a period column, `count_distinct` (which does not fold), a zone without pieces.
    private static func periodsAfterGrouping(_ aggregate: Aggregate, input: PushedRelation, schema: Schema, timezone: String) throws
        -> (columns: [String], keys: [String], grouping: String)? {
        guard let projection = input.projection, aggregate.keys.contains(where: { projection.periods[$0] != nil }) else { return nil }
        let pieces = PeriodPieces(timezone: timezone)
        var inner: [String] = [], innerNames: [String] = [], outer: [String] = []
        for (position, key) in aggregate.keys.enumerated() {
            guard projection.columns.indices.contains(key) else { return nil }
            if let period = projection.periods[key] {
                guard let keys = period.keys(pieces) else { return nil }
                let names = keys.indices.map { "__k\(position)_\($0)" }
                inner += zip(keys, names).map { "\($0) AS \($1)" }
                innerNames += names
                outer.append(try period.label(names, pieces: pieces, timezone: timezone))
            } else {
                inner.append("\(projection.columns[key]) AS __k\(position)")
                innerNames.append("__k\(position)")
                outer.append("__k\(position)")
            }
        }
        var partial: [String] = [], folded: [String] = []
        for (index, measure) in aggregate.measures.enumerated() {
            if let column = measure.column, projection.periods[column] != nil || !projection.columns.indices.contains(column) { return nil }
            let value = measure.column.map { projection.columns[$0] } ?? ""
            let type = measure.column.map { schema.columns[$0].type }
            let text = type == .text ? "\(value) COLLATE \"C\"" : value
            let part = "__m\(index)", partText = type == .text ? "__m\(index) COLLATE \"C\"" : "__m\(index)"
            switch measure.function {
            case .sum:
                partial.append("sum(\(value))")
                folded.append(type == .int ? "coalesce(sum(\(part)), 0)::int8" : "coalesce(sum(\(part)), 0)")
            case .count:
                partial.append(measure.column == nil ? "count(*)" : "count(\(value))")
                folded.append("sum(\(part))::int8")
            case .count_true:
                guard type == .bool else { return nil }
                partial.append("count(*) FILTER (WHERE \(value))")
                folded.append("sum(\(part))::int8")
            case .min:
                partial.append(type == .bool ? "bool_and(\(value))" : "min(\(text))")
                folded.append(type == .bool ? "bool_and(\(part))" : "min(\(partText))")
            case .max:
                partial.append(type == .bool ? "bool_or(\(value))" : "max(\(text))")
                folded.append(type == .bool ? "bool_or(\(part))" : "max(\(partText))")
            case .count_distinct:
                return nil
            }
        }
        let columns = (outer + folded).enumerated().map { "\($1) AS c\($0 + 1)" }
        let grouped = "SELECT \((inner + partial.enumerated().map { "\($1) AS __m\($0)" }).joined(separator: ", ")) FROM \(projection.input) "
            + "GROUP BY \(innerNames.joined(separator: ", "))"
        return (columns, outer, " FROM (\(grouped)) AS g GROUP BY \(outer.indices.map { "\($0 + 1)" }.joined(separator: ", "))")
    }

    /// Rule 7 as SQL: orders and revenue per period label of the order date in the pipeline's time zone
    /// (the labels of the expression functions month, iso_week and day), periods in text order, the
    /// revenue to the cent at least; rows without a date are filtered, as in-process.
    private static func trendsRelation(_ trends: Trends, name: String, input: PushedRelation, schema: Schema, timezone: String,
                                       make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let date = Expression.column(trends.date, schema.columns[trends.date].name)
        let compiler = ExpressionSQL(columns: columnNames(schema.columns.count), schema: schema, timezone: timezone)
        let label: String
        switch trends.period {
        case .day: label = try ExpressionSQL.plainText(compiler.compile(.call("day", [date])), .date)
        case .week: label = try compiler.compile(.call("iso_week", [date]))
        case .month: label = try compiler.compile(.call("month", [date]))
        }
        let dated = "c\(trends.date + 1) IS NOT NULL"
        let amount = "c\(trends.amount + 1)"
        var measures = "SELECT \(label) AS c1, count(*)::int8 AS c2, coalesce(sum(\(amount)), 0) + 0.00::numeric AS c3, NULL::int AS __src, NULL::int8 AS __ord, "
        var grouping = " FROM \(input.name) WHERE \(dated) GROUP BY 1"
        var ordered = label
        // Periods after grouping: the rows grouped by pieces of time (or by date), then labelled.
        let period = PeriodColumn(function: trends.period == .day ? "day" : trends.period == .week ? "iso_week" : "month",
                                  argument: "c\(trends.date + 1)", type: schema.columns[trends.date].type)
        if let keys = period.keys(PeriodPieces(timezone: timezone)) {
            let names = keys.indices.map { "__p\($0)" }
            var grouped = try period.label(names, pieces: PeriodPieces(timezone: timezone), timezone: timezone)
            if trends.period == .day { grouped = try ExpressionSQL.plainText(grouped, .date) }
            ordered = grouped
            measures = "SELECT \(grouped) AS c1, sum(__n)::int8 AS c2, coalesce(sum(__s), 0) + 0.00::numeric AS c3, NULL::int AS __src, NULL::int8 AS __ord, "
            grouping = " FROM (SELECT \(zip(keys, names).map { "\($0) AS \($1)" }.joined(separator: ", ")), count(*) AS __n, sum(\(amount)) AS __s FROM \(input.name) "
                + "WHERE \(dated) GROUP BY \(names.joined(separator: ", "))) AS g GROUP BY 1"
        }
        let body = measures + "row_number() OVER (ORDER BY \(ordered) COLLATE \"C\") AS __seq" + grouping
        let rowsIn = RowCount.emitted(input.id)
        let rowsOut = RowCount.count(input.name, where: dated)
        var relation = make(body, (rowsIn, rowsOut, .difference(rowsIn, rowsOut), .count(name)), input.database)
        relation.unorderedBody = measures + "NULL::int8 AS __seq" + grouping
        relation.filteredReason = "no order date"
        // Each period counts its dated orders: when the periods come back, their sum is the rows out.
        relation.rowsOutColumn = 1
        relation.readsInputOrder = false
        return relation
    }

    /// `WITH` and the CTEs of `ids`, in run order: the stages in `ordered`, and those whose order or
    /// row origins they read, number their rows; the others do not. Every CTE is inlined
    /// (`NOT MATERIALIZED`) wherever it is read, so that PostgreSQL streams it into the joins and
    /// aggregates that read it (and estimates it from the tables' statistics) rather than writing it
    /// out whole; except an extract numbering its rows, read once and kept, so that two readers see
    /// the same numbers (two scans of a table need not return its rows in the same order).
    static func with(_ ids: [String], relations: [String: PushedRelation], ordered roots: Set<String>) -> String {
        var ordered = roots
        for id in ids.reversed() {
            guard let relation = relations[id] else { continue }
            for (port, input) in relation.inputIDs.enumerated()
            where relation.orderedInputs.contains(port) || (ordered.contains(id) && relation.readsInputOrder) {
                ordered.insert(input)
            }
        }
        return "WITH " + ids.compactMap { relations[$0] }.flatMap { relation in
            let numbered = ordered.contains(relation.id)
            let body = numbered ? relation.body : relation.unorderedBody ?? relation.body
            let inline = numbered && relation.readsTable ? "" : "NOT MATERIALIZED "
            return relation.helpers.map { "\($0.name) AS \(inline)(\($0.body))" } + ["\(relation.name) AS \(inline)(\(body))"]
        }.joined(separator: ",\n")
    }

    /// Rules 1 and 2 as SQL: each order with the last product row of its key (the in-process lookup
    /// keeps the last one; a null key matches a null key, as a dictionary does), the unit price at
    /// least to the cent and the total `round(quantity × unit price, 2)`, half away from zero like
    /// stockflow. The rejected orders and the totals off by more than the tolerance are selected in
    /// order and replayed through order_totals itself, which words them as in-process.
    private static func orderTotalsRelation(_ totals: OrderTotals, name: String, orders: PushedRelation, products: PushedRelation,
                                            productsSchema: Schema,
                                            make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        guard orders.database == products.database else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let orderSchema = totals.orderSchema
        let keyType = orderSchema.columns[totals.productKey].type, productsKeyType = productsSchema.columns[totals.productsKey].type
        guard keyType == productsKeyType else {
            throw PushdownRefusal("its product keys are \(keyType.rawValue) and \(productsKeyType.rawValue), which in-process never match")
        }
        if let stored = totals.storedTotal, orderSchema.columns[stored].type != .decimal {
            throw PushdownRefusal("its stored total is \(orderSchema.columns[stored].type.rawValue), not decimal")
        }
        let priceColumn = productsSchema.columns[totals.price]
        let lastProduct = quoteIdentifier("s_\(name.dropFirst(3).dropLast())__product")
        let checked = quoteIdentifier("s_\(name.dropFirst(3).dropLast())__checked")
        let quantity = "c\(totals.quantity + 1)"
        let lookup = ProductLookupSQL(products: products, lastProduct: lastProduct, key: "c\(totals.productsKey + 1)",
                                      orderKey: "o.c\(totals.productKey + 1)", price: "c\(totals.price + 1)", priceType: priceColumn.type)
        let productSeq = lookup.product("__seq")
        let extras = totals.productColumns.enumerated().map { "\(lookup.product("c\($1 + 1)")) AS __x\($0 + 1)" }
        let helperChecked = "SELECT o.*, \((["\(productSeq) IS NOT NULL AS __matched", "\(lookup.rawPrice) AS __raw_price", "\(lookup.price) AS __price"] + extras).joined(separator: ", ")), "
            + "CASE WHEN \(productSeq) IS NULL THEN 1 WHEN o.\(quantity) IS NULL OR o.\(quantity) < 1 THEN 2 WHEN \(lookup.rawPrice) IS NULL THEN 3 END AS __broken "
            + "FROM \(orders.name) AS o \(lookup.joins)"
        let total = "round(__price * \(quantity), 2)"
        var columns = totals.keptOrderColumns.map { "c\($0 + 1)" }
        columns += totals.productColumns.indices.map { "__x\($0 + 1)" }
        columns += ["__price", total]
        if let stored = totals.storedTotal { columns.append("c\(stored + 1)") }
        let named = columns.enumerated().map { "\($1) AS c\($0 + 1)" } + ["__src", "__ord", "__seq"]
        // `__broken IS NULL` spelt out: PostgreSQL estimates each condition on its own, where a CASE
        // IS NULL it estimates at 0.5 % of the rows (and sorts what it should hash downstream).
        let priced = "__matched AND \(quantity) >= 1 AND __raw_price IS NOT NULL"
        let count = RowCount.emitted(orders.id), out = RowCount.count(checked, where: priced)
        var relation = make("SELECT \(named.joined(separator: ", ")) FROM \(checked) WHERE \(priced)", (count, out, .zero, out), orders.database)
        relation.helpers = [(lastProduct, lookup.lastProductBody), (checked, helperChecked)]
        relation.orderedInputs = [1]
        // One checked row per order (the products deduplicated, at most one null-keyed product).
        relation.rowsOf = (orders.id, checked)
        var mismatch = "false"
        if let stored = totals.storedTotal {
            mismatch = "(c\(stored + 1) IS NOT NULL AND abs(c\(stored + 1) - \(total)) > \(totals.tolerance)::numeric)"
        }
        let orderColumns = columnNames(orderSchema.columns.count)
        let width = orderColumns.count
        relation.issues = [PushedIssues(
            select: "SELECT \((orderColumns + ["__raw_price", "__matched", "__src", "__ord"]).joined(separator: ", ")) FROM \(checked) WHERE __broken IS NOT NULL OR \(mismatch) ORDER BY __seq",
            schema: Schema(orderSchema.columns + [priceColumn, Column("__matched", .bool)]),
            replay: { row, origin, context in
                let order = Array(row.prefix(width))
                var pricing = OrderPricing(productKey: totals.productKey, quantity: totals.quantity)
                if row[width + 1] == .bool(true) { pricing.addProduct(key: order[totals.productKey], price: row[width], extra: []) }
                _ = try totals.line(for: order, origin: origin, pricing: pricing, context: context)
            })]
        return relation
    }

    /// Rule 6 as SQL: per customer key of the sales their orders, net revenue (to the cent at least)
    /// and last order day in the pipeline's time zone; every known customer (the first row of each key)
    /// with its figures or zeros, then the keys no customer row has (`(sans client)`, `(client inconnu
    /// K)`). The rows come back and are sorted in-process by the stage's own order (revenue, then key).
    private static func customersRelation(_ stage: Customers, name: String, sales: PushedRelation, customers: PushedRelation,
                                          salesSchema: Schema, customersSchema: Schema, timezone: String,
                                          make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        guard sales.database == customers.database else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let keyType = customersSchema.columns[stage.customerKey].type
        guard salesSchema.columns[stage.customer].type == keyType, keyType == .int || keyType == .text else {
            throw PushdownRefusal("its customer keys are not both int or both text")
        }
        if let active = stage.customerActive, customersSchema.columns[active].type != .bool {
            throw PushdownRefusal("its is_actif column is not boolean")
        }
        guard customersSchema.columns[stage.customerName].type == .text else { throw PushdownRefusal("its nom_client column is not text") }
        func c(_ index: Int) -> String { "c\(index + 1)" }
        let compiler = ExpressionSQL(columns: columnNames(salesSchema.columns.count), schema: salesSchema, timezone: timezone)
        let day = try compiler.compile(.call("day", [.column(stage.date, salesSchema.columns[stage.date].name)]))
        let stem = String(name.dropFirst(3).dropLast())
        let first = quoteIdentifier("s_\(stem)__known"), totals = quoteIdentifier("s_\(stem)__totals")
        let active = stage.customerActive.map { "k.\(c($0))" } ?? "NULL::boolean"
        let helpers = [
            (first, rowOfEachKey(customers.name, key: c(stage.customerKey), alias: "k", last: false)),
            (totals, "SELECT \(c(stage.customer)) AS key, count(*)::int8 AS orders, coalesce(sum(\(c(stage.amount))), 0) + 0.00::numeric AS revenue, "
                + "max(\(day)) AS last FROM \(sales.name) GROUP BY \(c(stage.customer))"),
        ]
        let on = sameKey("k.\(c(stage.customerKey))", "g.key", keyType)
        let body = "SELECT k.\(c(stage.customerKey)) AS c1, k.\(c(stage.customerName)) AS c2, \(active) AS c3, coalesce(g.orders, 0) AS c4, "
            + "coalesce(g.revenue, 0.00::numeric) AS c5, g.last AS c6, NULL::int AS __src, NULL::int8 AS __ord, NULL::int8 AS __seq "
            + "FROM \(first) AS k LEFT JOIN \(totals) AS g ON \(on)\n"
            + "UNION ALL SELECT g.key, CASE WHEN g.key IS NULL THEN '(sans client)' ELSE '(client inconnu ' || g.key::text || ')' END, NULL::boolean, "
            + "g.orders, g.revenue, g.last, NULL::int, NULL::int8, NULL::int8 FROM \(totals) AS g WHERE NOT EXISTS (SELECT 1 FROM \(first) AS k WHERE \(on))"
        let count = RowCount.emitted(sales.id)
        var relation = make(body, (count, count, .zero, .count(name)), sales.database)
        relation.helpers = helpers
        relation.readsInputOrder = false
        relation.orderedInputs = [1]
        relation.unorderedReason = "is a customers stage, whose rows are sorted in-process"
        relation.sortRows = { rows in
            Customers.sortedByRevenue(rows.map { row in (row, row.indices.contains(4) ? row[4].asMoney ?? Money(0) : Money(0)) })
        }
        return relation
    }

    /// `a` and `b` equal or both null, as an equality PostgreSQL can hash (a dictionary lookup
    /// in-process matches a null key with a null key).
    static func sameKey(_ a: String, _ b: String, _ type: ColumnType) -> String {
        let zero: String
        switch type {
        case .int: zero = "0"
        case .decimal: zero = "0::numeric"
        case .text: zero = "''"
        case .bool: zero = "false"
        case .date: zero = "'2000-01-01'::date"
        case .datetime: zero = "'2000-01-01 00:00:00+00'::timestamptz"
        }
        return "(\(a) IS NULL) = (\(b) IS NULL) AND coalesce(\(a), \(zero)) = coalesce(\(b), \(zero))"
    }

    /// Rule 5 as SQL: each stock line with the last product and warehouse row of its keys; the lines
    /// naming neither, or with a negative or missing quantity, are selected in order and rejected by
    /// the stage's own code, as are (by product) the legacy quantities off their lines' sum. Lines of
    /// soft-deleted products and inactive warehouses are counted as filtered. One row per product (or
    /// warehouse) row in input order, with the figures of the last row of its key, as in-process.
    private static func warehouseRollupRelation(_ rollup: WarehouseRollup, name: String, inputs: [PushedRelation], warehousesSchema: Schema,
                                                make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let (stock, products, warehouses) = (inputs[0], inputs[1], inputs[2])
        guard Set([stock.database, products.database, warehouses.database]).count == 1 else {
            throw PushdownRefusal("its inputs come from different PostgreSQL databases")
        }
        let stockSchema = rollup.stockSchema, productSchema = rollup.productSchema
        let (sp, sw, sq) = rollup.stockColumns
        let pc = rollup.productColumns, wc = rollup.warehouseColumns
        let productKeyType = productSchema.columns[pc.key].type, warehouseKeyType = warehousesSchema.columns[wc.key].type
        guard stockSchema.columns[sp].type == productKeyType, stockSchema.columns[sw].type == warehouseKeyType else {
            throw PushdownRefusal("its stock lines' keys and the products' or warehouses' keys differ in type, which in-process never match")
        }
        func c(_ index: Int) -> String { "c\(index + 1)" }
        let stem = String(name.dropFirst(3).dropLast())
        let lastProduct = quoteIdentifier("s_\(stem)__product"), lastWarehouse = quoteIdentifier("s_\(stem)__warehouse")
        let checked = quoteIdentifier("s_\(stem)__checked"), perProduct = quoteIdentifier("s_\(stem)__units")
        // In-process a product is soft-deleted when its flag is true, a warehouse inactive when false.
        let deleted = pc.deleted.flatMap { productSchema.columns[$0].type == .bool ? "coalesce(lp.\(c($0)), false)" : nil } ?? "false"
        let inactive = wc.active.flatMap { warehousesSchema.columns[$0].type == .bool ? "coalesce(NOT lw.\(c($0)), false)" : nil } ?? "false"
        let price = productSchema.columns[pc.price].type == .int ? "lp.\(c(pc.price))::numeric" : "lp.\(c(pc.price))"
        let helpers = [
            (lastProduct, rowOfEachKey(products.name, key: c(pc.key), alias: "p", last: true)),
            (lastWarehouse, rowOfEachKey(warehouses.name, key: c(wc.key), alias: "w", last: true)),
            (checked, "SELECT s.*, lp.__seq IS NOT NULL AS __has_product, lw.__seq IS NOT NULL AS __has_warehouse, "
                + "coalesce(lp.__seq IS NOT NULL AND lw.__seq IS NOT NULL AND s.\(c(sq)) >= 0, false) AS __valid, "
                + "\(deleted) AS __deleted, \(inactive) AS __inactive, coalesce(\(price), 0) * s.\(c(sq)) AS __value "
                + "FROM \(stock.name) AS s LEFT JOIN \(lastProduct) AS lp ON \(sameKey("s.\(c(sp))", "lp.\(c(pc.key))", productKeyType)) "
                + "LEFT JOIN \(lastWarehouse) AS lw ON \(sameKey("s.\(c(sw))", "lw.\(c(wc.key))", warehouseKeyType))"),
        ]
        let counted = "__valid AND NOT __deleted AND NOT __inactive"
        let body: String
        var extraHelpers: [(String, String)] = []
        var issues: [PushedIssues] = []
        let stockWidth = stockSchema.columns.count
        issues.append(PushedIssues(
            select: "SELECT \((columnNames(stockWidth) + ["__has_product", "__has_warehouse", "__src", "__ord"]).joined(separator: ", ")) FROM \(checked) WHERE NOT __valid ORDER BY __seq",
            schema: Schema(stockSchema.columns + [Column("__has_product", .bool), Column("__has_warehouse", .bool)]),
            replay: { row, origin, context in
                _ = try rollup.checkedUnits(Array(row.prefix(stockWidth)), origin: origin, knownProduct: row[stockWidth] == .bool(true),
                                            knownWarehouse: row[stockWidth + 1] == .bool(true), context: context)
            }))
        if rollup.byProduct {
            extraHelpers.append((perProduct, "SELECT \(c(sp)) AS key, sum(\(c(sq))) FILTER (WHERE \(counted)) AS units, "
                + "sum(__value) FILTER (WHERE \(counted)) AS value, sum(\(c(sq))) AS all_units FROM \(checked) WHERE __valid GROUP BY \(c(sp))"))
            let from = "FROM \(products.name) AS p JOIN \(lastProduct) AS lp ON \(sameKey("p.\(c(pc.key))", "lp.\(c(pc.key))", productKeyType)) "
                + "LEFT JOIN \(perProduct) AS g ON \(sameKey("lp.\(c(pc.key))", "g.key", productKeyType)) WHERE NOT \(deleted)"
            body = "SELECT p.\(c(pc.key)) AS c1, lp.\(c(pc.name)) AS c2, coalesce(g.units, 0)::int8 AS c3, round(coalesce(g.value, 0), 2) AS c4, "
                + "coalesce(g.units, 0) < \(rollup.threshold) AS c5, lp.__src, lp.__ord, p.__seq " + from
            if let legacy = pc.legacy, productSchema.columns[legacy].type == .int {
                let width = productSchema.columns.count
                issues.append(PushedIssues(
                    select: "SELECT \((columnNames(width).map { "lp.\($0)" } + ["coalesce(g.all_units, 0)::int8", "lp.__src", "lp.__ord"]).joined(separator: ", ")) "
                        + from + " AND lp.\(c(legacy)) <> coalesce(g.all_units, 0) ORDER BY p.__seq",
                    schema: Schema(productSchema.columns + [Column("__lines", .int)]),
                    replay: { row, origin, context in
                        guard case .int(let legacy) = row[legacy], case .int(let lines) = row[width] else { return }
                        try rollup.legacyFinding(Array(row.prefix(width)), origin: origin, legacy: legacy, lines: lines, context: context)
                    }))
            }
        } else {
            extraHelpers.append((perProduct, "SELECT \(c(sw)) AS warehouse, count(*) AS products, sum(units) AS units, sum(value) AS value, "
                + "count(*) FILTER (WHERE units < \(rollup.threshold)) AS low FROM (SELECT \(c(sw)), \(c(sp)), sum(\(c(sq))) AS units, "
                + "sum(__value) AS value FROM \(checked) WHERE \(counted) GROUP BY \(c(sw)), \(c(sp))) AS u GROUP BY \(c(sw))"))
            body = "SELECT w.\(c(wc.key)) AS c1, lw.\(c(wc.name)) AS c2, coalesce(g.products, 0)::int8 AS c3, coalesce(g.units, 0)::int8 AS c4, "
                + "round(coalesce(g.value, 0), 2) AS c5, coalesce(g.low, 0)::int8 AS c6, NULL::int AS __src, NULL::int8 AS __ord, w.__seq "
                + "FROM \(warehouses.name) AS w JOIN \(lastWarehouse) AS lw ON \(sameKey("w.\(c(wc.key))", "lw.\(c(wc.key))", warehouseKeyType)) "
                + "LEFT JOIN \(perProduct) AS g ON \(sameKey("lw.\(c(wc.key))", "g.warehouse", warehouseKeyType)) WHERE NOT \(inactive)"
        }
        let rowsIn = RowCount.emitted(stock.id), rowsOut = RowCount.count(checked, where: counted)
        var relation = make(body, (rowsIn, rowsOut, .zero, .count(name)), stock.database)
        relation.helpers = helpers + extraHelpers
        relation.issues = issues
        relation.readsInputOrder = false
        relation.orderedInputs = [1, 2]
        relation.extraCounts = [.count(checked, where: "__valid AND __deleted"), .count(checked, where: "__valid AND NOT __deleted AND __inactive"),
                                .count(lastProduct + " AS lp", where: deleted), .count(lastWarehouse + " AS lw", where: inactive)]
        relation.applyExtraCounts = { numbers, context in
            guard numbers.count == 4 else { return }
            context.filtered(numbers[0], reason: "soft-deleted product")
            context.filtered(numbers[1], reason: "inactive warehouse")
            if numbers[2] > 0 || numbers[3] > 0 {
                context.note("left out: \(numbers[2]) soft-deleted product(s) (\(numbers[0]) stock lines), \(numbers[3]) inactive warehouse(s) (\(numbers[1]) stock lines)")
            }
        }
        return relation
    }

    /// The query returning a pushed stage's rows in the order the stage emits them in-process.
    static func dataQuery(for id: String, relations: [String: PushedRelation]) -> String? {
        guard let relation = relations[id] else { return nil }
        return with(relation.needs, relations: relations, ordered: [id]) + "\nSELECT * FROM \(relation.name) ORDER BY __seq"
    }

    /// The query counting every pushed stage of one database, and per member its five counts (rows
    /// in, out, filtered, emitted, and for extracts the rows stockflow could not read) in terms of
    /// the query's columns. Every relation counted is read once, all its counts side by side; counts
    /// that equal another stage's are not counted again; `skipped` counts are not needed (the rows
    /// emitted by a stage whose rows come back are counted as they go, and so are the rows out of a
    /// stage that has them in a column).
    static func countQuery(_ members: [PushedRelation], relations: [String: PushedRelation],
                           skipped: (PushedRelation) -> (emitted: Bool, out: Bool))
        -> (sql: String, layout: [(from: String, aggregate: String)], counts: [String: [RowCount]]) {
        var seen = Set<String>()
        let ids = members.flatMap(\.needs).filter { seen.insert($0).inserted }
        var counts: [String: [RowCount]] = [:]
        var scans: [(from: String, aggregates: [String])] = []
        // An extract whose rows another member holds once each is counted in that member's scan
        // (order_totals' checked orders): one pass over the orders instead of two.
        var relations = relations
        for member in members {
            guard let (source, from) = member.rowsOf, var extract = relations[source], extract.readsTable else { continue }
            let count = RowCount.count(from)
            extract.counts = (count, count, .zero, count)
            extract.unreadable = extract.unreadableColumns.map { .count(from, where: $0) } ?? .zero
            relations[source] = extract
        }
        for member in members.map({ relations[$0.id] ?? $0 }) {
            let skip = skipped(member)
            let numbers = ([member.counts.rowsIn, skip.out ? .zero : member.counts.rowsOut, skip.out ? .zero : member.counts.filtered,
                            skip.emitted ? .zero : member.counts.emitted, member.unreadable ?? .zero] + member.extraCounts).map { $0.resolved(relations) }
            counts[member.id] = numbers
            for scan in numbers.flatMap(\.scans) {
                if let index = scans.firstIndex(where: { $0.from == scan.from }) {
                    if !scans[index].aggregates.contains(scan.aggregate) { scans[index].aggregates.append(scan.aggregate) }
                } else {
                    scans.append((scan.from, [scan.aggregate]))
                }
            }
        }
        let columns = scans.enumerated().flatMap { index, scan in scan.aggregates.indices.map { "q\(index + 1).n\($0 + 1)" } }
        let counted = scans.enumerated().map { index, scan in
            "(SELECT \(scan.aggregates.enumerated().map { "\($1) AS n\($0 + 1)" }.joined(separator: ", ")) FROM \(scan.from)) AS q\(index + 1)"
        }
        let query = with(ids, relations: relations, ordered: [])
            + "\nSELECT " + (columns.isEmpty ? "0" : columns.joined(separator: ", ") + "\nFROM " + counted.joined(separator: "\nCROSS JOIN "))
        let layout = scans.flatMap { scan in scan.aggregates.map { (scan.from, $0) } }
        return (query, layout, counts)
    }
}

extension PushdownPlanner {
    /// The first or last row (by `__seq`) of each `key` of `relation`, as the in-process look-ups keep
    /// it: DISTINCT ON, which PostgreSQL estimates as the number of keys (a window's `= 1` it estimates
    /// at a few rows, and then sorts a million orders rather than hash them).
    static func rowOfEachKey(_ relation: String, key: String, alias: String, last: Bool) -> String {
        "SELECT DISTINCT ON (\(alias).\(key)) \(alias).* FROM \(relation) AS \(alias) ORDER BY \(alias).\(key), \(alias).__seq\(last ? " DESC" : "")"
    }
}

/// Rules 1 and 2's product look-up as SQL, one spelling for `order_totals` and `invoices`: the last
/// product row of each key (the in-process lookup keeps the last one) and the unit price at least to
/// the cent, half away from zero like stockflow.
struct ProductLookupSQL {
    /// The body of the last-product CTE (`PushdownPlanner.rowOfEachKey`).
    let lastProductBody: String
    /// The join from the orders (`o`) to the last products, an equality PostgreSQL can hash. An order
    /// with a null key matches the product with a null key (at most one row once deduplicated) through
    /// `product(_:)`'s sub-query, which PostgreSQL runs once and only if an order has a null key; a
    /// second join for it cost every order a pass through one more join node (~10 % of a query).
    let joins: String
    /// The product's price as stored, and at least to the cent.
    let rawPrice: String, price: String
    private let lastProduct: String, key: String, orderKey: String

    /// `key` and `price` are columns of the products, `orderKey` the orders' product key (`o.cN`).
    init(products: PushedRelation, lastProduct: String, key: String, orderKey: String, price column: String, priceType: ColumnType) {
        (self.lastProduct, self.key, self.orderKey) = (lastProduct, key, orderKey)
        lastProductBody = PushdownPlanner.rowOfEachKey(products.name, key: key, alias: "p", last: true)
        joins = "LEFT JOIN \(lastProduct) AS p ON \(orderKey) = p.\(key)"
        let raw = Self.matched(column, lastProduct: lastProduct, key: key, orderKey: orderKey)
        rawPrice = raw
        price = priceType == .int ? "round(\(raw)::numeric, 2)" : "CASE WHEN scale(\(raw)) < 2 THEN round(\(raw), 2) ELSE \(raw) END"
    }

    /// A column of the product an order matched (null when none did).
    func product(_ column: String) -> String { Self.matched(column, lastProduct: lastProduct, key: key, orderKey: orderKey) }

    private static func matched(_ column: String, lastProduct: String, key: String, orderKey: String) -> String {
        "coalesce(p.\(column), CASE WHEN \(orderKey) IS NULL THEN (SELECT n.\(column) FROM \(lastProduct) AS n WHERE n.\(key) IS NULL) END)"
    }
}
