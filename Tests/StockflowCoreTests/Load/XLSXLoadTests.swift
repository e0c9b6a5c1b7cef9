import Foundation
import Testing
@testable import StockflowCore

/// The xlsx load end to end: a pipeline writes a workbook from the golden order totals, and the
/// workbook's XML parts are read back with `/usr/bin/unzip -p`.
@Suite struct XLSXLoadTests {
    // MARK: Reading the workbook

    /// One cell of a worksheet part: its style index, its value (number, inline text or cached result) and formula.
    struct Cell: Equatable {
        var style: Int?
        var value: String
        var formula: String?
    }

    /// One member of a zip file as text.
    static func unzip(_ file: URL, _ member: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        process.arguments = ["-p", file.path, member]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "unzip -p \(file.lastPathComponent) \(member)")
        return String(decoding: data, as: UTF8.self)
    }

    /// All captures of `pattern` in `text`, one array of groups per match.
    static func matches(_ pattern: String, in text: String) -> [[String]] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).map { match in
            (1..<match.numberOfRanges).map { index in
                Range(match.range(at: index), in: text).map { String(text[$0]) } ?? ""
            }
        }
    }

    /// Replaces the five XML entities.
    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The cells of a worksheet part, by reference (`A1`).
    static func cells(_ sheet: String) -> [String: Cell] {
        var result: [String: Cell] = [:]
        for groups in matches(#"<c r="([A-Z]+[0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)"#, in: sheet) {
            let attributes = groups[1], body = groups[2]
            let style = matches(#"s="([0-9]+)""#, in: attributes).first.flatMap { Int($0[0]) }
            let formula = matches("<f>(.*?)</f>", in: body).first?[0]
            let value = matches("<v>(.*?)</v>", in: body).first?[0] ?? matches("<t[^>]*>(.*?)</t>", in: body).first?[0] ?? ""
            result[groups[0]] = Cell(style: style, value: unescape(value), formula: formula.map(unescape))
        }
        return result
    }

    /// The number format of each cell style index (`cellXfs` order), from styles.xml.
    static func numberFormats(_ styles: String) -> [String] {
        var custom: [String: String] = ["0": "General", "14": "m/d/yy"]
        for groups in matches(#"<numFmt numFmtId="([0-9]+)" formatCode="([^"]*)""#, in: styles) {
            custom[groups[0]] = unescape(groups[1])
        }
        guard let cellXfs = matches("<cellXfs[^>]*>(.*?)</cellXfs>", in: styles).first?[0] else { return [] }
        return matches(#"<xf ([^>]*)"#, in: cellXfs).map { groups in
            let id = matches(#"numFmtId="([0-9]+)""#, in: groups[0]).first?[0] ?? "0"
            return custom[id] ?? "builtin \(id)"
        }
    }

    /// Sheet names in workbook order.
    static func sheetNames(_ workbook: String) -> [String] {
        matches(#"<sheet name="([^"]*)""#, in: workbook).map { unescape($0[0]) }
    }

    // MARK: Pipelines

    /// The golden order totals, loaded into a workbook `book.xlsx` by the given load stage options.
    static func workbookPipeline(_ load: String) -> String {
        """
        version: 1
        name: golden-workbook
        settings: {currency: EUR, locale: fr_FR}
        stages:
          orders:
            extract: csv
            path: orders.csv
            columns:
              code_cmd: int
              code_prod: int
              quantite_cmd: int
              montant_commande: {type: decimal, nullable: true}
              date_commande: date
          products:
            extract: csv
            path: products.csv
            columns: {code_prod: int, nom_prod: text, prix_unit: decimal, is_deleted: bool}
          totals:
            transform: order_totals
            inputs: {orders: orders, products: products}
          book:
            load: xlsx
            path: book.xlsx
        \(load)
        """
    }

    static func run(_ load: String, in scratch: Scratch) throws -> (RunReport, URL) {
        for name in ["orders.csv", "products.csv"] {
            scratch.write(name, Golden.golden("order_totals/\(name)"))
        }
        let report = try runPipeline(workbookPipeline(load), in: scratch)
        #expect(report.status == "succeeded", "\(report.error ?? "")")
        Golden.expectNothingLost(report)
        return (report, scratch.url.appendingPathComponent("out/book.xlsx"))
    }

    static let twoSheets = """
        sheets:
          - name: Commandes
            input: totals
            columns: [code_cmd, date_commande, nom_prod, quantite_cmd, montant_commande]
            headers: {code_cmd: N° commande, date_commande: Date, montant_commande: Montant}
            totals: [quantite_cmd, montant_commande]
          - name: Produits
            input: products
    """

    /// Codes of the golden orders kept by order_totals, in file order.
    static let keptOrders = ["101", "102", "103", "104", "105", "106", "109", "110"]

    // MARK: Tests

    @Test func theHeaderRowCarriesTheLabelsAndIsFrozenAndFiltered() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        #expect(Self.sheetNames(try Self.unzip(book, "xl/workbook.xml")) == ["Commandes", "Produits", "Rejets"], "the golden orders have rejects: the Rejets sheet comes last")
        let sheet = try Self.unzip(book, "xl/worksheets/sheet1.xml")
        let cells = Self.cells(sheet)
        #expect(["A1", "B1", "C1", "D1", "E1"].map { cells[$0]?.value } == ["N° commande", "Date", "nom_prod", "quantite_cmd", "Montant"])
        #expect(sheet.contains(#"ySplit="1""#))
        #expect(sheet.contains(#"state="frozen""#))
        #expect(Self.matches(#"<autoFilter ref="([^"]*)""#, in: sheet).first == ["A1:E9"])
        let products = Self.cells(try Self.unzip(book, "xl/worksheets/sheet2.xml"))
        #expect(["A1", "B1", "C1", "D1"].map { products[$0]?.value } == ["code_prod", "nom_prod", "prix_unit", "is_deleted"])
        #expect(products["B5"]?.value == "Gomme")
    }

    @Test func everyKeptOrderIsARowWithItsExactAmount() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        let cells = Self.cells(try Self.unzip(book, "xl/worksheets/sheet1.xml"))
        #expect((2...9).map { cells["A\($0)"]?.value } == Self.keptOrders)
        let expected = readCSV(Golden.golden("order_totals/expected.csv")).dropFirst().map { $0[6] }
        for (offset, amount) in expected.enumerated() {
            let written = try #require(cells["E\(offset + 2)"].flatMap { Double($0.value) })
            #expect(written == Money(amount)!.approximateDouble, "row \(offset + 2)")
        }
    }

    @Test func theTotalsRowIsASubtotalFormulaWithTheExactCachedTotal() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        let cells = Self.cells(try Self.unzip(book, "xl/worksheets/sheet1.xml"))
        #expect(cells["A10"]?.value == "Total")
        #expect(cells["D10"]?.formula == "SUBTOTAL(109,D2:D9)")
        #expect(cells["D10"].flatMap { Double($0.value) } == 17)
        #expect(cells["E10"]?.formula == "SUBTOTAL(109,E2:E9)")
        // 10.00 + 10.05 + 6.70 + 12.99 + 0.38 + 0.13 + 5.00 + 3.35, summed exactly.
        #expect(cells["E10"]?.value == "48.6")
        #expect(cells["A11"] == nil)
    }

    @Test func moneyCellsUseTheEuroFormatAndDatesAreExcelSerialsWithADateFormat() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        let cells = Self.cells(try Self.unzip(book, "xl/worksheets/sheet1.xml"))
        let formats = Self.numberFormats(try Self.unzip(book, "xl/styles.xml"))
        func format(_ reference: String) -> String? {
            cells[reference]?.style.flatMap { formats.indices.contains($0) ? formats[$0] : nil }
        }
        #expect(format("E2") == #"#,##0.00 "€""#)
        #expect(format("E10") == #"#,##0.00 "€""#, "the total keeps the money format")
        // 2026-11-02 is 23 days before 2026-11-25, Excel serial 46351.
        #expect(cells["B2"]?.value == "46328")
        #expect(format("B2") == "dd/mm/yyyy")
        #expect(cells["B9"]?.value == "46333")  // 2026-11-07
        #expect(format("A2") == "0", "order codes are plain integers, without grouping")
        #expect(format("D2") == "#,##0")
    }

    @Test func columnsGetWidths() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        for part in ["sheet1", "sheet2"] {
            let sheet = try Self.unzip(book, "xl/worksheets/\(part).xml")
            let widths = Self.matches(#"<col [^>]*width="([0-9.]+)""#, in: sheet).compactMap { Double($0[0]) }
            #expect(widths.count >= 4, "\(part)")
            #expect(widths.allSatisfy { $0 >= 8 && $0 <= 61 }, "\(part): \(widths)")
        }
        // "N° commande" needs more than the 8-character minimum.
        let first = Self.matches(#"<col min="1" max="1" width="([0-9.]+)""#, in: try Self.unzip(book, "xl/worksheets/sheet1.xml"))
        #expect(first.first.flatMap { Double($0[0]) }.map { $0 >= 11 } == true)
    }

    @Test func aSheetPastItsRowLimitContinuesOnANextSheetWithEveryRowOnce() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (report, book) = try Self.run("""
            max_rows_per_sheet: 5
            sheets:
              - name: Lignes
                input: totals
                columns: [code_cmd, montant_commande]
        """, in: scratch)
        #expect(Self.sheetNames(try Self.unzip(book, "xl/workbook.xml")) == ["Lignes", "Lignes (2)", "Rejets"])
        var codes: [String] = []
        for part in ["sheet1", "sheet2"] {
            let cells = Self.cells(try Self.unzip(book, "xl/worksheets/\(part).xml"))
            #expect(cells["A1"]?.value == "code_cmd", "\(part) repeats the header")
            #expect(cells["A6"] == nil, "\(part) stays within 5 rows")
            codes += (2...5).compactMap { cells["A\($0)"]?.value }
        }
        #expect(codes == Self.keptOrders)
        let notes = try #require(Golden.stage("book", of: report)).notes
        #expect(notes.contains { $0.contains("'Lignes'") && $0.contains("Lignes (2)") }, "\(notes)")
        #expect(Golden.stage("book", of: report)?.rowsOut == 8)
    }

    @Test func eachContinuationSheetHasItsOwnTotals() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (report, book) = try Self.run("""
            max_rows_per_sheet: 5
            sheets:
              - name: Lignes
                input: totals
                columns: [code_cmd, montant_commande]
                totals: [montant_commande]
        """, in: scratch)
        // 3 data rows, then the totals row, per sheet: 3 + 3 + 2.
        #expect(Self.sheetNames(try Self.unzip(book, "xl/workbook.xml")) == ["Lignes", "Lignes (2)", "Lignes (3)", "Rejets"])
        var codes: [String] = []
        var grandTotal = Money.zero(scale: 2)
        // Kept totals in file order: 10.00 10.05 6.70 | 12.99 0.38 0.13 | 5.00 3.35.
        for (part, rows, total) in [("sheet1", 3, "26.75"), ("sheet2", 3, "13.5"), ("sheet3", 2, "8.35")] {
            let cells = Self.cells(try Self.unzip(book, "xl/worksheets/\(part).xml"))
            codes += (2..<(2 + rows)).compactMap { cells["A\($0)"]?.value }
            #expect(cells["B\(rows + 2)"]?.formula == "SUBTOTAL(109,B2:B\(rows + 1))", "\(part)")
            #expect(cells["B\(rows + 2)"]?.value == total, "\(part)")
            grandTotal = try grandTotal.adding(Money(total)!)
        }
        #expect(codes == Self.keptOrders)
        #expect(grandTotal == Money("48.60")!)
        #expect(Golden.stage("book", of: report)?.notes.contains { $0.contains("Lignes (2), Lignes (3)") } == true)
    }

    @Test func aWorkbookIsWrittenOnlyWhenTheRunSucceeds() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Self.run(Self.twoSheets, in: scratch)
        #expect(FileManager.default.fileExists(atPath: book.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: book.deletingLastPathComponent().path)
            .filter { $0.hasPrefix(".") || $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test(arguments: [("2025-W01", "2024-12-30"), ("2026-W48", "2026-11-23"), ("2020-W53", "2020-12-28"), ("2027-W01", "2027-01-04")])
    func aWeekLabelIsTheDateOfItsMonday(_ label: String, _ monday: String) {
        #expect(XLSXLoad.mondayOfWeek(.text(label)) == .date(CivilDate(iso: monday)!))
        #expect(CivilDate(iso: monday)!.isoWeek == (XLSXLoad.isoWeek(label)!.year, XLSXLoad.isoWeek(label)!.week))
    }

    @Test(arguments: ["2025-W00", "2025-W54", "2025-01", "W01-2025", "2025-Wxx", ""])
    func anythingElseStaysAsItIs(_ label: String) {
        #expect(XLSXLoad.mondayOfWeek(.text(label)) == .text(label))
        #expect(XLSXLoad.weekLabel(.text(label), french: true) == .text(label))
    }

    @Test func aWeekColumnBecomesItsMondayWithTheLabelBeside() {
        let schema = Schema([Column("periode", .text), Column("nb_commandes", .int), Column("chiffre_affaires", .decimal, scale: 2)])
        let sheet = XLSXLoad.Sheet(name: "Semaines", columns: [0, 1, 2], schema: schema, headers: ["Semaine", "Commandes", "CA"],
                                   totals: [1, 2], formats: [0: "week", 2: "money"])
        let expanded = XLSXLoad.withWeekLabels(sheet, french: true)
        #expect(expanded.columns == [0, 0, 1, 2])
        #expect(expanded.headers == ["Semaine", "Libellé", "Commandes", "CA"])
        #expect(expanded.totals == [2, 3])
        #expect(expanded.formats == [0: "week", 1: "week-label", 3: "money"])
        #expect(XLSXLoad.weekLabel(.text("2025-W01"), french: true) == .text("2025-S01"))
        #expect(XLSXLoad.weekLabel(.text("2025-W01"), french: false) == .text("2025-W01"))
    }
}
