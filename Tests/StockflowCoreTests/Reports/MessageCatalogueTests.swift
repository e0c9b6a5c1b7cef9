import Foundation
import Testing
@testable import StockflowCore

/// The reader's words: messages in both languages with each language's numbers, rules and coded values
/// in words, source locations without folders, axis labels with their unit, periods in words.
@Suite struct MessageCatalogueTests {
    let words = MessageCatalogue(currency: "EUR")
    let french = ReportLocale(identifier: "fr_FR", currency: "EUR")
    let american = ReportLocale(identifier: "en_US", currency: "EUR")

    @Test func aStoredTotalMismatchReadsInFrenchWithFrenchNumbersAndStaysExactInEnglish() {
        let text = words.orderTotalMismatch(stored: Money("1289.66")!, units: 1, unitPrice: Money("43.10")!, total: Money("43.10")!,
                                            difference: Money("1246.56")!)
        #expect(text.english == "stored total 1289.66 differs from 1 × 43.10 = 43.10 by 1246.56; the recomputed total is used")
        #expect(text.french == "montant enregistré 1\u{202F}289,66\u{00A0}€ différent de 1 × 43,10\u{00A0}€ = 43,10\u{00A0}€ (écart 1\u{202F}246,56\u{00A0}€) ; le montant recalculé est retenu")
        #expect(text.text(for: french) == text.french && text.text(for: american) == text.english)
    }

    @Test(arguments: [("order-unknown-product", "Commande d’un produit inconnu", "Order for an unknown product"),
                      ("csv-field-count", "Nombre de champs incorrect", "Wrong number of fields"),
                      ("return-over-refund", "Remboursements au-delà du brut", "Refunds over the invoice's gross")])
    func rulesHaveNamesInBothLanguages(_ rule: String, _ inFrench: String, _ inEnglish: String) {
        #expect(MessageCatalogue.ruleName(rule) == LocalizedText(english: inEnglish, french: inFrench))
    }

    @Test func anUnknownRuleShowsItsCode() {
        #expect(MessageCatalogue.ruleName("custom-rule") == LocalizedText("custom-rule"))
    }

    @Test func returnReasonsAndStockEffectsReadAsWords() {
        #expect(MessageCatalogue.valueWord("written_off").french == "Mis au rebut")
        #expect(MessageCatalogue.valueWord("refund_only").english == "Refund only")
        #expect(MessageCatalogue.valueWord("defaut").french == "Défaut")
        #expect(MessageCatalogue.valueWord("Jardinage") == LocalizedText("Jardinage"))
    }

    @Test(arguments: [("/srv/stockflow/data/commandes.csv:503", "commandes.csv:503"),
                      ("../fixtures/commandes.csv:12", "commandes.csv:12"),
                      ("query in /srv/data/inventory.sqlite3:51", "query in inventory.sqlite3:51"),
                      ("stock_produit code_prod=13", "stock_produit code_prod=13")])
    func sourcesShowTheFileNameNeverTheFolder(_ source: String, _ shown: String) {
        #expect(MessageCatalogue.displaySource(source) == shown)
    }

    @Test func axisLabelsCarryTheUnit() {
        #expect(french.axis(700_000, format: .money) == "700\u{202F}k€")
        #expect(french.axis(950, format: .money) == "950\u{00A0}€")
        #expect(french.axis(1_200, format: .integer) == "1\u{202F}200")
        #expect(american.axis(700_000, format: .money) == "€700k")
    }

    @Test func monthsReadAsWordsAndRangesStateTheirPeriod() {
        #expect(french.period(.text("2025-01")) == "janv. 2025")
        #expect(american.period(.text("2026-11")) == "Nov 2026")
        #expect(french.periodRange(.text("2025-01"), .text("2026-11")) == "janv. 2025 – nov. 2026")
        #expect(french.period(.text("2025-W03")) == "2025-S03", "a week in French: S for semaine")
    }

    @Test func databaseValuesThatDoNotReadAreNamedWithTheirColumnInBothLanguages() {
        let real = MessageCatalogue.unreadableStoredValue(column: "code_prod", value: "2.5", frenchValue: MessageCatalogue.frenchNumber(2.5),
                                                          expected: .wholeNumber)
        #expect(real.english == "column 'code_prod': '2.5' is not a whole number")
        #expect(real.french == "colonne « code_prod » : « 2,5 » n’est pas un nombre entier")
        let nan = MessageCatalogue.unreadableStoredValue(column: "prix_unit", value: "NaN", expected: .exactDecimal)
        #expect(nan.french == "colonne « prix_unit » : « NaN » ne tient pas dans un nombre décimal exact")
        #expect(MessageCatalogue.nullInRequiredColumn(column: "nom").french == "colonne « nom » à NULL ; une valeur est requise")
        #expect(MessageCatalogue.frenchNumber(1234.5) == "1\u{202F}234,5")
    }

    @Test func weeksReadAsTheirLabelInEachLanguage() {
        #expect(french.period(.text("2025-W01")) == "2025-S01")
        #expect(american.period(.text("2025-W01")) == "2025-W01")
        #expect(french.period(.text("2025-W54")) == "2025-W54", "not a week: shown as it is")
    }
}

@Suite struct ChartReadabilityTests {
    let locale = ReportLocale(identifier: "fr_FR", currency: "EUR")

    @Test func theRestOfATopNBarChartIsANoteNotABar() {
        let items = (0..<3).map { ChartItem(label: "p\($0)", values: [Money(Int64(10 - $0))], isOther: false) }
            + [ChartItem(label: "Les 28 autres", values: [Money(7062)], isOther: true)]
        let chart = SVGChart(kind: .bar, title: "Stock", items: items, seriesNames: ["Unités"], formats: [.integer], locale: locale, id: "c")
        let svg = chart.render()
        #expect(chart.markCount == 3)
        #expect(svg.components(separatedBy: "class=\"mark").count - 1 == 3)
        #expect(svg.contains("<text class=\"note others\" x=\"0\"") && svg.contains("Les 28 autres : 7\u{202F}062"))
    }

    @Test func aLineOfManyPointsLabelsAtMostFivePeriods() {
        let items = (1...23).map { ChartItem(label: "2025-\($0 < 10 ? "0" : "")\(min($0, 12))", values: [Money(Int64($0 * 1000))], isOther: false) }
        let svg = SVGChart(kind: .line, title: "CA", items: items, seriesNames: ["CA brut"], formats: [.money], locale: locale, id: "l").render()
        let labels = svg.components(separatedBy: "text-anchor=\"middle\">").count - 1
        #expect(labels <= 5 && labels >= 4)
        #expect(svg.contains("k€"))
    }

    @Test func slicesShowTheirPercentage() {
        let items = [ChartItem(label: "A", values: [Money(3)], isOther: false), ChartItem(label: "B", values: [Money(1)], isOther: false)]
        let svg = SVGChart(kind: .donut, title: "Parts", items: items, seriesNames: ["Valeur"], formats: [.money], locale: locale, id: "d").render()
        #expect(svg.contains("(75,0\u{202F}%)") && svg.contains("(25,0\u{202F}%)"))
    }
}
