/// `transform: select` — picks, renames, orders and derives columns.
public final class Select: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "select", role: .transform,
        summary: "Picks and orders columns, renames them and derives new ones from expressions. Every row passes through.",
        options: [
            OptionSpec("columns", .list, required: true, "Output columns in order: a name (`code_prod`), a rename (`{produit: code_prod}`) or a derived column (`{mois: \"month(date_commande)\"}`)."),
        ],
        ports: [PortSpec("rows", "The rows to reshape.")],
        example: """
        lines:
          transform: select
          input: totals
          columns:
            - code_cmd
            - {date: date_commande}
            - {mois: "month(date_commande)"}
            - montant_commande
        """)

    let expressions: [Expression]
    public let outputSchema: Schema

    /// What makes each output cell, decided once: a column copied, or an expression compiled once
    /// (`Expression.compiled`, which reads `month(date_facture)`'s column directly and its local day
    /// from a table by hour).
    enum Step {
        case copy(Int)
        case compiled(Expression.Compiled)
    }
    let steps: [Step]

    init(expressions: [Expression], schema: Schema, timezone: String) {
        let calendar = LocalCalendar(identifier: timezone)
        self.expressions = expressions
        steps = expressions.map { expression in
            if case .column(let index, _) = expression { return .copy(index) }
            return .compiled(expression.compiled(calendar: calendar))
        }
        outputSchema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let input = config.input("rows"), let items = config.node["columns"]?.items else { return nil }
        var expressions: [Expression] = []
        var columns: [Column] = []
        for item in items {
            let name: String
            let text: String
            let position: SourcePosition
            if let scalar = item.scalar {
                name = scalar
                text = scalar
                position = config.textStart(of: item)
            } else if let entries = item.entries, entries.count == 1, let entry = entries.first, let source = entry.value.scalar {
                name = entry.key
                text = source
                position = config.textStart(of: entry.value)
            } else {
                config.error("each item of 'columns' is a column name or {new_name: column or expression}, found \(item.shapeName)", at: item.position)
                continue
            }
            if columns.contains(where: { $0.name == name }) {
                config.error("column '\(name)' appears twice in stage '\(config.id)'", at: item.position)
                continue
            }
            guard let expression = config.expression(text: text, at: position, schema: input) else { continue }
            expressions.append(expression)
            if case .column(let index, _) = expression {
                var column = input.columns[index]
                column.name = name
                columns.append(column)
            } else {
                columns.append(Column(name, expression.resultType(input)))
            }
        }
        return Select(expressions: expressions, schema: Schema(columns), timezone: context.settings.timezone)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        var rows: [Row] = []
        rows.reserveCapacity(batch.count)
        for row in batch.rows {
            var output = Row()
            output.reserveCapacity(steps.count)
            for step in steps {
                switch step {
                case .copy(let index): output.append(row[index])
                case .compiled(let expression): output.append(try expression(row))
                }
            }
            rows.append(output)
        }
        // Every row passes: the origins are the input's, shared rather than copied.
        try emit(Batch(rows: rows, origins: batch.origins))
    }
}
