/// `transform: join` — adds columns from a lookup table to each row of a stream, matched by key.
public final class Join: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "join", role: .transform,
        summary: "Hash join: reads `right` whole (a lookup table), then streams `left` and adds the right side's columns to each row whose key matches. Inner joins count unmatched left rows as filtered; left joins keep them with nulls; full joins also keep them, and at the end emit every right row no left row matched, in right input order, with nulls in the left columns (as SQL's FULL JOIN: add the right key to `columns` to keep it). A left row matching several right rows is repeated once per match. Memory: the right side (hash the smaller table on the right).",
        options: [
            OptionSpec("on", .any, required: true, "Key columns: a name present on both sides (`code_prod`), a list of names, or a mapping `{left_column: right_column}`."),
            OptionSpec("type", .choice(["inner", "left", "full"]), default: "inner", "Join type."),
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
    let type: JoinType
    public let outputSchema: Schema
    private var right = RightSide()

    init(leftKeys: [Int], rightKeys: [Int], added: [Int], type: JoinType, schema: Schema) {
        self.leftKeys = leftKeys
        self.rightKeys = rightKeys
        self.added = added
        self.type = type
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
                    type: JoinType(rawValue: config.text("type")) ?? .inner, schema: Schema(columns))
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        if port == 1 {
            // As in SQL, a null key matches nothing: such right rows are never looked up (a full
            // join still emits them at the end).
            guard right.next.count + batch.count < Int(Int32.max) else {
                throw StageError("stage '\(context.stageID)': the right input of a join holds more than \(Int32.max) rows; put the larger table on the left")
            }
            for (row, origin) in zip(batch.rows, batch.origins) {
                let key = RightSide.Key(rightKeys.map { row[$0] })
                right.append(key: key, values: added.map { row[$0] }, origin: origin, keepOrigin: type == .full)
            }
            return
        }
        var output = Batch(capacity: batch.count)
        var unmatched = 0
        let width = added.count
        let single = leftKeys.count == 1 ? leftKeys[0] : nil
        for (row, origin) in zip(batch.rows, batch.origins) {
            // One key column (nearly every join): looked up as it is, without making a key array.
            var match = single.map { right.first(row[$0]) } ?? right.first(leftKeys.map { row[$0] })
            if match >= 0 {
                context.countOut(1)
                while match >= 0 {
                    output.append(joined(row, right.values[match * width ..< (match + 1) * width]), origin: origin)
                    if type == .full { right.matched[match] = true }
                    match = Int(right.next[match])
                }
            } else if type != .inner {
                context.countOut(1)
                output.append(joined(row, repeatElement(.null, count: width)), origin: origin)
            } else {
                unmatched += 1
            }
        }
        context.filtered(unmatched, reason: "no match in the right input")
        try emit(output)
    }

    /// A left row followed by right values, in one allocation (`row + values` copies the row into an
    /// array of its own size, then grows it again for the values).
    private func joined<Values: Collection<Value>>(_ row: Row, _ values: Values) -> Row {
        var output = Row()
        output.reserveCapacity(row.count + values.count)
        output.append(contentsOf: row)
        output.append(contentsOf: values)
        return output
    }

    /// Full joins: the right rows no left row matched, in right input order, nulls on the left.
    /// They pass through the stage, so each counts as a row in and a row out.
    /// The right side is let go of afterwards: the stages that finish after the join need the memory more.
    public func finish(_ context: StageContext, emit: Emit) throws {
        defer { right = RightSide() }
        guard type == .full else { return }
        let width = added.count
        let nulls = Array(repeating: Value.null, count: outputSchema.columns.count - width)
        var output = Batch(capacity: 1024)
        for index in right.matched.indices where !right.matched[index] {
            context.countRead(1)
            context.countOut(1)
            try output.append(joined(nulls, right.values[index * width ..< (index + 1) * width]), origin: right.origins[index],
                              flushingTo: emit)
        }
        if output.count > 0 { try emit(output) }
    }
}

/// The join types: inner drops unmatched left rows, left keeps them, full keeps unmatched rows of both sides.
enum JoinType: String {
    case inner, left, full
}

/// The right input of a join, held compactly: its added columns in one flat array, a hash from key
/// to the first row with that key, and a chain to the next row with the same key (in input order).
/// Rows are numbered in 32 bits (the stage refuses a right input past that), and the last row of a
/// chain is kept only for keys met more than once: a lookup table of unique keys (refunds by order)
/// costs a key and a row number per row, not two.
private struct RightSide {
    var values: [Value] = []
    var next: [Int32] = []
    var origins: [RowOrigin] = []
    var matched: [Bool] = []
    /// Per key, its first row: one-column keys (integer ones hashed as integers) apart.
    private var rowsByValue = KeyedByValue<Int32>()
    private var rowsByKey: [[Value]: Int32] = [:]
    /// The last row of each chain of more than one row, by its first row.
    private var lastOfChain: [Int32: Int32] = [:]

    /// A right row's key: one value, several, or none when a null is in it (never matched, as in SQL).
    enum Key {
        case single(Value), several([Value]), none

        init(_ values: [Value]) {
            if values.contains(where: \.isNull) { self = .none } else { self = values.count == 1 ? .single(values[0]) : .several(values) }
        }
    }

    /// The first right row with `key`, or -1.
    func first(_ key: [Value]) -> Int {
        key.count == 1 ? first(key[0]) : (rowsByKey[key].map(Int.init) ?? -1)
    }

    /// The first right row with the one-column key `key`, or -1.
    func first(_ key: Value) -> Int {
        key.isNull ? -1 : (rowsByValue[key].map(Int.init) ?? -1)
    }

    /// Adds a row; a row whose key has a null is never matched. The stage keeps the row count
    /// under `Int32.max`.
    mutating func append(key: Key, values row: [Value], origin: RowOrigin, keepOrigin: Bool) {
        let index = Int32(truncatingIfNeeded: next.count)
        values.append(contentsOf: row)
        next.append(-1)
        if keepOrigin {
            origins.append(origin)
            matched.append(false)
        }
        switch key {
        case .none:
            return
        case .single(let value):
            rowsByValue[value] = chain(rowsByValue[value], to: index)
        case .several(let values):
            rowsByKey[values] = chain(rowsByKey[values], to: index)
        }
    }

    /// The first row of a key once row `index` is added to those it had (from `first`).
    private mutating func chain(_ first: Int32?, to index: Int32) -> Int32 {
        guard let first else { return index }
        next[Int(lastOfChain[first] ?? first)] = index
        lastOfChain[first] = index
        return first
    }
}
