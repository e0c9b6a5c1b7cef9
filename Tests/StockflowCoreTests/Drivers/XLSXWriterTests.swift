import Foundation
import Testing

#if canImport(StockflowCore)
@testable import StockflowCore
#else
@testable import XLSXDriver  // scratch package used to build the driver in isolation
#endif

/// End-to-end tests of the libxlsxwriter wrapper: files are written, unzipped and their XML inspected.
@Suite final class XLSXWriterTests {
    /// A fresh temp directory per test, so parallel tests never share files.
    private let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("xlsxwriter-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Extracts one member of a zip file as UTF-8 text using `/usr/bin/unzip -p`.
    private func unzip(_ file: String, _ member: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        process.arguments = ["-p", file, member]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "unzip failed for \(member) in \(file)")
        return String(decoding: data, as: UTF8.self)
    }

    @Test func writesTwoSheetsWithFormatsFormulaFrozenHeaderAndAutofilter() throws {
        let file = path("report.xlsx")
        let workbook = try XLSXWorkbook(path: file)
        let header = try workbook.addFormat(.init(bold: true, backgroundColor: 0xDDEBF7, borderBottom: .thin, alignment: .center))
        let euro = try workbook.addFormat(.init(numberFormat: #"#,##0.00 "€""#))
        let date = try workbook.addFormat(.init(numberFormat: "dd/mm/yyyy"))
        try workbook.setProperties(title: "Rapport été", author: "stockflow")

        let data = try workbook.addWorksheet(named: "Données")
        try data.setColumn(first: 0, last: 0, width: 24)
        try data.setColumn(first: 1, last: 2, width: 14, format: euro)
        try data.setRow(0, height: 20, format: header)
        for (col, title) in ["Produit", "Prix", "Total", "Date", "Actif"].enumerated() {
            try data.writeString(row: 0, col: col, title, format: header)
        }
        try data.writeString(row: 1, col: 0, "Café Crème")
        try data.writeNumber(row: 1, col: 1, 1234.5, format: euro)
        try data.writeFormula(row: 1, col: 2, "=B2*2", cachedResult: 2469, format: euro)
        try data.writeNumber(row: 1, col: 3, 45292, format: date)  // 2024-01-01 as an Excel serial
        try data.writeBoolean(row: 1, col: 4, true)
        try data.writeString(row: 2, col: 0, "Ærøskøbing «naïve» 日本")
        try data.writeNumber(row: 2, col: 1, -0.25, format: euro)
        try data.writeFormula(row: 2, col: 2, "=SUM(B2:B3)")
        try data.writeBlank(row: 2, col: 3, format: date)
        try data.freezePanes(row: 1, col: 0)
        try data.autofilter(firstRow: 0, firstCol: 0, lastRow: 2, lastCol: 4)

        let summary = try workbook.addWorksheet(named: "Summary")
        try summary.writeString(row: 0, col: 0, "Total")
        try summary.writeFormula(row: 0, col: 1, "='Données'!C2+'Données'!C3")
        try summary.setTabColor(0xFF0000)
        try summary.activate()
        try workbook.close()

        let sheet1 = try unzip(file, "xl/worksheets/sheet1.xml")
        #expect(sheet1.contains("<t>Café Crème</t>"))  // constant_memory writes inline strings
        #expect(sheet1.contains("<t>Ærøskøbing «naïve» 日本</t>"))
        #expect(sheet1.contains(#"state="frozen""#))
        #expect(sheet1.contains(#"<pane ySplit="1" topLeftCell="A2""#))
        #expect(sheet1.contains(#"<autoFilter ref="A1:E3"/>"#))
        #expect(sheet1.contains("<f>B2*2</f><v>2469</v>"))
        #expect(sheet1.contains("<f>SUM(B2:B3)</f>"))
        #expect(sheet1.contains("<v>1234.5</v>"))
        #expect(sheet1.contains("<v>45292</v>"))
        #expect(sheet1.contains(#"<c r="E2" t="b"><v>1</v></c>"#))
        #expect(sheet1.contains(#"<row r="1" s="1" customFormat="1" ht="20" customHeight="1">"#))
        #expect(sheet1.contains(#"<col min="1" max="1" width="24.7109375""#))

        let sheet2 = try unzip(file, "xl/worksheets/sheet2.xml")
        #expect(sheet2.contains("<f>'Données'!C2+'Données'!C3</f>"))
        #expect(sheet2.contains(#"<tabColor rgb="FFFF0000"/>"#))

        let workbookXML = try unzip(file, "xl/workbook.xml")
        #expect(workbookXML.contains(#"<sheet name="Données" sheetId="1""#))
        #expect(workbookXML.contains(#"<sheet name="Summary" sheetId="2""#))
        #expect(workbookXML.contains(#"<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'Données'!$A$1:$E$3</definedName>"#))

        let styles = try unzip(file, "xl/styles.xml")
        #expect(styles.contains(#"formatCode="dd/mm/yyyy""#))
        #expect(styles.contains(##"formatCode="#,##0.00 &quot;€&quot;""##))
        #expect(styles.contains(#"<fgColor rgb="FFDDEBF7"/>"#))
        #expect(styles.contains(#"<bottom style="thin">"#))

        let core = try unzip(file, "docProps/core.xml")
        #expect(core.contains("<dc:title>Rapport été</dc:title>"))
        #expect(core.contains("<dc:creator>stockflow</dc:creator>"))
    }

    @Test func sharedStringsModeStoresTextInSharedStringTable() throws {
        let file = path("shared.xlsx")
        let workbook = try XLSXWorkbook(path: file, constantMemory: false, tmpdir: directory.path)
        let sheet = try workbook.addWorksheet()
        #expect(sheet.name == "Sheet1")
        try sheet.writeString(row: 3, col: 0, "later")
        try sheet.writeString(row: 0, col: 0, "Crème brûlée")  // going back is fine without constant_memory
        try workbook.close()
        let shared = try unzip(file, "xl/sharedStrings.xml")
        #expect(shared.contains("<t>Crème brûlée</t>"))
        #expect(shared.contains("<t>later</t>"))
    }

    @Test func writingPastTheLastRowOrColumnThrows() throws {
        let workbook = try XLSXWorkbook(path: path("limits.xlsx"))
        let sheet = try workbook.addWorksheet(named: "Data")
        try sheet.writeNumber(row: XLSXLimits.maxRows - 1, col: XLSXLimits.maxColumns - 1, 1)

        let rowError = #expect(throws: XLSXError.self) {
            try sheet.writeString(row: XLSXLimits.maxRows, col: 0, "too far")
        }
        #expect(rowError?.code == .indexOutOfRange)
        #expect(rowError?.description.contains("'Data'!A1048577") == true)
        #expect(rowError?.message.contains("out of range") == true)  // libxlsxwriter's own text

        let colError = #expect(throws: XLSXError.self) {
            try sheet.writeNumber(row: XLSXLimits.maxRows - 1, col: XLSXLimits.maxColumns, 1)
        }
        #expect(colError?.code == .indexOutOfRange)
        #expect(colError?.context.contains("XFE1048576") == true)

        #expect(throws: XLSXError.self) { try sheet.writeNumber(row: -1, col: 0, 1) }
        #expect(throws: XLSXError.self) { try sheet.autofilter(firstRow: 0, firstCol: 0, lastRow: XLSXLimits.maxRows, lastCol: 1) }
        try workbook.close()
    }

    @Test func constantMemoryRejectsRowsAlreadyFlushed() throws {
        let workbook = try XLSXWorkbook(path: path("order.xlsx"))
        let sheet = try workbook.addWorksheet()
        try sheet.writeNumber(row: 5, col: 0, 1)
        try sheet.writeNumber(row: 5, col: 3, 2)  // same row, any column order: fine
        let error = #expect(throws: XLSXError.self) { try sheet.writeNumber(row: 2, col: 0, 3) }
        #expect(error?.code == .indexOutOfRange)
        #expect(error?.message.contains("constant_memory") == true)
        try workbook.close()
    }

    @Test(arguments: ["a/b", "x[1]", "what?", "star*", "c:d", #"back\slash"#, "'quoted'", "", String(repeating: "n", count: 32)])
    func invalidSheetNamesThrow(name: String) throws {
        let workbook = try XLSXWorkbook(path: path("names.xlsx"))
        let error = #expect(throws: XLSXError.self) { _ = try workbook.addWorksheet(named: name) }
        #expect(error?.context.contains("\"\(name)\"") == true)
        try workbook.close()
    }

    @Test func duplicateSheetNamesThrowEvenWithDifferentCase() throws {
        let workbook = try XLSXWorkbook(path: path("dupes.xlsx"))
        _ = try workbook.addWorksheet(named: "Data")
        _ = try workbook.addWorksheet(named: String(repeating: "é", count: 31))  // 31 characters is allowed
        #expect(throws: XLSXError.self) { _ = try workbook.addWorksheet(named: "Data") }
        let error = #expect(throws: XLSXError.self) { _ = try workbook.addWorksheet(named: "DATA") }
        #expect(error?.code == .sheetNameAlreadyUsed)
        try workbook.close()
    }

    @Test func closeTwiceIsHarmlessAndLaterCallsThrow() throws {
        let file = path("twice.xlsx")
        let workbook = try XLSXWorkbook(path: file)
        let sheet = try workbook.addWorksheet()
        try sheet.writeString(row: 0, col: 0, "x")
        try workbook.close()
        try workbook.close()
        #expect(workbook.isClosed)
        #expect(FileManager.default.fileExists(atPath: file))
        let error = #expect(throws: XLSXError.self) { try sheet.writeString(row: 1, col: 0, "y") }
        #expect(error?.code == .workbookClosed)
        #expect(throws: XLSXError.self) { _ = try workbook.addWorksheet() }
        #expect(throws: XLSXError.self) { _ = try workbook.addFormat(.init(bold: true)) }
    }

    @Test func dropWithoutCloseWritesNothing() throws {
        let file = path("dropped.xlsx")
        do {
            let workbook = try XLSXWorkbook(path: file)
            try workbook.addWorksheet().writeString(row: 0, col: 0, "discarded")
        }
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test func unwritablePathFailsAtClose() throws {
        let workbook = try XLSXWorkbook(path: path("missing-dir/out.xlsx"))
        try workbook.addWorksheet().writeNumber(row: 0, col: 0, 1)
        let error = #expect(throws: XLSXError.self) { try workbook.close() }
        #expect(error?.code == .creatingXLSXFile)
        #expect(workbook.isClosed)
    }

    @Test func formatsAreCachedBySpec() throws {
        let workbook = try XLSXWorkbook(path: path("formats.xlsx"))
        let a = try workbook.addFormat(.init(bold: true, numberFormat: "0.0%"))
        let b = try workbook.addFormat(.init(bold: true, numberFormat: "0.0%"))
        let c = try workbook.addFormat(.init(bold: false, numberFormat: "0.0%"))
        #expect(a === b)
        #expect(a !== c)

        let other = try XLSXWorkbook(path: path("other.xlsx"))
        let foreign = try other.addFormat(.init(italic: true))
        let sheet = try workbook.addWorksheet()
        let error = #expect(throws: XLSXError.self) { try sheet.writeNumber(row: 0, col: 0, 1, format: foreign) }
        #expect(error?.code == .invalidArgument)
        #expect(throws: XLSXError.self) {
            _ = try workbook.addFormat(.init(numberFormat: String(repeating: "0", count: 200)))
        }
        try workbook.close()
        try other.close()
    }

    @Test func stringsAreStrippedOfNULAndTruncatedToTheCellLimit() throws {
        let file = path("strings.xlsx")
        let workbook = try XLSXWorkbook(path: file)
        let sheet = try workbook.addWorksheet()
        try sheet.writeString(row: 0, col: 0, "a\u{0}b")
        try sheet.writeString(row: 1, col: 0, String(repeating: "x", count: 40_000))
        try sheet.writeString(row: 2, col: 0, String(repeating: "y", count: 32_766) + "😀")  // emoji would split
        #expect(throws: XLSXError.self) { try sheet.writeNumber(row: 3, col: 0, .nan) }
        #expect(throws: XLSXError.self) { try sheet.writeNumber(row: 3, col: 0, -.infinity) }
        try workbook.close()

        let xml = try unzip(file, "xl/worksheets/sheet1.xml")
        #expect(xml.contains("<t>ab</t>"))
        #expect(xml.contains("<t>" + String(repeating: "x", count: 32_767) + "</t>"))
        #expect(xml.contains("<t>" + String(repeating: "y", count: 32_766) + "</t>"))
    }

    /// Cells prepared on one thread and written on another come out as `writeString`/`writeNumber`
    /// write them: text without NUL and cut at the cell limit, blanks skipped, non-finite numbers refused.
    @Test func preparedCellsAreWrittenAsSingleWritesWouldBe() throws {
        var cells = XLSXCells(width: 3, rows: 2)
        cells.appendText("a\u{0}b")
        cells.appendNumber(12.5)
        cells.appendBlank()
        cells.appendText(String(repeating: "y", count: 32_766) + "😀")
        cells.appendText("Crème")
        cells.appendNumber(-3)
        #expect(cells.rowCount == 2)
        let file = path("cells.xlsx")
        let workbook = try XLSXWorkbook(path: file)
        let euro = try workbook.addFormat(.init(numberFormat: #"#,##0.00 "€""#))
        let sheet = try workbook.addWorksheet(named: "Data")
        try sheet.writeCells(cells, firstRow: 1, formats: [nil, euro, nil])
        var bad = XLSXCells(width: 1, rows: 1)
        bad.appendNumber(.nan)
        let error = #expect(throws: XLSXError.self) { try sheet.writeCells(bad, firstRow: 3, formats: []) }
        #expect(error?.context.contains("'Data'!A4") == true)
        var tooFar = XLSXCells(width: 1, rows: 1)
        tooFar.appendNumber(1)
        #expect(throws: XLSXError.self) { try sheet.writeCells(tooFar, firstRow: XLSXLimits.maxRows, formats: []) }
        try workbook.close()

        let xml = try unzip(file, "xl/worksheets/sheet1.xml")
        #expect(xml.contains(#"<c r="A2" t="inlineStr"><is><t>ab</t></is></c><c r="B2" s="1"><v>12.5</v></c></row>"#))
        #expect(xml.contains("<t>" + String(repeating: "y", count: 32_766) + "</t>"))
        #expect(xml.contains(#"<c r="B3" s="1" t="inlineStr"><is><t>Crème</t></is></c><c r="C3"><v>-3</v></c>"#))
        #expect(!xml.contains(#"r="C2""#))
    }
}
