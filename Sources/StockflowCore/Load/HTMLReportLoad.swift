import Foundation

/// `load: html_report` — one self-contained HTML page of KPI tiles and charts drawn as inline SVG,
/// with the table behind each chart, laid out by a Mustache template.
public final class HTMLReportLoad: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "html_report", role: .load,
        summary: "Writes one self-contained HTML report: KPI tiles, then charts drawn by stockflow as inline SVG (bars of the top N and \"others\", a line with one or two series, a pie or donut of shares, a gauge against a target), each with a title, a text alternative and the table of its numbers; inline CSS with a print stylesheet; no script and no reference to anything outside the file, so it opens from disk, an attachment or offline. Numbers, money and dates follow the pipeline's locale (fr_FR: `1 234,56 €` with narrow no-break spaces, `24/11/2026`). The layout is a Mustache template (the bundled `reports/dashboard.mustache`, or your copy). Charts and KPIs read the stages they name; the run's reject and finding counts and its first findings are shown too. Written to a temporary and renamed into place when the run succeeds.",
        options: [
            OptionSpec("path", .outputPath, required: true, "Report path under the output folder; `{as_of}` and `{pipeline}` are filled in."),
            OptionSpec("title", .string, defaultNote: "the pipeline's description, else its name", "Heading of the page."),
            OptionSpec("charts", .list, required: true, "Charts in order, each `{type, title, input, label, value | values, top?, target?, format?, headers?, description?}`: `type` bar, line, pie, donut or gauge; `input` (stage id); `label` (column naming bars, points or slices; rows with the same label are summed); `value` (number column; a line takes `values: [a, b]`, the second on a right-hand axis); `top` (bars and slices before \"others\"; 10 for bars, 6 for slices); `target` (a gauge's target, required for gauges); `format` (money, integer, number, percent; by default decimals are money, integers whole numbers); `headers` (`{column: label}` for the table); `description` (the text alternative; generated from the data by default)."),
            OptionSpec("kpis", .list, "KPI tiles, each `{label, input, value, agg?, format?}`: `agg` sum (default), count, min, max or last."),
            OptionSpec("template", .inputPath, defaultNote: "the bundled reports/dashboard.mustache", "Mustache template of the page, relative to the pipeline file; the other `*.mustache` files of its folder are its partials. Copy reports/ to restyle."),
            OptionSpec("stylesheet", .inputPath, defaultNote: "the template's sibling `.css` file", "CSS inlined into the page (`{{{stylesheet}}}` in the template)."),
        ],
        example: """
        report:
          load: html_report
          path: "rapport-{as_of}.html"
          kpis:
            - {label: Valeur du stock, input: stock_by_warehouse, value: valeur}
          charts:
            - {type: bar, title: Stock par produit, input: stock_by_product, label: nom_prod, value: unites, top: 10}
            - {type: line, title: Commandes et CA par semaine, input: weekly_trend, label: periode, values: [chiffre_affaires, nb_commandes]}
            - {type: donut, title: Part des fournisseurs, input: supplier_shares, label: fournisseur, value: valeur_stock}
            - {type: gauge, title: Valeur du stock, input: stock_by_warehouse, value: valeur, target: 150000}
        """)

    static let itemKeys = ["kpis", "charts"]
    /// The longest chart table that is printed.
    static let printedTableRows = 12

    let path: OutputPath
    let title: String?
    let template: ReportTemplate
    let stylesheet: String
    let locale: ReportLocale
    let collector: ReportCollector
    public let outputSchema = Schema([])
    public var countsOwnOutput: Bool { true }

    init(path: OutputPath, title: String?, template: ReportTemplate, stylesheet: String, locale: ReportLocale, collector: ReportCollector) {
        self.path = path
        self.title = title
        self.template = template
        self.stylesheet = stylesheet
        self.locale = locale
        self.collector = collector
    }

    public static func inputReferences(_ config: StageConfig) -> [InputReference] {
        ReportOptions.inputReferences(config, keys: itemKeys)
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let path = config.outputPath("path") else { return nil }
        let schemas = ReportOptions.schemas(config, keys: itemKeys, inputs: inputs)
        let charts = ReportOptions.charts(config, inputs: schemas)
        let kpis = ReportOptions.kpis(config, inputs: schemas)
        guard let templateURL = BundledReports.resolve(config, option: "template", bundled: "dashboard.mustache") else { return nil }
        let template: ReportTemplate
        do {
            template = try ReportTemplate.load(templateURL)
        } catch {
            config.error("\(error)", at: config.node["template"]?.position)
            return nil
        }
        var stylesheet = ""
        let cssURL = config.node["stylesheet"] != nil ? config.inputPath("stylesheet")
            : templateURL.deletingPathExtension().appendingPathExtension("css")
        if let cssURL, FileManager.default.fileExists(atPath: cssURL.path) {
            stylesheet = (try? String(contentsOf: cssURL, encoding: .utf8)) ?? ""
        }
        let ports = schemas.mapValues(\.port)
        return HTMLReportLoad(path: path, title: config.string("title"), template: template, stylesheet: stylesheet,
                              locale: ReportLocale(context.settings), collector: ReportCollector(kpis: kpis, charts: charts, ports: ports))
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        try collector.receive(batch, port: port)
        context.countOut(batch.count)
    }

    /// Renders in `finalize`, once every stage has run, so that the run's findings are complete.
    public func finalize(_ context: StageContext) throws {
        let page = try template.render(try pageContext(context))
        if let outside = SelfContainedPage.outsideReference(in: page) {
            throw StageError("report template \(template.url.path) refers to something outside the page (\(outside)…); a report must be self-contained: inline the CSS and images")
        }
        let relativePath = path.resolved(asOf: context.run.asOf, pipeline: context.run.pipelineName)
        let url = try context.createOutput(relativePath)
        // Owned by a stage id of its own, so that `attach: [report]` mails the page and not its data.
        let dataURL = try context.run.outputs.create(ReportDataJSON.path(besideReport: relativePath), stage: context.stageID + ".data")
        do {
            try Data(page.utf8).write(to: url)
            try ReportDataJSON.encode(collector: collector, locale: locale, title: title ?? context.run.pipelineName, context: context).write(to: dataURL)
        } catch {
            throw StageError("cannot write report \(url.path): \(error.localizedDescription)")
        }
    }

    func pageContext(_ context: StageContext) throws -> [String: Any] {
        var charts: [[String: Any]] = []
        for (index, series) in collector.charts.enumerated() {
            let spec = series.spec
            let items = try series.items(locale: locale)
            let chart = SVGChart(kind: spec.kind, title: spec.title, items: items, seriesNames: spec.seriesNames,
                                 formats: spec.formats, target: spec.target, locale: locale, id: "chart-\(index + 1)", summary: spec.summary)
            charts.append([
                "id": "chart-\(index + 1)",
                "kind": spec.kind.rawValue,
                "title": spec.title,
                "description": chart.description,
                "svg": chart.render(),
                "marks": chart.markCount,
                "headers": tableHeaders(spec),
                "rows": tableRows(items, spec: spec, chart: chart),
                // Tables longer than this are left out of print (the page says where they are).
                "long_table": items.count > HTMLReportLoad.printedTableRows,
            ])
        }
        var page = RunFacts.context(context, locale: locale)
        page["lang"] = locale.language
        page["title"] = title ?? context.run.pipelineName
        page["stylesheet"] = stylesheet
        page["kpis"] = collector.kpiTiles(locale: locale, asOf: context.run.asOf)
        page["has_kpis"] = !collector.kpis.isEmpty
        page["charts"] = charts
        page["text"] = ReportWords.words(for: locale)
        return page
    }

    private func tableHeaders(_ spec: ChartSpec) -> [String] {
        let label = spec.kind == .gauge ? (locale.isFrench ? "Indicateur" : "Measure") : spec.labelName
        var headers = [label] + spec.seriesNames
        if spec.kind == .pie || spec.kind == .donut { headers.append(locale.isFrench ? "Part" : "Share") }
        if spec.kind == .gauge { headers += [locale.isFrench ? "Objectif" : "Target", locale.isFrench ? "Atteint" : "Reached"] }
        return headers
    }

    private func tableRows(_ items: [ChartItem], spec: ChartSpec, chart: SVGChart) -> [[String: Any]] {
        let total = items.reduce(Money(0)) { (try? $0.adding($1.values[0])) ?? $0 }
        return items.map { item in
            // Periods read as months (`janv. 2025`) in the table as on the axis.
            var cells = [spec.kind == .line ? locale.period(.text(item.label)) : item.label] + item.values.enumerated().map { locale.text(.decimal($1), as: spec.formats[$0]) }
            if spec.kind == .pie || spec.kind == .donut {
                let share = total.approximateDouble == 0 ? 0 : item.values[0].approximateDouble / total.approximateDouble
                cells.append(locale.percent(Money(shortestRepresentationOf: (share * 10_000).rounded() / 10_000) ?? Money(0)))
            }
            if spec.kind == .gauge, let target = spec.target {
                let reached = target.approximateDouble == 0 ? 0 : item.values[0].approximateDouble / target.approximateDouble
                cells += [locale.text(.decimal(target), as: spec.formats[0]),
                          locale.percent(Money(shortestRepresentationOf: (reached * 10_000).rounded() / 10_000) ?? Money(0))]
            }
            return ["cells": cells, "other": item.isOther]
        }
    }
}

/// The fixed words of the bundled layouts, per locale; a copied template may write its own.
enum ReportWords {
    static func words(for locale: ReportLocale) -> [String: String] {
        locale.isFrench ? [
            "as_of": "Situation au", "kpis": "Indicateurs", "charts": "Graphiques", "data": "Données du graphique",
            "run": "Exécution", "rejects": "Lignes rejetées", "findings": "Constats", "first_findings": "Premiers constats",
            "rule": "Règle", "stage": "Étape", "source": "Source", "message": "Constat", "more": "autres dans findings.csv",
            "generated": "Produit par stockflow", "none": "Aucun constat.",
            "rejects_title": "Lignes rejetées, hors des chiffres", "rejected_amount": "Montant laissé de côté",
            "rows_with_amount": "lignes avec un montant lisible", "first_rejects": "Premières lignes rejetées",
            "reason": "Motif", "values": "Valeurs d’origine", "amount": "Montant",
            "more_rejects": "autres lignes", "full_list": "Liste complète : feuille « Rejets » du classeur et fichier",
            "full_list_end": ".",
            "findings_in_print": "Les constats sont listés dans la feuille « Constats » du classeur et dans findings.csv.",
            "table_in_print": "Tableau complet dans le classeur (non imprimé ici).",
            "kpi_period": "Période", "attached": "joint à ce message",
        ] : [
            "as_of": "As of", "kpis": "Key figures", "charts": "Charts", "data": "Chart data",
            "run": "Run", "rejects": "Rejected rows", "findings": "Findings", "first_findings": "First findings",
            "rule": "Rule", "stage": "Stage", "source": "Source", "message": "Finding", "more": "more in findings.csv",
            "generated": "Made by stockflow", "none": "No findings.",
            "rejects_title": "Rejected rows, left out of the figures", "rejected_amount": "Amount left out",
            "rows_with_amount": "rows with a readable amount", "first_rejects": "First rejected rows",
            "reason": "Reason", "values": "Original values", "amount": "Amount",
            "more_rejects": "more rows", "full_list": "Full list: the workbook's Rejects sheet and the file",
            "full_list_end": ".",
            "findings_in_print": "Findings are listed in the workbook's Findings sheet and in findings.csv.",
            "table_in_print": "Full table in the workbook (not printed here).",
            "kpi_period": "Period", "attached": "attached",
        ]
    }
}
