import Foundation
import Testing
@testable import StockflowCore

/// What the xlsx load writes for a reader beside the figures: the page setup of every sheet, the Rejets
/// sheet with the amounts left out, booleans that read Oui/Non, months as real dates.
@Suite struct XLSXPageSetupTests {
    typealias Book = XLSXLoadTests

    @Test func everySheetPrintsOnePageWideWithItsHeaderRepeatedAndAFooter() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Book.run(Book.twoSheets, in: scratch)
        let workbook = try Book.unzip(book, "xl/workbook.xml")
        for (index, name) in ["Commandes", "Produits"].enumerated() {
            let sheet = try Book.unzip(book, "xl/worksheets/sheet\(index + 1).xml")
            #expect(sheet.contains(#"<pageSetUpPr fitToPage="1"/>"#), "\(name)")
            #expect(sheet.contains(#"paperSize="9""#) && sheet.contains(#"fitToHeight="0""#), "\(name)")
            #expect(sheet.contains("<oddFooter>&amp;Lgolden-workbook · situation au 25/11/2026&amp;Rpage &amp;P / &amp;N</oddFooter>"), "\(name)")
            #expect(workbook.contains(#"<definedName name="_xlnm.Print_Titles" localSheetId="\#(index)">\#(name)!$1:$1</definedName>"#), "\(name)")
            #expect(workbook.contains(#"<definedName name="_xlnm.Print_Area" localSheetId="\#(index)">"#), "\(name)")
        }
        // Five narrow columns fit portrait A4.
        #expect(try Book.unzip(book, "xl/worksheets/sheet1.xml").contains(#"orientation="portrait""#))
    }

    @Test func aSheetTooWideForPortraitPrintsLandscape() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Book.run("""
                sheets:
                  - name: Commandes
                    input: totals
                    headers: {code_cmd: Numéro de la commande dans le logiciel, date_commande: Date de la commande passée,
                              code_prod: Code du produit commandé, quantite_cmd: Quantité commandée par le client}
            """, in: scratch)
        #expect(try Book.unzip(book, "xl/worksheets/sheet1.xml").contains(#"orientation="landscape""#))
    }

    @Test func theRejetsSheetListsEachRejectWithItsAmountAndTheirTotal() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (report, book) = try Book.run(Book.twoSheets, in: scratch)
        #expect(report.rejects == 3)
        #expect(Book.sheetNames(try Book.unzip(book, "xl/workbook.xml")).last == "Rejets")
        let sheet = try Book.unzip(book, "xl/worksheets/sheet3.xml")
        let cells = Book.cells(sheet)
        #expect(cells["A1"]?.value == "Source" && cells["E1"]?.value == "Montant")
        // Orders 107 (unknown product, 5.00), 108 (quantity 0, 0.00) and 111 (quantity -1, -2.50), at their file lines.
        #expect(["A2", "A3", "A4"].map { cells[$0]?.value } == ["orders.csv:8", "orders.csv:9", "orders.csv:12"])
        #expect(["B2", "B3"].map { cells[$0]?.value } == ["Commande d’un produit inconnu", "Quantité commandée inférieure à 1"])
        #expect(["E2", "E3", "E4"].map { cells[$0]?.value } == ["5", "0", "-2.5"])
        #expect(cells["A5"]?.value == "Total des montants rejetés")
        #expect(cells["E5"]?.formula == "SUBTOTAL(109,E2:E4)" && cells["E5"]?.value == "2.5")
        let rejects = readCSV(scratch.read("out/rejects.csv") ?? "")
        #expect(rejects.first == ["stage", "source", "rule", "message", "row", "amount"])
        #expect(rejects.dropFirst().map { $0[5] } == ["5.00", "0.00", "-2.50"])
    }

    @Test func booleansReadOuiNonAndMonthsAreDatesOfTheirFirstDay() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let (_, book) = try Book.run("""
                sheets:
                  - {name: Produits, input: products}
                  - {name: Mois, input: months, formats: {mois: month}}
              months:
                transform: select
                input: totals
                columns: [{mois: "month(date_commande)"}, montant_commande]
            """, in: scratch)
        let styles = try Book.unzip(book, "xl/styles.xml")
        #expect(Book.numberFormats(styles).contains(Book.unescape("&quot;Oui&quot;;&quot;Oui&quot;;&quot;Non&quot;")))
        #expect(Book.numberFormats(styles).contains("[$-40C]mmmm yyyy"))
        let products = Book.cells(try Book.unzip(book, "xl/worksheets/sheet1.xml"))
        // is_deleted is the 4th column: a number 0/1 (not TRUE/FALSE) under the Oui/Non format.
        #expect(["0", "1"].contains(products["D2"]?.value ?? ""))
        let months = Book.cells(try Book.unzip(book, "xl/worksheets/sheet2.xml"))
        // 2026-11 is 1 November 2026: Excel serial 46327.
        #expect(months["A2"]?.value == "46327")
    }
}
