import Foundation

/// `load: xlsx` — writes several stages as sheets of one Excel workbook, streamed in constant memory.
public final class XLSXLoad: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "xlsx", role: .load,
        summary: "Writes an Excel workbook through libxlsxwriter in constant-memory mode (rows stream to disk, so a million-row sheet takes little memory). Each sheet reads one stage: styled, frozen and filtered header; fitted column widths; money with 2 places and the currency, real Excel dates, integers; an optional totals row (SUBTOTAL formulas with their exact cached values). A sheet that passes Excel's 1,048,576 rows continues on a next sheet `Name (2)`, and the run summary says so. The file is written to a temporary and renamed into place when the run succeeds.",
        options: [
            OptionSpec("path", .outputPath, required: true, "Workbook path under the output folder; `{as_of}` and `{pipeline}` are filled in."),
            OptionSpec("sheets", .list, required: true, "Sheets in order, each `{name, input, columns?, headers?, totals?, formats?}`: `name` (≤ 27 characters), `input` (stage id), `columns` (subset and order, default all), `headers` (`{column: label}`), `totals` (columns summed in a totals row), `formats` (`{column: money | percent | number | integer | code | date | text}`; by default decimals are money, integers named code*/ *_id/id are codes, other integers numbers)."),
            OptionSpec("findings_sheet", .string, "Name of a last sheet listing the run's findings (rule, source, evidence), from every stage of the pipeline. No such sheet when absent."),
            OptionSpec("charts", .list, "Native Excel charts on a summary sheet, drawn from the workbook's own cells, each `{type, title?, sheet, categories, values}`: `type` bar, column, line, pie or doughnut; `sheet` (name of a sheet above); `categories` (its column of labels); `values` (one number column, or a list for several series)."),
            OptionSpec("charts_sheet", .string, default: "Graphiques (fr_FR), Charts (en_US)", "Name of the summary sheet holding the charts, placed after the data sheets."),
            OptionSpec("max_rows_per_sheet", .int, default: "1048576", "Rows per sheet (header and totals row included) before continuing on a next sheet; Excel's limit by default."),
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
        case "text": return "@"
        default: return nil
        }
    }

    /// One worksheet part being written (a sheet spills over into several parts).
    final class Part {
        let worksheet: XLSXWorksheet
        var nextRow = 1
        var sums: [Int: Money] = [:]
        init(worksheet: XLSXWorksheet) { self.worksheet = worksheet }
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
    private var widths: [[Int]] = []
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

    init(path: OutputPath, sheets: [Sheet], maxRows: Int, settings: PipelineSettings, findingsSheet: String?) {
        self.findingsSheet = findingsSheet
        self.path = path
        self.sheets = sheets
        self.maxRows = maxRows
        self.settings = settings
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

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let path = config.outputPath("path"), let items = config.node["sheets"]?.items else { return nil }
        let maxRows = config.int("max_rows_per_sheet", default: XLSXLimits.maxRows)
        if maxRows < 3 || maxRows > XLSXLimits.maxRows {
            config.error("'max_rows_per_sheet' must be between 3 and \(XLSXLimits.maxRows)", at: config.node["max_rows_per_sheet"]?.position)
        }
        var sheets: [Sheet] = []
        var names = Set<String>()
        for (index, item) in items.enumerated() where index < inputs.count {
            let schema = inputs[index]
            let allowed = ["name", "input", "columns", "headers", "totals", "formats"]
            for entry in item.entries ?? [] where !allowed.contains(entry.key) {
                config.error("unknown key '\(entry.key)' in a sheet of stage '\(config.id)'\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
            }
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
                let names = ["money", "percent", "number", "integer", "code", "date", "text"]
                guard let formatName = entry.value.scalar, names.contains(formatName) else {
                    config.error("format of column '\(entry.key)' must be one of \(names.joined(separator: ", ")), found \(entry.value.shapeName)", at: entry.value.position)
                    continue
                }
                formats[position] = formatName
            }
            sheets.append(Sheet(name: name, columns: columns, schema: schema, headers: headers, totals: totals, formats: formats))
        }
        let findingsSheet = config.string("findings_sheet")
        if let findingsSheet, names.contains(findingsSheet.lowercased()) {
            config.error("findings_sheet '\(findingsSheet)' has the name of another sheet", at: config.node["findings_sheet"]?.position)
        }
        let load = XLSXLoad(path: path, sheets: sheets, maxRows: maxRows, settings: context.settings, findingsSheet: findingsSheet)
        load.charts = chartRequests(config, sheets: sheets)
        load.chartsSheet = config.string("charts_sheet") ?? (context.settings.locale == "fr_FR" ? "Graphiques" : "Charts")
        if !load.charts.isEmpty && (names.contains(load.chartsSheet.lowercased()) || load.chartsSheet.lowercased() == findingsSheet?.lowercased()) {
            config.error("charts_sheet '\(load.chartsSheet)' has the name of another sheet", at: config.node["charts_sheet"]?.position)
        }
        return load
    }

    /// Reads `charts:` against the sheets' columns.
    static func chartRequests(_ config: StageConfig, sheets: [Sheet]) -> [ChartRequest] {
        (config.node["charts"]?.items ?? []).compactMap { item in
            let allowed = ["type", "title", "sheet", "categories", "values"]
            for entry in item.entries ?? [] where !allowed.contains(entry.key) {
                config.error("unknown key '\(entry.key)' in a chart of stage '\(config.id)'\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
            }
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
            let chart = try workbook.addChart(request.kind, title: request.title, series: series)
            try summary.insertChart(chart, row: 1 + (index / 2) * 24, col: 1 + (index % 2) * 10, xScale: 1.25, yScale: 1.5)
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
        workbook = book
        parts = []
        widths = []
        for sheet in sheets {
            parts.append([try startPart(sheet, number: 1)])
            widths.append(sheet.headers.map { $0.count + 2 })
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
        try open(context)
        let sheet = sheets[port]
        let columnFormats = try sheet.columns.indices.map { try format(for: sheet.schema.columns[sheet.columns[$0]], override: sheet.formats[$0]) }
        // Room for the totals row: data rows stop one row earlier on sheets with totals.
        let lastDataRow = maxRows - (sheet.totals.isEmpty ? 1 : 2)
        for row in batch.rows {
            var part = parts[port][parts[port].count - 1]
            if part.nextRow > lastDataRow {
                try closePart(part, sheet: sheet, port: port)
                part = try startPart(sheet, number: parts[port].count + 1)
                parts[port].append(part)
            }
            for (position, column) in sheet.columns.enumerated() {
                let value = row[column]
                let width = try write(value, to: part.worksheet, row: part.nextRow, col: position, format: columnFormats[position])
                if width > widths[port][position] { widths[port][position] = width }
                if sheet.totals.contains(position), let amount = value.asMoney {
                    part.sums[position] = try (part.sums[position] ?? Money(0)).adding(amount)
                }
            }
            part.nextRow += 1
        }
        context.countOut(batch.count)
    }

    /// Writes one cell and returns the width its text needs.
    private func write(_ value: Value, to sheet: XLSXWorksheet, row: Int, col: Int, format: XLSXFormat?) throws -> Int {
        switch value {
        case .null:
            return 0
        case .int(let number):
            try sheet.writeNumber(row: row, col: col, Double(number), format: format)
            return digitCount(number) + 2
        case .decimal(let money):
            try sheet.writeNumber(row: row, col: col, money.approximateDouble, format: format)
            let digits = max(digitCount(money.units), money.scale + 1)
            return digits + digits / 3 + 4
        case .text(let text):
            try sheet.writeString(row: row, col: col, text)
            // UTF-8 length: cheap (no grapheme walk per cell), a slight overestimate for accented text.
            return text.utf8.count + 1
        case .bool(let flag):
            try sheet.writeBoolean(row: row, col: col, flag)
            return 6
        case .date(let date):
            try sheet.writeNumber(row: row, col: col, date.excelSerial, format: format)
            return 12
        case .datetime(let stamp):
            try sheet.writeNumber(row: row, col: col, stamp.excelSerial, format: format)
            return 17
        }
    }

    private func closePart(_ part: Part, sheet: Sheet, port: Int) throws {
        let lastRow = max(part.nextRow - 1, 1)
        try part.worksheet.autofilter(firstRow: 0, firstCol: 0, lastRow: lastRow, lastCol: max(sheet.columns.count - 1, 0))
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
                                                cachedResult: (part.sums[position] ?? Money(0)).approximateDouble, format: format)
            }
        }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        try open(context)
        for (port, sheet) in sheets.enumerated() {
            for part in parts[port] {
                for (position, width) in widths[port].enumerated() {
                    try part.worksheet.setColumn(first: position, last: position, width: Double(min(max(width, 8), 60)))
                }
            }
            if let last = parts[port].last { try closePart(last, sheet: sheet, port: port) }
            if parts[port].count > 1 {
                context.note("sheet '\(sheet.name)' passed \(maxRows) rows and continues on \(parts[port].count - 1) more sheet(s): \(parts[port].dropFirst().map(\.worksheet.name).joined(separator: ", "))")
            }
        }
    }

    public func finalize(_ context: StageContext) throws {
        guard workbook != nil else { return }
        try writeCharts(context)
        if let findingsSheet { try writeFindings(context.run.findings, named: findingsSheet) }
        do {
            try workbook?.close()
        } catch {
            throw StageError("cannot write workbook \(path.template): \(error)")
        }
        workbook = nil
    }

    /// A sheet listing the run's findings: rule, stage, source and evidence, for the finance reader.
    private func writeFindings(_ log: IssueLog, named name: String) throws {
        guard let workbook else { return }
        let sheet = try workbook.addWorksheet(named: name)
        let header = try cachedFormat("header", XLSXFormatSpec(bold: true, backgroundColor: 0x1F4E78, fontColor: 0xFFFFFF,
                                                               borderBottom: .thin, verticalAlignment: .center, textWrap: true))
        let titles = settings.locale == "fr_FR" ? ["Règle", "Étape", "Source", "Constat", "Ligne"] : ["Rule", "Stage", "Source", "Finding", "Row"]
        for (index, title) in titles.enumerated() { try sheet.writeString(row: 0, col: index, title, format: header) }
        var widths = titles.map { $0.count + 2 }
        for (offset, entry) in log.firstEntries.enumerated() {
            let cells = [entry[2], entry[0], entry[1], entry[3], entry[4]]
            for (index, cell) in cells.enumerated() {
                try sheet.writeString(row: offset + 1, col: index, cell)
                widths[index] = max(widths[index], cell.utf8.count + 1)
            }
        }
        // constant_memory: the filter range must be set before a row past it is written.
        try sheet.autofilter(firstRow: 0, firstCol: 0, lastRow: max(log.firstEntries.count, 1), lastCol: titles.count - 1)
        if log.count > log.firstEntries.count {
            try sheet.writeString(row: log.firstEntries.count + 1, col: 0,
                                  "… \(log.count - log.firstEntries.count) more in findings.csv")
        }
        for (index, width) in widths.enumerated() { try sheet.setColumn(first: index, last: index, width: Double(min(width, 80))) }
        try sheet.freezePanes(row: 1, col: 0)
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
