/// `transform: filter` — keeps the rows for which a condition holds; the others are counted as filtered.
public final class Filter: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "filter", role: .transform,
        summary: "Keeps the rows where `where` is true. Rows left out are counted as filtered, with the condition as the reason.",
        options: [
            OptionSpec("where", .string, required: true, "Condition over the input's columns, e.g. `unites < 10 and not is_deleted`. Comparisons with null are false."),
        ],
        ports: [PortSpec("rows", "The rows to filter.")],
        example: """
        low_stock:
          transform: filter
          input: stock_by_product
          where: "unites < 10"
        """)

    let condition: Expression
    public let outputSchema: Schema

    let calendar: LocalCalendar
    /// The condition compiled once (`Expression.compiled`).
    let test: Expression.Compiled

    init(condition: Expression, schema: Schema, timezone: String) {
        let calendar = LocalCalendar(identifier: timezone)
        self.calendar = calendar
        self.condition = condition
        test = condition.compiled(calendar: calendar)
        outputSchema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let rows = config.input("rows"), let condition = config.expression("where", schema: rows) else { return nil }
        let type = condition.resultType(rows)
        guard type == .bool else {
            // Otherwise every row would be filtered out without a word.
            config.error("'where' of stage '\(config.id)' must be a condition (true or false), found a \(type.rawValue) expression '\(condition)'; compare it, e.g. \(condition) > 0",
                         at: config.node["where"]?.position)
            return nil
        }
        return Filter(condition: condition, schema: rows, timezone: context.settings.timezone)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        var kept = Batch(capacity: batch.count)
        for (row, origin) in zip(batch.rows, batch.origins) where try test(row) == .bool(true) {
            kept.append(row, origin: origin)
        }
        context.filtered(batch.count - kept.count, reason: "not (\(condition))")
        try emit(kept)
    }
}
