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
    /// Each group's position in `accumulators`, by key.
    private var groups: [[Value]: Int] = [:]
    private var accumulators: [[Accumulator]] = []
    /// The group of the last row: rows often come clustered by key (by order, by month), and
    /// comparing a key costs much less than making and hashing it.
    private var lastGroup: (key: [Value], slot: Int)?

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
            let slot: Int
            if let last = lastGroup, keys.indices.allSatisfy({ row[keys[$0]] == last.key[$0] }) {
                slot = last.slot
            } else {
                // One hash per row for another group than the last row's.
                let key = keys.map { row[$0] }
                if let found = groups[key] {
                    slot = found
                } else {
                    slot = accumulators.count
                    groups[key] = slot
                    accumulators.append(fresh())
                }
                lastGroup = (key, slot)
            }
            try accumulate(row, into: &accumulators[slot])
        }
        context.countOut(batch.count)
    }

    private func accumulate(_ row: Row, into accumulators: inout [Accumulator]) throws {
        for (index, measure) in measures.enumerated() {
            let value = measure.column.map { row[$0] } ?? .bool(true)
            switch (accumulators[index], measure.function) {
            case (.sum(let total), _):
                if let amount = value.asMoney {
                    accumulators[index] = .sum(try total.map { try $0.adding(amount) } ?? amount)
                }
            case (.count(let count), .count_true):
                if value == .bool(true) { accumulators[index] = .count(count + 1) }
            case (.count(let count), _):
                if !value.isNull { accumulators[index] = .count(count + 1) }
            case (.extreme(let current), .min):
                if !value.isNull && (current.isNull || Value.compare(value, current) < 0) { accumulators[index] = .extreme(value) }
            case (.extreme(let current), _):
                if !value.isNull && (current.isNull || Value.compare(value, current) > 0) { accumulators[index] = .extreme(value) }
            case (.distinct(var set), _):
                if !value.isNull {
                    // Release the stored copy first so the insert does not copy the whole set.
                    accumulators[index] = .count(0)
                    set.insert(value)
                    accumulators[index] = .distinct(set)
                }
            }
        }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        if groups.isEmpty && keys.isEmpty {
            groups[[]] = 0
            accumulators = [fresh()]
        }
        let ordered = Self.sortedByKey(Array(groups))
        var batch = Batch(capacity: min(ordered.count, Batch.preferredSize))
        for (key, slot) in ordered {
            var row = key
            for (index, accumulator) in accumulators[slot].enumerated() {
                let column = outputSchema.columns[keys.count + index]
                switch accumulator {
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
        groups.removeAll()
        accumulators.removeAll()
        lastGroup = nil
        try emit(batch)
    }
}

extension Aggregate {
    /// Groups in the order an aggregate emits them. Text keys sort as a reader expects ("Électricité"
    /// between "Droguerie" and "Jardin"): accents and case folded first, the exact text breaking ties.
    /// Keys are folded once per group. Pushed aggregates (Pushdown/) sort their groups here too.
    static func sortedByKey<T>(_ groups: [(key: [Value], value: T)]) -> [(key: [Value], value: T)] {
        let folded = groups.map { group in
            (group, group.key.map { value -> Value in
                if case .text(let text) = value {
                    return .text(text.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil))
                }
                return value
            })
        }
        return folded.sorted { lhs, rhs in
            for (a, b) in zip(lhs.1, rhs.1) {
                let order = Value.compare(a, b)
                if order != 0 { return order < 0 }
            }
            for (a, b) in zip(lhs.0.key, rhs.0.key) {
                let order = Value.compare(a, b)
                if order != 0 { return order < 0 }
            }
            return false
        }.map(\.0)
    }
}

/// Folds rows into its groups until `finish`: may take its batches on the folding thread.
extension Aggregate: FoldingStage {}
