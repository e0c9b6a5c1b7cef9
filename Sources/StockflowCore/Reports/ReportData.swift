import Foundation

/// The kinds of chart a report draws.
public enum ChartKind: String, Sendable, CaseIterable {
    /// Horizontal bars, largest first, the top N and one "others" bar.
    case bar
    /// One or two series over ordered labels (the second on its own right-hand axis).
    case line
    /// Shares of a whole, the top N and "others".
    case pie
    /// A pie with a hole, the total in the middle.
    case donut
    /// The total of a column against a target.
    case gauge
}

/// One chart of a report, as declared under `charts:`.
public struct ChartSpec: Sendable {
    public var kind: ChartKind
    public var title: String
    /// The stage read.
    public var input: String
    /// The column naming each bar, point or slice (nil for gauges).
    public var label: Int?
    /// The summed columns: one series, two for a line with a right-hand axis.
    public var values: [Int]
    /// Column names and formats of `values`.
    public var seriesNames: [String]
    public var formats: [ValueFormat]
    /// Bars or slices drawn before the rest is summed into "others".
    public var top: Int
    /// The gauge's target.
    public var target: Money?
    /// Text alternative written by the pipeline author; generated when nil.
    public var summary: String?

    static let keys = ["type", "title", "input", "label", "value", "values", "top", "target", "description", "format", "headers"]
    /// Header of the label column in the chart's table.
    public var labelName: String = ""
}

/// One KPI tile, as declared under `kpis:`.
public struct KPISpec: Sendable {
    /// How a KPI reduces its column.
    public enum Reduction: String, Sendable, CaseIterable { case sum, count, min, max, last }

    public var label: String
    public var input: String
    public var value: Int?
    public var reduction: Reduction
    public var format: ValueFormat
    /// The column of periods (`2025-01`, a date) whose first and last the tile states; a tile without
    /// one is a position at the as-of date.
    public var period: Int?

    static let keys = ["label", "input", "value", "agg", "format", "period"]
}

/// Reads `kpis:` and `charts:` of a report stage against its inputs' schemas.
enum ReportOptions {
    /// The distinct stages the items of `keys` read, in order of first mention.
    static func stageNames(_ node: ConfigNode, keys: [String]) -> [String] {
        var names: [String] = []
        for key in keys {
            for item in node[key]?.items ?? [] {
                if let stage = item["input"]?.scalar, !names.contains(stage) { names.append(stage) }
            }
        }
        return names
    }

    /// One input per distinct stage named by the items of `keys`, named after the stage.
    static func inputReferences(_ config: StageConfig, keys: [String]) -> [InputReference] {
        var references: [InputReference] = []
        for key in keys {
            for item in config.node[key]?.items ?? [] {
                guard let input = item["input"] else {
                    config.error("each item of '\(key)' in stage '\(config.id)' needs 'input: <stage id>'", at: item.position)
                    continue
                }
                guard let stage = input.scalar else {
                    config.error("'input' of an item of '\(key)' names one stage, found \(input.shapeName)", at: input.position)
                    continue
                }
                if !references.contains(where: { $0.stage == stage }) {
                    references.append(InputReference(port: stage, stage: stage, position: input.position, lookup: false))
                }
            }
        }
        return references
    }

    /// The input schemas and ports by stage id, in `inputReferences` order.
    static func schemas(_ config: StageConfig, keys: [String], inputs: [Schema]) -> [String: (port: Int, schema: Schema)] {
        var result: [String: (port: Int, schema: Schema)] = [:]
        for (port, stage) in stageNames(config.node, keys: keys).enumerated() where port < inputs.count {
            result[stage] = (port, inputs[port])
        }
        return result
    }

    static func column(_ item: ConfigNode, _ key: String, in schema: Schema, config: StageConfig, numeric: Bool) -> Int? {
        guard let node = item[key] else { return nil }
        return column(named: node, key, in: schema, config: config, numeric: numeric)
    }

    static func column(named node: ConfigNode, _ key: String, in schema: Schema, config: StageConfig, numeric: Bool) -> Int? {
        guard let name = node.scalar, let index = schema.index(of: name) else {
            config.error("'\(key)' names column \(node.shapeName), which its input does not have (columns: \(schema.names.joined(separator: ", ")))\(didYouMean(node.scalar ?? "", schema.names))", at: node.position)
            return nil
        }
        if numeric && ![.int, .decimal].contains(schema.columns[index].type) {
            config.error("'\(key)' must name a number column; '\(name)' is \(schema.columns[index].type.rawValue)", at: node.position)
            return nil
        }
        return index
    }

    static func format(_ item: ConfigNode, column: Column?, config: StageConfig) -> ValueFormat {
        if let node = item["format"] {
            guard let text = node.scalar, let format = ValueFormat(rawValue: text) else {
                config.error("'format' must be one of \(ValueFormat.allCases.map(\.rawValue).joined(separator: ", ")), found \(node.shapeName)", at: node.position)
                return .text
            }
            return format
        }
        return column.map(ValueFormat.default(for:)) ?? .integer
    }

    static func unknownKeys(_ item: ConfigNode, allowed: [String], list: String, config: StageConfig) {
        for entry in item.entries ?? [] where !allowed.contains(entry.key) {
            config.error("unknown key '\(entry.key)' in an item of '\(list)' of stage '\(config.id)'\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
        }
    }

    /// The charts under `charts:`.
    static func charts(_ config: StageConfig, inputs: [String: (port: Int, schema: Schema)]) -> [ChartSpec] {
        (config.node["charts"]?.items ?? []).compactMap { item in
            unknownKeys(item, allowed: ChartSpec.keys, list: "charts", config: config)
            guard let stage = item["input"]?.scalar, let (_, schema) = inputs[stage] else { return nil }
            guard let typeNode = item["type"], let kind = typeNode.scalar.flatMap(ChartKind.init(rawValue:)) else {
                let kinds = ChartKind.allCases.map(\.rawValue)
                config.error("each chart needs 'type:' one of \(kinds.joined(separator: ", ")), found \(item["type"]?.shapeName ?? "nothing")\(didYouMean(item["type"]?.scalar ?? "", kinds))", at: item["type"]?.position ?? item.position)
                return nil
            }
            var label: Int?
            if kind != .gauge {
                guard item["label"] != nil else {
                    config.error("a \(kind.rawValue) chart needs 'label: <column>' naming its bars, points or slices", at: item.position)
                    return nil
                }
                label = column(item, "label", in: schema, config: config, numeric: false)
            }
            var valueNodes: [ConfigNode] = []
            if let single = item["value"] { valueNodes.append(single) }
            valueNodes += item["values"]?.items ?? []
            let maximum = kind == .line ? 2 : 1
            guard !valueNodes.isEmpty, valueNodes.count <= maximum else {
                config.error("a \(kind.rawValue) chart takes \(kind == .line ? "one or two value columns ('value:' or 'values: [a, b]')" : "one 'value: <column>'"), found \(valueNodes.count)", at: item.position)
                return nil
            }
            var values: [Int] = []
            for node in valueNodes {
                guard let index = column(named: node, "value", in: schema, config: config, numeric: true) else { return nil }
                values.append(index)
            }
            var target: Money?
            if kind == .gauge {
                guard let node = item["target"], let amount = node.scalar.flatMap(Money.init), amount > Money(0) else {
                    config.error("a gauge needs 'target:' a positive number (the value the gauge is read against)", at: item["target"]?.position ?? item.position)
                    return nil
                }
                target = amount
            }
            let top = item["top"]?.scalar.flatMap { Int($0) } ?? (kind == .bar ? 10 : 6)
            if top < 1 { config.error("'top' must be at least 1", at: item["top"]?.position) }
            var headers: [String: String] = [:]
            for entry in item["headers"]?.entries ?? [] { headers[entry.key] = entry.value.scalar ?? entry.key }
            let formats = values.map { index in format(item, column: schema.columns[index], config: config) }
            let title = item["title"]?.scalar ?? schema.columns[values[0]].name
            return ChartSpec(kind: kind, title: title, input: stage, label: label, values: values,
                             seriesNames: values.map { headers[schema.columns[$0].name] ?? schema.columns[$0].name },
                             formats: formats, top: max(top, 1), target: target, summary: item["description"]?.scalar,
                             labelName: label.map { headers[schema.columns[$0].name] ?? schema.columns[$0].name } ?? "")
        }
    }

    /// The tiles under `kpis:`.
    static func kpis(_ config: StageConfig, inputs: [String: (port: Int, schema: Schema)]) -> [KPISpec] {
        (config.node["kpis"]?.items ?? []).compactMap { item in
            unknownKeys(item, allowed: KPISpec.keys, list: "kpis", config: config)
            guard let stage = item["input"]?.scalar, let (_, schema) = inputs[stage] else { return nil }
            var reduction = KPISpec.Reduction.sum
            if let node = item["agg"] {
                guard let value = node.scalar.flatMap(KPISpec.Reduction.init(rawValue:)) else {
                    config.error("'agg' must be one of \(KPISpec.Reduction.allCases.map(\.rawValue).joined(separator: ", ")), found \(node.shapeName)", at: node.position)
                    return nil
                }
                reduction = value
            }
            let value = column(item, "value", in: schema, config: config, numeric: reduction != .last && reduction != .count)
            if value == nil && reduction != .count {
                if item["value"] == nil { config.error("a KPI needs 'value: <column>' (or 'agg: count')", at: item.position) }
                return nil
            }
            let label = item["label"]?.scalar ?? value.map { schema.columns[$0].name } ?? stage
            let format = reduction == .count && item["format"] == nil ? .integer : self.format(item, column: value.map { schema.columns[$0] }, config: config)
            let period = item["period"] == nil ? nil : column(item, "period", in: schema, config: config, numeric: false)
            return KPISpec(label: label, input: stage, value: value, reduction: reduction, format: format, period: period)
        }
    }
}

/// The figures of one chart, summed per label as rows arrive.
final class ChartSeries {
    let spec: ChartSpec
    private(set) var labels: [Value] = []
    private var positions = FirstMetNumbering<Value>()
    private(set) var sums: [[Money]] = []
    private(set) var total = Money(0)

    init(spec: ChartSpec) { self.spec = spec }

    func add(_ row: Row) throws {
        if spec.kind == .gauge {
            if let amount = row[spec.values[0]].asMoney { total = try total.adding(amount) }
            return
        }
        let label = spec.label.map { row[$0] } ?? .null
        let (position, isNew) = positions.number(of: label)
        if isNew {
            labels.append(label)
            sums.append(Array(repeating: Money(0), count: spec.values.count))
        }
        for (series, column) in spec.values.enumerated() {
            if let amount = row[column].asMoney { sums[position][series] = try sums[position][series].adding(amount) }
        }
    }

    /// The items drawn: lines keep their labels' order (sorted, so periods run left to right); bars
    /// and slices go largest first, the top N then one "others" item.
    func items(locale: ReportLocale) throws -> [ChartItem] {
        let all = zip(labels, sums).map { ChartItem(label: locale.text($0, as: .text), values: $1, isOther: false) }
        switch spec.kind {
        case .line:
            let order = labels.indices.sorted { Value.compare(labels[$0], labels[$1]) < 0 }
            return order.map { all[$0] }
        case .gauge:
            return [ChartItem(label: spec.title, values: [total], isOther: false)]
        case .bar, .pie, .donut:
            let sorted = all.sorted { $0.values[0] > $1.values[0] || ($0.values[0] == $1.values[0] && $0.label < $1.label) }
            guard sorted.count > spec.top + 1 else { return sorted }
            var others = Money(0)
            for item in sorted.dropFirst(spec.top) { others = try others.adding(item.values[0]) }
            let rest = sorted.count - spec.top
            // Bars show the rest as a note beside the chart, slices as one grey slice.
            let label = spec.kind == .bar ? (locale.isFrench ? "Les \(rest) autres" : "The \(rest) others")
                : (locale.isFrench ? "Autres (\(rest))" : "Others (\(rest))")
            return Array(sorted.prefix(spec.top)) + [ChartItem(label: label, values: [others], isOther: true)]
        }
    }
}

/// One bar, point or slice: its label and its value per series.
public struct ChartItem: Sendable, Equatable {
    public var label: String
    public var values: [Money]
    /// The "others" item that sums what is past the top N.
    public var isOther: Bool
}

/// A KPI's running value.
final class KPIValue {
    let spec: KPISpec
    private var sum = Money(0)
    private var count: Int64 = 0
    private var extreme: Money?
    private var last: Value = .null
    private(set) var firstPeriod: Value = .null
    private(set) var lastPeriod: Value = .null

    init(spec: KPISpec) { self.spec = spec }

    func add(_ row: Row) throws {
        count += 1
        if let column = spec.period, !row[column].isNull {
            let period = row[column]
            if firstPeriod.isNull || Value.compare(period, firstPeriod) < 0 { firstPeriod = period }
            if lastPeriod.isNull || Value.compare(period, lastPeriod) > 0 { lastPeriod = period }
        }
        guard let column = spec.value else { return }
        let value = row[column]
        if !value.isNull { last = value }
        guard let amount = value.asMoney else { return }
        switch spec.reduction {
        case .sum: sum = try sum.adding(amount)
        case .min: extreme = extreme.map { Swift.min($0, amount) } ?? amount
        case .max: extreme = extreme.map { Swift.max($0, amount) } ?? amount
        case .count, .last: break
        }
    }

    var value: Value {
        switch spec.reduction {
        case .sum: return .decimal(sum)
        case .count: return .int(count)
        case .min, .max: return extreme.map(Value.decimal) ?? .null
        case .last: return last
        }
    }
}

/// Collects the rows of a report's inputs into its KPIs and charts.
final class ReportCollector {
    let kpis: [KPIValue]
    let charts: [ChartSeries]
    private let portOf: [String: Int]

    init(kpis: [KPISpec], charts: [ChartSpec], ports: [String: Int]) {
        self.kpis = kpis.map(KPIValue.init)
        self.charts = charts.map(ChartSeries.init)
        portOf = ports
    }

    func receive(_ batch: Batch, port: Int) throws {
        let kpiTargets = kpis.filter { portOf[$0.spec.input] == port }
        let chartTargets = charts.filter { portOf[$0.spec.input] == port }
        for row in batch.rows {
            for kpi in kpiTargets { try kpi.add(row) }
            for chart in chartTargets { try chart.add(row) }
        }
    }

    /// The KPI tiles for a template: `{label, value, period}`; every figure says which period it covers.
    func kpiTiles(locale: ReportLocale, asOf: CivilDate) -> [[String: Any]] {
        kpis.map { kpi in
            let period: String
            if kpi.spec.period != nil, !kpi.firstPeriod.isNull {
                period = locale.periodRange(kpi.firstPeriod, kpi.lastPeriod)
            } else {
                period = (locale.isFrench ? "au " : "as of ") + locale.date(asOf)
            }
            return ["label": kpi.spec.label, "value": locale.text(kpi.value, as: kpi.spec.format), "period": period]
        }
    }
}

/// The run's figures for a report or digest: counts, the first findings, status.
enum RunFacts {
    /// Findings listed in a report; the rest are in findings.csv.
    static let listedFindings = 10

    /// Rejects listed in a report or digest; the rest are in rejects.csv.
    static let listedRejects = 10

    static func context(_ context: StageContext, locale: ReportLocale) -> [String: Any] {
        let run = context.run
        let findings = zip(run.findings.firstEntries, run.findings.firstDetails).prefix(listedFindings).map { entry, detail in
            ["stage": entry[0], "source": MessageCatalogue.displaySource(entry[1]), "rule": MessageCatalogue.ruleName(entry[2]).text(for: locale),
             "rule_code": entry[2], "message": detail.message.text(for: locale)]
        }
        let rejects = zip(run.rejects.firstEntries, run.rejects.firstDetails).prefix(listedRejects).map { entry, detail in
            ["stage": entry[0], "source": MessageCatalogue.displaySource(entry[1]), "rule": MessageCatalogue.ruleName(entry[2]).text(for: locale),
             "rule_code": entry[2], "message": detail.message.text(for: locale), "values": entry[4],
             "amount": detail.amount.map(locale.money) ?? "—"]
        }
        return [
            "pipeline": run.pipelineName,
            "as_of": locale.date(run.asOf),
            "as_of_iso": run.asOf.description,
            "rejects": locale.integer(Int64(run.rejects.count)),
            "findings_count": locale.integer(Int64(run.findings.count)),
            "has_findings": !findings.isEmpty,
            "findings": findings,
            "has_more_findings": run.findings.count > findings.count,
            "more_findings": locale.integer(Int64(max(run.findings.count - findings.count, 0))),
            "has_rejects": run.rejects.count > 0,
            "rejected_rows": rejects,
            "rejected_amount": locale.money(run.rejects.amountTotal),
            "rejected_with_amount": locale.integer(Int64(run.rejects.amountCount)),
            "has_more_rejects": run.rejects.count > rejects.count,
            "more_rejects": locale.integer(Int64(max(run.rejects.count - rejects.count, 0))),
            "rejects_file": run.rejects.name,
        ]
    }
}
