import Foundation

/// `transform: aggregate` — groups rows and computes sums, counts, minimums and maximums.
public final class Aggregate: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "aggregate", role: .transform,
        summary: "Groups rows by key columns and computes measures; emits one row per group, sorted by the keys. Memory is one entry per group. Sums are exact. In run.json, rows_out counts the rows folded into groups and rows_emitted the groups.",
        options: [
            OptionSpec("group_by", .list, "Key columns; empty or absent for one overall row."),
            OptionSpec("measures", .mapping, required: true, "Output columns: `name: sum(column)`, `count()`, `count(column)` (non-null), `min(column)`, `max(column)`, `count_distinct(column)`, `count_true(column)` (rows where a boolean is true)."),
        ],
        ports: [PortSpec("rows", "The rows to group.")],
        example: """
        revenue_by_month:
          transform: aggregate
          input: lines
          group_by: [mois, categorie]
          measures:
            nb_commandes: count()
            quantite: sum(quantite_cmd)
            chiffre_affaires: sum(montant_commande)
        """)

    enum Function: String, CaseIterable { case sum, count, count_true, min, max, count_distinct }

    struct Measure {
        var function: Function
        var column: Int?
    }

    enum Accumulator {
        case sum(Money?)
        case count(Int64)
        case extreme(Value)
        case distinct(Set<Value>)
    }

    let keys: [Int]
    let measures: [Measure]
    public let outputSchema: Schema
    /// The groups' keys one after the other (`keys.count` values each), in the order first met: no
    /// array per group, so memory is a few words per group (the refunds by order: one per return).
    private var groupKeys: [Value] = []
    /// Their accumulators, `measures.count` each, in the same order.
    private var accumulators: [Accumulator] = []
    private var groupCount = 0
    /// Each group's number (in 32 bits: the look-up of a one-column integer key a third smaller, 312,000
    /// groups of refunds by order at 10M orders) by key: one key column (nearly every aggregate;
    /// integers looked up without hashing a `Value`), or several.
    private var groupsByValue = KeyedByValue<Int32>()
    private var groupsByKey: [[Value]: Int32] = [:]
    /// The group of the last row (-1 before the first): rows often come clustered by key (by order,
    /// by month), and comparing a key costs much less than looking it up.
    private var lastGroup = -1

    init(keys: [Int], measures: [Measure], schema: Schema) {
        self.keys = keys
        self.measures = measures
        outputSchema = schema
    }

    public var countsOwnOutput: Bool { true }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let input = config.input("rows") else { return nil }
        var keys: [Int] = []
        var columns: [Column] = []
        for name in config.stringList("group_by") ?? [] {
            guard let index = input.index(of: name) else {
                config.error("group_by column '\(name)' is not in the input (columns: \(input.names.joined(separator: ", ")))\(didYouMean(name, input.names))", at: config.node["group_by"]?.position)
                continue
            }
            keys.append(index)
            columns.append(input.columns[index])
        }
        var measures: [Measure] = []
        for entry in config.node["measures"]?.entries ?? [] {
            guard let text = entry.value.scalar, let open = text.firstIndex(of: "("), text.hasSuffix(")"),
                  let function = Function(rawValue: text[..<open].trimmingCharacters(in: .whitespaces).lowercased()) else {
                config.error("measure '\(entry.key)' must be sum(column), count(), count(column), count_true(column), min(column), max(column) or count_distinct(column), found \(entry.value.shapeName)", at: entry.value.position)
                continue
            }
            let argument = text[text.index(after: open)..<text.index(before: text.endIndex)].trimmingCharacters(in: .whitespaces)
            var column: Int?
            if !argument.isEmpty {
                guard let index = input.index(of: argument) else {
                    config.error("measure '\(entry.key)' reads unknown column '\(argument)' (columns: \(input.names.joined(separator: ", ")))\(didYouMean(argument, input.names))", at: entry.value.position)
                    continue
                }
                column = index
            } else if function != .count {
                config.error("measure '\(entry.key)': \(function.rawValue) needs a column", at: entry.value.position)
                continue
            }
            if function == .sum, let column, ![.int, .decimal].contains(input.columns[column].type) {
                config.error("measure '\(entry.key)' sums '\(input.columns[column].name)', which is \(input.columns[column].type.rawValue), not a number", at: entry.value.position)
                continue
            }
            measures.append(Measure(function: function, column: column))
            switch (function, column) {
            case (.sum, let column?), (.min, let column?), (.max, let column?):
                columns.append(Column(entry.key, input.columns[column].type, scale: input.columns[column].scale))
            default:
                columns.append(Column(entry.key, .int))
            }
        }
        return Aggregate(keys: keys, measures: measures, schema: Schema(columns))
    }

    private func fresh() -> [Accumulator] {
        measures.map { measure in
            switch measure.function {
            case .sum: return .sum(nil)
            case .count, .count_true: return .count(0)
            case .min, .max: return .extreme(.null)
            case .count_distinct: return .distinct([])
            }
        }
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        for row in batch.rows {
            try accumulate(row, into: group(of: row, context) * measures.count)
        }
        context.countOut(batch.count)
    }

    /// The number of the group `row` belongs to, made when new.
    private func group(of row: Row, _ context: StageContext) throws -> Int {
        let width = keys.count
        if lastGroup >= 0 {
            let start = lastGroup * width
            var same = true
            for (offset, column) in keys.enumerated() where row[column] != groupKeys[start + offset] {
                same = false
                break
            }
            if same { return lastGroup }
        }
        let group: Int
        if width == 1 {
            let key = row[keys[0]]
            if let found = groupsByValue[key] {
                group = Int(found)
            } else {
                group = try newGroup(context)
                groupsByValue[key] = Int32(truncatingIfNeeded: group)
                groupKeys.append(key)
            }
        } else {
            let key = keys.map { row[$0] }
            if let found = groupsByKey[key] {
                group = Int(found)
            } else {
                group = try newGroup(context)
                groupsByKey[key] = Int32(truncatingIfNeeded: group)
                groupKeys.append(contentsOf: key)
            }
        }
        lastGroup = group
        return group
    }

    private func newGroup(_ context: StageContext) throws -> Int {
        guard groupCount < Int(Int32.max) else {
            throw StageError("stage '\(context.stageID)': more than \(Int32.max) groups; group by fewer or coarser keys")
        }
        accumulators.append(contentsOf: fresh())
        groupCount += 1
        return groupCount - 1
    }

    /// Folds `row` into the accumulators starting at `base`.
    private func accumulate(_ row: Row, into base: Int) throws {
        for (index, measure) in measures.enumerated() {
            let value = measure.column.map { row[$0] } ?? .bool(true)
            switch (accumulators[base + index], measure.function) {
            case (.sum(let total), _):
                if let amount = value.asMoney {
                    accumulators[base + index] = .sum(try total.map { try $0.adding(amount) } ?? amount)
                }
            case (.count(let count), .count_true):
                if value == .bool(true) { accumulators[base + index] = .count(count + 1) }
            case (.count(let count), _):
                if !value.isNull { accumulators[base + index] = .count(count + 1) }
            case (.extreme(let current), .min):
                if !value.isNull && (current.isNull || Value.compare(value, current) < 0) { accumulators[base + index] = .extreme(value) }
            case (.extreme(let current), _):
                if !value.isNull && (current.isNull || Value.compare(value, current) > 0) { accumulators[base + index] = .extreme(value) }
            case (.distinct(var set), _):
                if !value.isNull {
                    // Release the stored copy first so the insert does not copy the whole set.
                    accumulators[base + index] = .count(0)
                    set.insert(value)
                    accumulators[base + index] = .distinct(set)
                }
            }
        }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        if groupCount == 0 && keys.isEmpty {
            _ = try newGroup(context)
        }
        let width = keys.count
        let order = Self.sortedGroups(groupKeys, width: width, count: groupCount)
        // The look-up is done with: let it go before the rows are made (the stage reading them, a
        // join's right side, is filled meanwhile).
        groupsByValue = KeyedByValue()
        groupsByKey = [:]
        var batch = Batch(capacity: min(order.count, Batch.preferredSize))
        for group in order {
            var row = Row()
            row.reserveCapacity(outputSchema.columns.count)
            row.append(contentsOf: groupKeys[group * width ..< (group + 1) * width])
            let base = group * measures.count
            for index in measures.indices {
                let column = outputSchema.columns[width + index]
                switch accumulators[base + index] {
                case .sum(let total):
                    let sum = total ?? Money.zero(scale: column.scale ?? 0)
                    row.append(column.type == .int ? .int(sum.units) : .decimal(sum))
                case .count(let count): row.append(.int(count))
                case .extreme(let value): row.append(value)
                case .distinct(let set): row.append(.int(Int64(set.count)))
                }
            }
            try batch.append(row, origin: .derived, flushingTo: emit)
        }
        groupKeys = []
        accumulators = []
        groupCount = 0
        lastGroup = -1
        try emit(batch)
    }
}

extension Aggregate {
    /// The order an aggregate emits its groups in, as group numbers: the keys of group `g` are
    /// `keys[g * width ..< (g + 1) * width]`. Text keys sort as a reader expects ("Électricité"
    /// between "Droguerie" and "Jardin"): accents and case folded first, the exact text breaking
    /// ties, then the group's number (the order first met). Text is folded once per group, and
    /// only when a key is text. Pushed aggregates (Pushdown/) sort their groups here too.
    static func sortedGroups(_ keys: [Value], width: Int, count: Int) -> [Int] {
        guard width > 0, keys.count == width * count else { return Array(0..<count) }
        let hasText = keys.contains { if case .text = $0 { return true } else { return false } }
        let folded: [Value] = hasText ? keys.map { value in
            if case .text(let text) = value {
                return .text(text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil))
            }
            return value
        } : []
        func order(_ values: [Value], _ a: Int, _ b: Int) -> Int {
            for offset in 0..<width {
                let order = Value.compare(values[a * width + offset], values[b * width + offset])
                if order != 0 { return order }
            }
            return 0
        }
        return (0..<count).sorted { a, b in
            if hasText {
                let first = order(folded, a, b)
                if first != 0 { return first < 0 }
            }
            let exact = order(keys, a, b)
            return exact != 0 ? exact < 0 : a < b
        }
    }
}

/// Folds rows into its groups until `finish`: may take its batches on the folding thread.
extension Aggregate: FoldingStage {}
