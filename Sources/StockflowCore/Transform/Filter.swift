extension StageConfig {
    /// Parses the expression under option `name` against `schema`, reporting errors at their place.
    func expression(_ name: String, schema: Schema) -> Expression? {
        guard let node = node[name], let text = node.scalar else { return nil }
        return expression(text: text, at: textStart(of: node), schema: schema)
    }

    /// Where a scalar's text begins: one column after the opening quote of a quoted scalar.
    func textStart(of node: ConfigNode) -> SourcePosition {
        var position = node.position
        if node.isQuoted { position.column += 1 }
        return position
    }

    /// Parses an expression written at `position`.
    func expression(text: String, at position: SourcePosition, schema: Schema) -> Expression? {
        do {
            return try Expression.parse(text, schema: schema)
        } catch let error as Expression.ParseError {
            var place = position
            place.column += error.offset
            self.error("in stage '\(id)': \(error.message)", at: place)
        } catch {
            self.error("in stage '\(id)': \(error)", at: position)
        }
        return nil
    }
}

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

    init(condition: Expression, schema: Schema, timezone: String) {
        calendar = LocalCalendar(identifier: timezone)
        self.condition = condition
        outputSchema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let condition = config.expression("where", schema: inputs[0]) else { return nil }
        let type = condition.resultType(inputs[0])
        guard type == .bool else {
            // Otherwise every row would be filtered out without a word.
            config.error("'where' of stage '\(config.id)' must be a condition (true or false), found a \(type.rawValue) expression '\(condition)'; compare it, e.g. \(condition) > 0",
                         at: config.node["where"]?.position)
            return nil
        }
        return Filter(condition: condition, schema: inputs[0], timezone: context.settings.timezone)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        var kept = Batch(capacity: batch.count)
        for (row, origin) in zip(batch.rows, batch.origins) where try condition.evaluate(row, calendar: calendar) == .bool(true) {
            kept.append(row, origin: origin)
        }
        context.filtered(batch.count - kept.count, reason: "not (\(condition))")
        try emit(kept)
    }
}
