/// `transform: join` — adds columns from a lookup table to each row of a stream, matched by key.
public final class Join: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "join", role: .transform,
        summary: "Hash join: reads `right` whole (a lookup table), then streams `left` and adds the right side's columns to each row whose key matches. Inner joins count unmatched left rows as filtered; left joins keep them with nulls. A left row matching several right rows is repeated once per match.",
        options: [
            OptionSpec("on", .any, required: true, "Key columns: a name present on both sides (`code_prod`), a list of names, or a mapping `{left_column: right_column}`."),
            OptionSpec("type", .choice(["inner", "left"]), default: "inner", "Join type."),
            OptionSpec("columns", .list, "Right-side columns to add (default: all but the key); `{new_name: column}` renames."),
        ],
        ports: [PortSpec("left", "The stream (e.g. order lines)."), PortSpec("right", lookup: true, "The lookup table (e.g. categories).")],
        example: """
        lines_with_category:
          transform: join
          inputs: {left: totals, right: categories}
          on: {categorie_id: id}
          type: left
          columns: [{categorie: nom}]
        """)

    let leftKeys: [Int]
    let rightKeys: [Int]
    let added: [Int]
    let keepUnmatched: Bool
    public let outputSchema: Schema
    private var table: [[Value]: [Row]] = [:]
    private var matchedRows = 0

    init(leftKeys: [Int], rightKeys: [Int], added: [Int], keepUnmatched: Bool, schema: Schema) {
        self.leftKeys = leftKeys
        self.rightKeys = rightKeys
        self.added = added
        self.keepUnmatched = keepUnmatched
        outputSchema = schema
    }

    public var countsOwnOutput: Bool { true }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let left = config.input("left"), let right = config.input("right") else { return nil }
        var pairs: [(String, String, SourcePosition)] = []
        if let on = config.node["on"] {
            if let name = on.scalar { pairs = [(name, name, on.position)] }
            else if let items = on.items { pairs = items.compactMap { item in item.scalar.map { ($0, $0, item.position) } } }
            else if let entries = on.entries { pairs = entries.compactMap { entry in entry.value.scalar.map { (entry.key, $0, entry.keyPosition) } } }
        }
        guard !pairs.isEmpty else {
            config.error("'on' of stage '\(config.id)' names the key: a column, a list of columns or {left_column: right_column}", at: config.node["on"]?.position)
            return nil
        }
        var leftKeys: [Int] = [], rightKeys: [Int] = []
        for (leftName, rightName, position) in pairs {
            guard let l = left.index(of: leftName) else {
                config.error("join key '\(leftName)' is not a column of input 'left' (columns: \(left.names.joined(separator: ", ")))\(didYouMean(leftName, left.names))", at: position)
                continue
            }
            guard let r = right.index(of: rightName) else {
                config.error("join key '\(rightName)' is not a column of input 'right' (columns: \(right.names.joined(separator: ", ")))\(didYouMean(rightName, right.names))", at: position)
                continue
            }
            if left.columns[l].type != right.columns[r].type {
                // Values of different types never compare equal: the join would match nothing.
                config.error("join key '\(leftName)' is \(left.columns[l].type.rawValue) on the left but '\(rightName)' is \(right.columns[r].type.rawValue) on the right; declare both with the same type", at: position)
                continue
            }
            leftKeys.append(l)
            rightKeys.append(r)
        }
        var added: [Int] = []
        var columns = left.columns
        if let items = config.node["columns"]?.items {
            for item in items {
                var name = item.scalar
                var source = item.scalar
                if let entry = item.entries?.first, item.entries?.count == 1 { name = entry.key; source = entry.value.scalar }
                guard let name, let source, let index = right.index(of: source) else {
                    config.error("'columns' of stage '\(config.id)' lists right-side columns (columns: \(right.names.joined(separator: ", "))), found \(item.shapeName)", at: item.position)
                    continue
                }
                added.append(index)
                var column = right.columns[index]
                column.name = name
                columns.append(column)
            }
        } else {
            for (index, column) in right.columns.enumerated() where !rightKeys.contains(index) {
                added.append(index)
                columns.append(column)
            }
        }
        var seen = Set<String>()
        for column in columns where !seen.insert(column.name).inserted {
            config.error("stage '\(config.id)' would output column '\(column.name)' twice; rename it with columns: [{new_name: \(column.name)}]", at: config.node["columns"]?.position ?? config.position)
        }
        guard leftKeys.count == pairs.count else { return nil }
        return Join(leftKeys: leftKeys, rightKeys: rightKeys, added: added,
                    keepUnmatched: config.text("type") == "left", schema: Schema(columns))
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        if port == 1 {
            // As in SQL, a null key matches nothing: such right rows are never looked up.
            for row in batch.rows where !rightKeys.contains(where: { row[$0].isNull }) {
                table[rightKeys.map { row[$0] }, default: []].append(added.map { row[$0] })
            }
            return
        }
        var output = Batch(capacity: batch.count)
        var unmatched = 0
        for (row, origin) in zip(batch.rows, batch.origins) {
            let key = leftKeys.map { row[$0] }
            if let matches = table[key] {
                context.countOut(1)
                for match in matches { output.append(row + match, origin: origin) }
            } else if keepUnmatched {
                context.countOut(1)
                output.append(row + Array(repeating: .null, count: added.count), origin: origin)
            } else {
                unmatched += 1
            }
        }
        context.filtered(unmatched, reason: "no match in the right input")
        try emit(output)
    }
}
