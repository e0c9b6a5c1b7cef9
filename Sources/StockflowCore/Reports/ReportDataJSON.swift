import Foundation

/// The data behind a report's KPI tiles and charts, as JSON written beside the report
/// (`rapport-2026-11-25.html` → `rapport-2026-11-25.json`), so that a server can answer the
/// dashboard's questions without reading the sources again. Amounts are decimal strings, exact.
enum ReportDataJSON {
    /// The JSON file's path beside the report's.
    static func path(besideReport reportPath: String) -> String {
        let base = reportPath.hasSuffix(".html") ? String(reportPath.dropLast(5)) : reportPath
        return base + ".json"
    }

    /// The JSON of the collected KPIs and charts.
    static func encode(collector: ReportCollector, locale: ReportLocale, title: String, context: StageContext) throws -> Data {
        var charts: [[String: Any]] = []
        for series in collector.charts {
            let spec = series.spec
            let items = try series.items(locale: locale)
            var chart: [String: Any] = [
                "kind": spec.kind.rawValue, "title": spec.title, "input": spec.input,
                "label": spec.labelName, "series": spec.seriesNames, "formats": spec.formats.map(\.rawValue),
                "items": items.map { item in
                    ["label": item.label, "values": item.values.map(\.description), "other": item.isOther] as [String: Any]
                },
            ]
            chart["target"] = spec.target?.description ?? NSNull()
            charts.append(chart)
        }
        let kpis: [[String: Any]] = collector.kpis.map { kpi in
            ["label": kpi.spec.label, "input": kpi.spec.input, "agg": kpi.spec.reduction.rawValue,
             "format": kpi.spec.format.rawValue, "value": jsonValue(kpi.value)]
        }
        let document: [String: Any] = [
            "version": 1, "pipeline": context.run.pipelineName, "as_of": context.run.asOf.description, "title": title,
            "currency": locale.currency, "locale": locale.identifier, "kpis": kpis, "charts": charts,
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    private static func jsonValue(_ value: Value) -> Any {
        switch value {
        case .null: return NSNull()
        case .int(let number): return number
        case .decimal(let amount): return amount.description
        case .bool(let flag): return flag
        default: return value.description
        }
    }
}
