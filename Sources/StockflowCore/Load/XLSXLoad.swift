import Foundation

/// `load: xlsx` — writes several stages as sheets of one Excel workbook, streamed in constant memory.
public final class XLSXLoad: StageRunner, StageKind, PreparingLoad {
    public static let spec = StageSpec(
        kind: "xlsx", role: .load,
        summary: "Writes an Excel workbook through libxlsxwriter in constant-memory mode (rows stream to disk, so a million-row sheet takes little memory). Each sheet reads one stage: styled, frozen and filtered header; fitted column widths; money with 2 places and the currency, real Excel dates, integers; an optional totals row (SUBTOTAL formulas with their exact cached values). A sheet that passes Excel's 1,048,576 rows continues on a next sheet `Name (2)`, and the run summary says so. The file is written to a temporary and renamed into place when the run succeeds.",
        options: [
            OptionSpec("path", .outputPath, required: true, "Workbook path under the output folder; `{as_of}` and `{pipeline}` are filled in."),
            OptionSpec("sheets", .list, required: true, "Sheets in order, each `{name, input, columns?, headers?, totals?, formats?}`: `name` (≤ 27 characters), `input` (stage id), `columns` (subset and order, default all), `headers` (`{column: label}`), `totals` (columns summed in a totals row), `formats` (`{column: money | percent | number | integer | code | date | month | week | text | words}`: `month` shows a `2025-01` label as its first day, a real date; `week` a `2025-W01` label as its Monday, a real date, with the label (`2025-S01` in French) in a column added beside it; `words` shows coded values in words; by default decimals are money, integers named code*/ *_id/id are codes, other integers numbers)."),
            OptionSpec("findings_sheet", .string, "Name of a last sheet listing the run's findings (rule, source, evidence), from every stage of the pipeline. No such sheet when absent."),
            OptionSpec("charts", .list, "Native Excel charts on a summary sheet, drawn from the workbook's own cells, each `{type, title?, sheet, categories, values}`: `type` bar, column, line, pie or doughnut; `sheet` (name of a sheet above); `categories` (its column of labels); `values` (one number column, or a list for several series)."),
            OptionSpec("rejects_sheet", .string, defaultNote: "Rejets (fr_FR), Rejects (en_US)", "Name of the sheet listing the run's rejected rows (source file and line, rule in words, original values, amount, with the total of the amounts), added after the others when the run has rejects."),
            OptionSpec("charts_sheet", .string, defaultNote: "Graphiques (fr_FR), Charts (en_US)", "Name of the summary sheet holding the charts, placed after the data sheets."),
            OptionSpec("max_rows_per_sheet", .int, default: String(XLSXLimits.maxRows), "Rows per sheet (header and totals row included) before continuing on a next sheet; Excel's limit by default."),
        ],
        example: """
        workbook:
          load: xlsx
          path: "inventaire-{as_of}.xlsx"
          sheets:
            - {name: Commandes, input: lines, totals: [quantite_cmd, montant_commande]}
            - {name: Stock par entrepôt, input: stock_by_warehouse, headers: {valeur: Valeur du stock}}
        """)

    struct Sheet {
        var name: String
        var columns: [Int]
        var schema: Schema
        var headers: [String]
        var totals: Set<Int>
        /// Number format overrides by sheet column position.
        var formats: [Int: String]
    }

    /// Named number formats a sheet may ask for, by locale.
    static func namedFormat(_ name: String, locale: String, currency: String) -> String? {
        let french = locale == "fr_FR"
        switch name {
        case "money": return french ? "#,##0.00 \"\(currency)\"" : "\"\(currency)\"#,##0.00"
        case "percent": return "0.00%"
        case "number": return "#,##0.00"
        case "integer": return "#,##0"
        case "code": return "0"
        case "date": return french ? "dd/mm/yyyy" : "mm/dd/yyyy"
        // A month is its first day shown as `janvier 2025`: a real date that sorts and filters; [$-40C] asks for French month names.
        case "month": return french ? "[$-40C]mmmm yyyy" : "[$-409]mmmm yyyy"
        // A week is its Monday as a date; its label (`2025-S01`) is written in the column beside it.
        case "week": return french ? "dd/mm/yyyy" : "mm/dd/yyyy"
        case "bool": return french ? "\"Oui\";\"Oui\";\"Non\"" : "\"Yes\";\"Yes\";\"No\""
        case "text": return "@"
        default: return nil
        }
    }

    /// One worksheet part being written (a sheet spills over into several parts).
    final class Part {
        let worksheet: XLSXWorksheet
        var nextRow = 1
        init(worksheet: XLSXWorksheet) { self.worksheet = worksheet }
    }

    /// What the rows of one sheet add up to, kept by the thread that prepares its batches: the column
    /// widths so far, and per part the sums of the totals columns and the largest magnitude per
    /// column (for the unit of a chart's value axis).
    final class SheetTally {
        var rowsInPart = 0
        var widths: [Int]
        var sums: [[Int: Money]] = [[:]]
        var largest: [[Int: Double]] = [[:]]
        init(widths: [Int]) { self.widths = widths }
    }

    /// Rows of one sheet converted into cells on the runner's thread; `closing` is set when they
    /// start a new part: the widths and sums the previous part is closed with.
    struct PreparedRows {
        var cells: XLSXCells
        var closing: (widths: [Int], sums: [Int: Money])?
    }

    let path: OutputPath
    let sheets: [Sheet]
    let maxRows: Int
    let settings: PipelineSettings
    public let outputSchema = Schema([])
    public var countsOwnOutput: Bool { true }

    private var workbook: XLSXWorkbook?
    private var temporary: URL?
    private var parts: [[Part]] = []
    /// The runner's side of each sheet (see `prepare`).
    private let tallies: [SheetTally]
    /// The cell format of each column, per sheet (the writer's side).
    private var columnFormats: [[XLSXFormat?]?]
    private var formats: [String: XLSXFormat] = [:]

    let findingsSheet: String?

    /// A native chart over one sheet's cells: positions are columns of that sheet.
    struct ChartRequest {
        var kind: XLSXChartKind
        var title: String
        var sheet: Int
        var categories: Int
        var values: [Int]
    }

    var charts: [ChartRequest] = []
    var chartsSheet = "Charts"
    /// The sheet listing the run's rejects, added when there are any.
    var rejectsSheet = "Rejets"
    private var runPipeline: String?
    private var runAsOf: CivilDate?
    var locale: ReportLocale { ReportLocale(settings) }

    init(path: OutputPath, sheets: [Sheet], maxRows: Int, settings: PipelineSettings, findingsSheet: String?) {
        self.findingsSheet = findingsSheet
        self.path = path
        self.sheets = sheets
        self.maxRows = maxRows
        self.settings = settings
        tallies = sheets.map { SheetTally(widths: $0.headers.map { $0.count + 2 }) }
        columnFormats = Array(repeating: nil, count: sheets.count)
    }

    public static func inputReferences(_ config: StageConfig) -> [InputReference] {
        guard let items = config.node["sheets"]?.items else { return [] }
        return items.compactMap { item in
            guard let input = item["input"] else {
                config.error("each sheet of stage '\(config.id)' needs 'input: <stage id>'", at: item.position)
                return nil
            }
            guard let stage = input.scalar else {
                config.error("'input' of a sheet names one stage, found \(input.shapeName)", at: input.position)
                return nil
            }
            return InputReference(port: item["name"]?.scalar ?? stage, stage: stage, position: input.position, lookup: false)
        }
    }

    /// The keys of one item of `sheets:` (described in the `sheets` option).
    static let sheetOptions: [OptionSpec] = [
        OptionSpec("name", .string, "Sheet name."), OptionSpec("input", .string, required: true, "Stage id."),
        OptionSpec("columns", .list, "Columns, subset and order."), OptionSpec("headers", .mapping, "Column labels."),
        OptionSpec("totals", .list, "Columns summed in a totals row."), OptionSpec("formats", .mapping, "Number formats by column."),
    ]

    /// The keys of one item of `charts:` (described in the `charts` option).
    static let chartOptions: [OptionSpec] = [
        OptionSpec("type", .choice(XLSXChartKind.allCases.map(\.rawValue)), required: true, "Chart type."),
        OptionSpec("title", .string, "Title."), OptionSpec("sheet", .string, required: true, "Sheet drawn from."),
        OptionSpec("categories", .string, required: true, "Column of labels."), OptionSpec("values", .any, required: true, "Number column(s)."),
    ]

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let path = config.outputPath("path"), let items = config.node["sheets"]?.items else { return nil }
        let maxRows = config.int("max_rows_per_sheet")
        if maxRows < 3 || maxRows > XLSXLimits.maxRows {
            config.error("'max_rows_per_sheet' must be between 3 and \(XLSXLimits.maxRows)", at: config.node["max_rows_per_sheet"]?.position)
        }
        var sheets: [Sheet] = []
        var names = Set<String>()
        // `inputReferences` has one reference per sheet naming its input, in order: pair them up.
        let sheetItems = items.filter { $0["input"]?.scalar != nil }
        for (index, (item, schema)) in zip(sheetItems, inputs).enumerated() {
            OptionTable(item, options: sheetOptions, place: "a sheet of stage '\(config.id)'", diagnostics: config.diagnostics)
                .reportUnknownKeys()
            let name = item["name"]?.scalar ?? "Sheet\(index + 1)"
            if name.count > 27 || name.contains(where: { "[]:*?/\\".contains($0) }) || name.hasPrefix("'") {
                config.error("sheet name '\(name)' must have at most 27 characters (31 in Excel, less room for a ' (2)' continuation) and none of []:*?/\\", at: item["name"]?.position ?? item.position)
            }
            if !names.insert(name.lowercased()).inserted {
                config.error("sheet name '\(name)' is used twice in stage '\(config.id)'", at: item["name"]?.position ?? item.position)
            }
            var columns = Array(schema.columns.indices)
            if let list = item["columns"]?.items {
                columns = list.compactMap { entry in
                    guard let name = entry.scalar, let column = schema.index(of: name) else {
                        config.error("sheet '\(name)' lists column \(entry.shapeName), which its input does not have (columns: \(schema.names.joined(separator: ", ")))\(didYouMean(entry.scalar ?? "", schema.names))", at: entry.position)
                        return nil
                    }
                    return column
                }
            }
            var headers = columns.map { schema.columns[$0].name }
            for entry in item["headers"]?.entries ?? [] {
                guard let position = columns.firstIndex(where: { schema.columns[$0].name == entry.key }) else {
                    config.error("header for unknown column '\(entry.key)' in sheet '\(name)'\(didYouMean(entry.key, headers))", at: entry.keyPosition)
                    continue
                }
                headers[position] = entry.value.scalar ?? entry.key
            }
            var totals = Set<Int>()
            for entry in item["totals"]?.items ?? [] {
                guard let column = entry.scalar.flatMap({ name in columns.firstIndex { schema.columns[$0].name == name } }),
                      [.int, .decimal].contains(schema.columns[columns[column]].type) else {
                    config.error("totals of sheet '\(name)' must name numeric columns of the sheet, found \(entry.shapeName)", at: entry.position)
                    continue
                }
                totals.insert(column)
            }
            var formats: [Int: String] = [:]
            for entry in item["formats"]?.entries ?? [] {
                guard let position = columns.firstIndex(where: { schema.columns[$0].name == entry.key }) else {
                    config.error("format for unknown column '\(entry.key)' in sheet '\(name)'\(didYouMean(entry.key, schema.names))", at: entry.keyPosition)
                    continue
                }
                let names = ["money", "percent", "number", "integer", "code", "date", "month", "week", "text", "words"]
                guard let formatName = entry.value.scalar, names.contains(formatName) else {
                    config.error("format of column '\(entry.key)' must be one of \(names.joined(separator: ", ")), found \(entry.value.shapeName)", at: entry.value.position)
                    continue
                }
                formats[position] = formatName
            }
            let sheet = Sheet(name: name, columns: columns, schema: schema, headers: headers, totals: totals, formats: formats)
            sheets.append(withWeekLabels(sheet, french: context.settings.locale == "fr_FR"))
        }
        let findingsSheet = config.string("findings_sheet")
        if let findingsSheet, names.contains(findingsSheet.lowercased()) {
            config.error("findings_sheet '\(findingsSheet)' has the name of another sheet", at: config.node["findings_sheet"]?.position)
        }
        let load = XLSXLoad(path: path, sheets: sheets, maxRows: maxRows, settings: context.settings, findingsSheet: findingsSheet)
        load.charts = chartRequests(config, sheets: sheets)
        load.chartsSheet = config.string("charts_sheet") ?? (context.settings.locale == "fr_FR" ? "Graphiques" : "Charts")
        load.rejectsSheet = config.string("rejects_sheet") ?? (context.settings.locale == "fr_FR" ? "Rejets" : "Rejects")
        if names.contains(load.rejectsSheet.lowercased()) || load.rejectsSheet.lowercased() == findingsSheet?.lowercased() {
            config.error("rejects_sheet '\(load.rejectsSheet)' has the name of another sheet; set 'rejects_sheet:' to another name", at: config.node["rejects_sheet"]?.position)
        }
        if !load.charts.isEmpty && (names.contains(load.chartsSheet.lowercased()) || load.chartsSheet.lowercased() == findingsSheet?.lowercased()) {
            config.error("charts_sheet '\(load.chartsSheet)' has the name of another sheet", at: config.node["charts_sheet"]?.position)
        }
        return load
    }

    /// A `week` column becomes two: the week's Monday as a real date (it sorts and filters), and beside it
    /// the week's label, `2025-S01` in French and `2025-W01` in English, under "Libellé" ("Label").
    static func withWeekLabels(_ sheet: Sheet, french: Bool) -> Sheet {
        var result = sheet
        // From the last week column back, so that the positions still to do stay where they were.
        for position in sheet.formats.filter({ $0.value == "week" }).keys.sorted(by: >) {
            func shifted(_ index: Int) -> Int { index > position ? index + 1 : index }
            result.columns.insert(result.columns[position], at: position + 1)
            result.headers.insert(french ? "Libellé" : "Label", at: position + 1)
            result.totals = Set(result.totals.map(shifted))
            result.formats = Dictionary(uniqueKeysWithValues: result.formats.map { (shifted($0.key), $0.value) })
            result.formats[position + 1] = "week-label"
        }
        return result
    }

    /// Reads `charts:` against the sheets' columns.
    static func chartRequests(_ config: StageConfig, sheets: [Sheet]) -> [ChartRequest] {
        (config.node["charts"]?.items ?? []).compactMap { item in
            OptionTable(item, options: chartOptions, place: "a chart of stage '\(config.id)'", diagnostics: config.diagnostics)
                .reportUnknownKeys()
            let kinds = XLSXChartKind.allCases.map(\.rawValue)
            guard let kind = item["type"]?.scalar.flatMap(XLSXChartKind.init(rawValue:)) else {
                config.error("each chart needs 'type:' one of \(kinds.joined(separator: ", ")), found \(item["type"]?.shapeName ?? "nothing")", at: item["type"]?.position ?? item.position)
                return nil
            }
            guard let sheetName = item["sheet"]?.scalar, let sheetIndex = sheets.firstIndex(where: { $0.name == sheetName }) else {
                config.error("a chart's 'sheet' must name a sheet of this workbook (\(sheets.map(\.name).joined(separator: ", "))), found \(item["sheet"]?.shapeName ?? "nothing")", at: item["sheet"]?.position ?? item.position)
                return nil
            }
            let sheet = sheets[sheetIndex]
            let columnNames = sheet.columns.map { sheet.schema.columns[$0].name }
            func position(_ node: ConfigNode?, numeric: Bool) -> Int? {
                guard let node, let name = node.scalar, let position = columnNames.firstIndex(of: name) else {
                    config.error("a chart over sheet '\(sheetName)' names column \(node?.shapeName ?? "nothing"), which the sheet does not have (columns: \(columnNames.joined(separator: ", ")))", at: node?.position ?? item.position)
                    return nil
                }
                if numeric && ![.int, .decimal].contains(sheet.schema.columns[sheet.columns[position]].type) {
                    config.error("chart values must be number columns; '\(name)' is not", at: node.position)
                    return nil
                }
                return position
            }
            guard let categories = position(item["categories"], numeric: false) else { return nil }
            let valueNodes = item["values"]?.items ?? [item["values"]].compactMap { $0 }
            let values = valueNodes.compactMap { position($0, numeric: true) }
            guard !values.isEmpty, values.count == valueNodes.count else {
                if valueNodes.isEmpty { config.error("a chart needs 'values:' a number column of sheet '\(sheetName)'", at: item.position) }
                return nil
            }
            return ChartRequest(kind: kind, title: item["title"]?.scalar ?? sheetName, sheet: sheetIndex, categories: categories, values: values)
        }
    }

    /// The summary sheet: each chart reads the first part of its sheet (the rows up to Excel's limit).
    private func writeCharts(_ context: StageContext) throws {
        guard let workbook, !charts.isEmpty else { return }
        let summary = try workbook.addWorksheet(named: chartsSheet)
        for (index, request) in charts.enumerated() {
            guard let part = parts[request.sheet].first, part.nextRow > 1 else {
                context.note("chart '\(request.title)' left out: sheet '\(sheets[request.sheet].name)' has no rows")
                continue
            }
            let sheet = sheets[request.sheet]
            let series = request.values.map { value in
                XLSXChartSeries(name: sheet.headers[value],
                                categories: XLSXChartSeries.range(sheet: part.worksheet.name, col: request.categories, firstRow: 1, lastRow: part.nextRow - 1),
                                values: XLSXChartSeries.range(sheet: part.worksheet.name, col: value, firstRow: 1, lastRow: part.nextRow - 1))
            }
            let shares = request.kind == .pie || request.kind == .doughnut
            let chart = try workbook.addChart(request.kind, title: request.title, series: series,
                                              valueFormat: shares ? nil : axisFormat(sheet: sheet, largest: tallies[request.sheet].largest[0], column: request.values[0]),
                                              categoryFormat: categoryFormat(sheet.formats[request.categories]),
                                              percentLabels: shares)
            // One chart per landscape page: 30 rows each, a page break before every chart but the first.
            try summary.insertChart(chart, row: 1 + index * XLSXLoad.rowsPerChart, col: 0, xScale: 1.6, yScale: 1.6)
        }
        try setUpPrinting(summary, widths: Array(repeating: 9, count: 13), lastRow: charts.count * XLSXLoad.rowsPerChart - 1,
                          rowBreaks: (1..<max(charts.count, 1)).map { $0 * XLSXLoad.rowsPerChart }, landscape: true)
    }

    /// The category axis format of a chart over a month or week column (their cells are dates).
    private func categoryFormat(_ name: String?) -> String? {
        switch name {
        case "month": return locale.isFrench ? "[$-40C]mmm yyyy" : "[$-409]mmm yyyy"
        case "week": return XLSXLoad.namedFormat("week", locale: settings.locale, currency: currencySymbol)
        default: return nil
        }
    }

    /// Rows of the charts sheet per chart (one landscape A4 page).
    static let rowsPerChart = 30

    /// The value axis format of a chart over a column: money in thousands with its unit (`700 k€`) once
    /// amounts reach 10 000, else whole euros; counts with thousands grouped.
    private func axisFormat(sheet: Sheet, largest: [Int: Double], column: Int) -> String {
        let symbol = currencySymbol
        let isMoney = sheet.schema.columns[sheet.columns[column]].type == .decimal && (sheet.formats[column] ?? "money") == "money"
        let large = (largest[column] ?? 0) >= 10_000
        let french = locale.isFrench
        switch (isMoney, large) {
        case (true, true): return french ? "#,##0,\" k\(symbol)\"" : "\"\(symbol)\"#,##0,\"k\""
        case (true, false): return french ? "#,##0\" \(symbol)\"" : "\"\(symbol)\"#,##0"
        case (false, true): return french ? "#,##0,\" k\"" : "#,##0,\"k\""
        case (false, false): return "#,##0"
        }
    }

    private var currencySymbol: String {
        switch settings.currency {
        case "EUR": return "€"
        case "USD": return "$"
        case "GBP": return "£"
        case "CHF": return "CHF"
        default: return settings.currency
        }
    }

    private func format(for column: Column, override: String? = nil) throws -> XLSXFormat? {
        if let override, let numberFormat = XLSXLoad.namedFormat(override, locale: settings.locale, currency: currencySymbol) {
            return try cachedFormat("named-\(override)", XLSXFormatSpec(numberFormat: numberFormat))
        }
        let key: String
        let numberFormat: String?
        switch column.type {
        case .decimal:
            key = "money"
            numberFormat = XLSXLoad.namedFormat("money", locale: settings.locale, currency: currencySymbol)
        case .int:
            let isCode = column.name.hasPrefix("code") || column.name.hasSuffix("_id") || column.name == "id"
            key = isCode ? "code" : "int"
            numberFormat = isCode ? "0" : "#,##0"
        case .date:
            key = "date"
            numberFormat = settings.locale == "fr_FR" ? "dd/mm/yyyy" : "mm/dd/yyyy"
        case .datetime:
            key = "datetime"
            numberFormat = settings.locale == "fr_FR" ? "dd/mm/yyyy hh:mm" : "mm/dd/yyyy hh:mm"
        case .bool:
            key = "bool"
            numberFormat = XLSXLoad.namedFormat("bool", locale: settings.locale, currency: currencySymbol)
        default:
            return nil
        }
        return try cachedFormat(key, XLSXFormatSpec(numberFormat: numberFormat))
    }

    private func cachedFormat(_ key: String, _ spec: XLSXFormatSpec) throws -> XLSXFormat {
        if let format = formats[key] { return format }
        guard let workbook else { throw StageError("workbook is not open") }
        let format = try workbook.addFormat(spec)
        formats[key] = format
        return format
    }

    private func open(_ context: StageContext) throws {
        guard workbook == nil else { return }
        let relative = path.resolved(asOf: context.run.asOf, pipeline: context.run.pipelineName)
        let temporary = try context.createOutput(relative)
        self.temporary = temporary
        let book = try XLSXWorkbook(path: temporary.path, constantMemory: true,
                                    tmpdir: temporary.deletingLastPathComponent().path)
        try book.setProperties(title: "\(context.run.pipelineName) \(context.run.asOf)", author: "stockflow")
        runPipeline = context.run.pipelineName
        runAsOf = context.run.asOf
        workbook = book
        parts = []
        for sheet in sheets {
            parts.append([try startPart(sheet, number: 1)])
        }
    }

    private func startPart(_ sheet: Sheet, number: Int) throws -> Part {
        guard let workbook else { throw StageError("workbook is not open") }
        let worksheet = try workbook.addWorksheet(named: number == 1 ? sheet.name : "\(sheet.name) (\(number))")
        let header = try cachedFormat("header", XLSXFormatSpec(bold: true, backgroundColor: 0x1F4E78, fontColor: 0xFFFFFF,
                                                               borderBottom: .thin, verticalAlignment: .center, textWrap: true))
        for (index, title) in sheet.headers.enumerated() {
            try worksheet.writeString(row: 0, col: index, title, format: header)
        }
        try worksheet.freezePanes(row: 1, col: 0)
        return Part(worksheet: worksheet)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        try write(try prepare(batch, port: port), port: port, context: context)
    }

    /// The runner's half of `receive`: every cell converted (months and weeks as dates, codes in
    /// words, numbers as doubles, text as C strings), widths, sums and magnitudes tallied, and the
    /// rows cut where a part is full. Touches only `tallies[port]`, so a writer thread can meanwhile
    /// write the batches before.
    func prepare(_ batch: Batch, port: Int) throws -> [PreparedRows] {
        let sheet = sheets[port]
        let tally = tallies[port]
        let locale = self.locale
        let french = locale.isFrench
        // Room for the totals row: data rows stop one row earlier on sheets with totals.
        let lastDataRow = maxRows - (sheet.totals.isEmpty ? 1 : 2)
        let width = sheet.columns.count
        let named = (0..<width).map { sheet.formats[$0] }
        let summed = (0..<width).map { sheet.totals.contains($0) }
        var prepared: [PreparedRows] = []
        var cells = XLSXCells(width: width, rows: batch.count)
        var closing: (widths: [Int], sums: [Int: Money])?
        for row in batch.rows {
            if tally.rowsInPart + 1 > lastDataRow {
                if cells.rowCount > 0 || closing != nil { prepared.append(PreparedRows(cells: cells, closing: closing)) }
                closing = (tally.widths, tally.sums[tally.sums.count - 1])
                cells = XLSXCells(width: width, rows: batch.count)
                tally.rowsInPart = 0
                tally.sums.append([:])
                tally.largest.append([:])
            }
            let part = tally.sums.count - 1
            for (position, column) in sheet.columns.enumerated() {
                var value = row[column]
                switch named[position] {
                case "month": value = XLSXLoad.firstDayOfMonth(value)
                case "week": value = XLSXLoad.mondayOfWeek(value)
                case "week-label": value = XLSXLoad.weekLabel(value, french: french)
                case "words": if case .text(let code) = value { value = .text(MessageCatalogue.valueWord(code).text(for: locale)) }
                default: break
                }
                if let magnitude = value.asMoney?.approximateDouble.magnitude, magnitude > tally.largest[part][position] ?? 0 {
                    tally.largest[part][position] = magnitude
                }
                var width = XLSXLoad.append(value, to: &cells)
                // A month shows as words: `septembre 2025` needs 14 characters where a date needs 10 (else `###`).
                if named[position] == "month", case .date = value { width = max(width, 17) }
                if width > tally.widths[position] { tally.widths[position] = width }
                if summed[position], let amount = value.asMoney {
                    tally.sums[part][position] = try (tally.sums[part][position] ?? Money(0)).adding(amount)
                }
            }
            tally.rowsInPart += 1
        }
        if cells.rowCount > 0 || closing != nil { prepared.append(PreparedRows(cells: cells, closing: closing)) }
        return prepared
    }

    /// The writer's half of `receive`: the prepared rows go to the workbook, a part closed and the
    /// next started where `prepare` cut them.
    func write(_ prepared: [PreparedRows], port: Int, context: StageContext) throws {
        try open(context)
        let sheet = sheets[port]
        let formats = try columnFormats[port] ?? sheet.columns.indices.map {
            try format(for: sheet.schema.columns[sheet.columns[$0]], override: sheet.formats[$0])
        }
        columnFormats[port] = formats
        var rows = 0
        for piece in prepared {
            var part = parts[port][parts[port].count - 1]
            if let closing = piece.closing {
                try closePart(part, sheet: sheet, widths: closing.widths, sums: closing.sums)
                part = try startPart(sheet, number: parts[port].count + 1)
                parts[port].append(part)
            }
            try part.worksheet.writeCells(piece.cells, firstRow: part.nextRow, formats: formats)
            part.nextRow += piece.cells.rowCount
            rows += piece.cells.rowCount
        }
        context.countOut(rows)
    }

    /// Appends one cell and returns the width its text needs.
    private static func append(_ value: Value, to cells: inout XLSXCells) -> Int {
        switch value {
        case .null:
            cells.appendBlank()
            return 0
        case .int(let number):
            cells.appendNumber(Double(number))
            return digitCount(number) + 2
        case .decimal(let money):
            cells.appendNumber(money.approximateDouble)
            let digits = max(digitCount(money.units), money.scale + 1)
            return digits + digits / 3 + 4
        case .text(let text):
            cells.appendText(text)
            // UTF-8 length: cheap (no grapheme walk per cell), a slight overestimate for accented text.
            return text.utf8.count + 1
        case .bool(let flag):
            // 1 or 0 under a Oui/Non number format: filters and sums like a flag, reads as a word.
            cells.appendNumber(flag ? 1 : 0)
            return 6
        case .date(let date):
            cells.appendNumber(date.excelSerial)
            return 12
        case .datetime(let stamp):
            cells.appendNumber(stamp.excelSerial)
            return 17
        }
    }

    private func closePart(_ part: Part, sheet: Sheet, widths: [Int], sums: [Int: Money]) throws {
        let lastRow = max(part.nextRow - 1, 1)
        try part.worksheet.autofilter(firstRow: 0, firstCol: 0, lastRow: lastRow, lastCol: max(sheet.columns.count - 1, 0))
        try setUpPrinting(part.worksheet, widths: widths, lastRow: sheet.totals.isEmpty ? lastRow : lastRow + 1)
        if !sheet.totals.isEmpty {
            let bold = try cachedFormat("total-label", XLSXFormatSpec(bold: true, borderBottom: nil))
            let labelColumn = (0..<sheet.columns.count).first { !sheet.totals.contains($0) }
            if let labelColumn { try part.worksheet.writeString(row: part.nextRow, col: labelColumn, "Total", format: bold) }
            for position in sheet.totals.sorted() {
                let column = sheet.schema.columns[sheet.columns[position]]
                let base = try format(for: column, override: sheet.formats[position])?.spec ?? XLSXFormatSpec()
                var spec = base
                spec.bold = true
                let format = try cachedFormat("total-\(column.type.rawValue)-\(base.numberFormat ?? "")", spec)
                let letter = columnLetters(position)
                // SUBTOTAL(109, ...) sums only the rows an autofilter leaves visible.
                try part.worksheet.writeFormula(row: part.nextRow, col: position,
                                                "=SUBTOTAL(109,\(letter)2:\(letter)\(lastRow + 1))",
                                                cachedResult: (sums[position] ?? Money(0)).approximateDouble, format: format)
            }
        }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        try open(context)
        for (port, sheet) in sheets.enumerated() {
            let tally = tallies[port]
            for part in parts[port] {
                for (position, width) in tally.widths.enumerated() {
                    try part.worksheet.setColumn(first: position, last: position, width: Double(min(max(width, 8), 60)))
                }
            }
            if let last = parts[port].last { try closePart(last, sheet: sheet, widths: tally.widths, sums: tally.sums[tally.sums.count - 1]) }
            if parts[port].count > 1 {
                context.note("sheet '\(sheet.name)' passed \(maxRows) rows and continues on \(parts[port].count - 1) more sheet(s): \(parts[port].dropFirst().map(\.worksheet.name).joined(separator: ", "))")
            }
        }
    }

    public func finalize(_ context: StageContext) throws {
        guard workbook != nil else { return }
        try writeCharts(context)
        if let findingsSheet { try writeFindings(context.run.findings, named: findingsSheet) }
        if context.run.rejects.count > 0 { try writeRejects(context.run.rejects, named: rejectsSheet) }
        do {
            try workbook?.close()
        } catch {
            throw StageError("cannot write workbook \(path.template): \(error)")
        }
        workbook = nil
    }

    /// A sheet listing the run's findings: rule in words, stage, source and evidence, for the finance reader.
    private func writeFindings(_ log: IssueLog, named name: String) throws {
        let french = locale.isFrench
        // Stage ids are the pipeline author's words, not the reader's: they stay in findings.csv.
        let titles = french ? ["Règle", "Source", "Constat", "Valeurs d’origine"] : ["Rule", "Source", "Finding", "Original values"]
        let rows = zip(log.firstEntries, log.firstDetails).map { entry, detail in
            [MessageCatalogue.ruleName(entry[2]).text(for: locale), MessageCatalogue.displaySource(entry[1]),
             detail.message.text(for: locale), entry[4]]
        }
        try writeIssueSheet(named: name, titles: titles, rows: rows, amounts: nil, total: log.count, file: log.name)
    }

    /// The Rejets sheet: every rejected row with where it came from, the rule in words, its original
    /// values and the amount it states, summed in a totals row, so the reader sees what the figures leave out.
    private func writeRejects(_ log: IssueLog, named name: String) throws {
        let french = locale.isFrench
        let titles = french ? ["Source", "Règle", "Motif", "Valeurs d’origine", "Montant"]
            : ["Source", "Rule", "Reason", "Original values", "Amount"]
        let rows = zip(log.firstEntries, log.firstDetails).map { entry, detail in
            [MessageCatalogue.displaySource(entry[1]), MessageCatalogue.ruleName(entry[2]).text(for: locale),
             detail.message.text(for: locale), entry[4]]
        }
        try writeIssueSheet(named: name, titles: titles, rows: rows, amounts: log.firstDetails.map(\.amount), total: log.count, file: log.name)
    }

    /// A sheet of text rows (findings or rejects), with an amount column and its total when `amounts` is given.
    private func writeIssueSheet(named name: String, titles: [String], rows: [[String]], amounts: [Money?]?, total: Int, file: String) throws {
        guard let workbook else { return }
        let sheet = try workbook.addWorksheet(named: name)
        let header = try cachedFormat("header", XLSXFormatSpec(bold: true, backgroundColor: 0x1F4E78, fontColor: 0xFFFFFF,
                                                               borderBottom: .thin, verticalAlignment: .center, textWrap: true))
        let wrapped = try cachedFormat("wrapped", XLSXFormatSpec(verticalAlignment: .top, textWrap: true))
        let money = try cachedFormat("money-top", XLSXFormatSpec(numberFormat: XLSXLoad.namedFormat("money", locale: settings.locale, currency: currencySymbol),
                                                                  verticalAlignment: .top))
        for (index, title) in titles.enumerated() { try sheet.writeString(row: 0, col: index, title, format: header) }
        // Long texts wrap in columns of at most 60 characters; each row is as tall as its longest text
        // (set before its cells, as constant-memory mode requires).
        var widths = titles.map { $0.count + 2 }
        for cells in rows {
            for (index, cell) in cells.enumerated() where index < widths.count { widths[index] = min(max(widths[index], cell.count + 1), 60) }
        }
        if amounts != nil { widths[widths.count - 1] = max(widths[widths.count - 1], 14) }
        var sum = Money.zero(scale: 2)
        for (offset, cells) in rows.enumerated() {
            let lines = cells.enumerated().map { index, cell in (cell.count + widths[index] - 2) / max(widths[index] - 1, 1) }.max() ?? 1
            if lines > 1 { try sheet.setRow(offset + 1, height: Double(lines) * 15) }
            for (index, cell) in cells.enumerated() {
                try sheet.writeString(row: offset + 1, col: index, cell, format: wrapped)
            }
            if let amounts, offset < amounts.count, let amount = amounts[offset] {
                try sheet.writeNumber(row: offset + 1, col: cells.count, amount.approximateDouble, format: money)
                sum = try sum.adding(amount)
            }
        }
        // constant_memory: the filter range must be set before a row past it is written.
        try sheet.autofilter(firstRow: 0, firstCol: 0, lastRow: max(rows.count, 1), lastCol: titles.count - 1)
        var lastRow = max(rows.count, 1)
        if amounts != nil {
            lastRow = rows.count + 1
            let bold = try cachedFormat("total-label", XLSXFormatSpec(bold: true, borderBottom: nil))
            let boldMoney = try cachedFormat("money-total", XLSXFormatSpec(bold: true, numberFormat: money.spec.numberFormat))
            try sheet.writeString(row: lastRow, col: 0, locale.isFrench ? "Total des montants rejetés" : "Total of rejected amounts", format: bold)
            let letter = columnLetters(titles.count - 1)
            try sheet.writeFormula(row: lastRow, col: titles.count - 1, "=SUBTOTAL(109,\(letter)2:\(letter)\(rows.count + 1))",
                                   cachedResult: sum.approximateDouble, format: boldMoney)
        }
        if total > rows.count {
            lastRow += 1
            try sheet.writeString(row: lastRow, col: 0, locale.isFrench ? "… \(total - rows.count) autres lignes dans \(file)" : "… \(total - rows.count) more in \(file)")
        }
        for (index, width) in widths.enumerated() { try sheet.setColumn(first: index, last: index, width: Double(width)) }
        try sheet.freezePanes(row: 1, col: 0)
        try setUpPrinting(sheet, widths: widths, lastRow: lastRow)
    }

    /// The print layout of a data sheet: landscape when the columns are too wide for portrait A4, one
    /// page wide, the header row on every page, a footer with the pipeline, the as-of date and the page.
    private func setUpPrinting(_ sheet: XLSXWorksheet, widths: [Int], lastRow: Int, rowBreaks: [Int] = [], landscape: Bool? = nil) throws {
        let characters = widths.map { min(max($0, 8), 60) }.reduce(0, +)
        // About 95 characters of Calibri 11 fit across portrait A4 at 100 %.
        try sheet.setPageSetup(XLSXPageSetup(landscape: landscape ?? (characters > 95), pagesWide: 1,
                                             repeatRows: rowBreaks.isEmpty ? 0...0 : nil, footer: footer,
                                             printArea: (0, 0, lastRow, max(widths.count - 1, 0)), rowBreaks: rowBreaks))
    }

    /// `&L` pipeline · as of &R page N / M, with `&` in names doubled (Excel's footer codes start with `&`).
    private var footer: String {
        let pipeline = (runPipeline ?? "").replacingOccurrences(of: "&", with: "&&")
        let asOf = runAsOf.map { locale.date($0) } ?? ""
        return locale.isFrench ? "&L\(pipeline) · situation au \(asOf)&Rpage &P / &N" : "&L\(pipeline) · as of \(asOf)&Rpage &P / &N"
    }
}

extension XLSXLoad {
    /// A `2025-01` month label as the date of its first day; other values as they are.
    static func firstDayOfMonth(_ value: Value) -> Value {
        guard case .text(let label) = value, label.count == 7, label.utf8.dropFirst(4).first == UInt8(ascii: "-"),
              let year = Int(label.prefix(4)), let month = Int(label.suffix(2)),
              let day = CivilDate(year: year, month: month, day: 1) else { return value }
        return .date(day)
    }

    /// An ISO week label `2025-W01` as the date of its Monday; other values as they are.
    static func mondayOfWeek(_ value: Value) -> Value {
        guard case .text(let label) = value, let week = isoWeek(label),
              let january4 = CivilDate(year: week.year, month: 1, day: 4) else { return value }
        // Week 1 is the week holding 4 January (ISO 8601); its Monday is 0–6 days before.
        let monday = january4.days - Int32(january4.isoWeekday - 1) + Int32(week.week - 1) * 7
        return .date(CivilDate(days: monday))
    }

    /// An ISO week label for a reader: `2025-S01` in French (semaine), `2025-W01` in English.
    static func weekLabel(_ value: Value, french: Bool) -> Value {
        guard french, case .text(let label) = value, isoWeek(label) != nil else { return value }
        return .text(label.replacingOccurrences(of: "-W", with: "-S"))
    }

    /// The year and week of a `2025-W01` label (weeks 1–53), or nil.
    static func isoWeek(_ label: String) -> (year: Int, week: Int)? {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 3, parts[1].first == "W",
              let year = Int(parts[0]), let week = Int(parts[1].dropFirst()), (1...53).contains(week) else { return nil }
        return (year, week)
    }
}

/// Decimal digits of an integer, sign included.
func digitCount(_ value: Int64) -> Int {
    var magnitude = value.magnitude
    var count = value < 0 ? 2 : 1
    while magnitude >= 10 {
        magnitude /= 10
        count += 1
    }
    return count
}
