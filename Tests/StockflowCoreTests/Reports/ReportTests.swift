import Foundation
import Testing
@testable import StockflowCore

@Suite struct ReportLocaleTests {
    let french = ReportLocale(identifier: "fr_FR", currency: "EUR")
    let american = ReportLocale(identifier: "en_US", currency: "USD")

    @Test(arguments: [("1234.56", "1\u{202F}234,56\u{00A0}€"), ("-12", "-12,00\u{00A0}€"), ("0.005", "0,01\u{00A0}€"),
                      ("1234567.891", "1\u{202F}234\u{202F}567,89\u{00A0}€")])
    func frenchMoneyGroupsWithNarrowNoBreakSpaces(_ amount: String, _ expected: String) {
        #expect(french.money(Money(amount)!) == expected)
    }

    @Test func americanMoneyPutsTheSignFirst() {
        #expect(american.money(Money("1234.5")!) == "$1,234.50")
        #expect(american.money(Money("-3")!) == "-$3.00")
    }

    @Test func datesFollowTheLocale() {
        let day = CivilDate(year: 2026, month: 11, day: 24)!
        #expect(french.date(day) == "24/11/2026")
        #expect(american.date(day) == "11/24/2026")
    }

    @Test func percentagesHaveOnePlace() {
        #expect(french.percent(Money("0.1234")!) == "12,3\u{202F}%")
        #expect(american.percent(Money("0.5")!) == "50.0%")
    }
}

@Suite struct SVGChartTests {
    let locale = ReportLocale(identifier: "fr_FR", currency: "EUR")

    func items(_ count: Int) -> [ChartItem] {
        (0..<count).map { ChartItem(label: "p\($0)", values: [Money(Int64(count - $0))], isOther: false) }
    }

    func marks(_ svg: String) -> Int { svg.components(separatedBy: "class=\"mark").count - 1 }

    @Test(arguments: [ChartKind.bar, .pie, .donut])
    func barsAndSlicesDrawOneMarkPerItem(_ kind: ChartKind) {
        let chart = SVGChart(kind: kind, title: "t", items: items(5), seriesNames: ["v"], formats: [.integer], locale: locale, id: "c")
        let svg = chart.render()
        #expect(marks(svg) == 5)
        #expect(svg.contains("data-marks=\"5\""))
        #expect(svg.contains("<title id=\"c-title\">t</title>"))
    }

    @Test func aLineDrawsOnePointPerLabelAndSeries() {
        let points = (0..<7).map { ChartItem(label: "W\($0)", values: [Money(Int64($0)), Money(Int64($0 * 10))], isOther: false) }
        let chart = SVGChart(kind: .line, title: "t", items: points, seriesNames: ["a", "b"], formats: [.money, .integer], locale: locale, id: "c")
        #expect(marks(chart.render()) == 14)
    }

    @Test func aGaugeDrawsOneArcAndSaysHowFarTheTargetIs() {
        let chart = SVGChart(kind: .gauge, title: "Stock", items: [ChartItem(label: "Stock", values: [Money(50)], isOther: false)],
                             seriesNames: ["v"], formats: [.money], target: Money(200), locale: locale, id: "g")
        #expect(marks(chart.render()) == 1)
        #expect(chart.description.contains("25,0\u{202F}%"))
    }

    @Test func aSingleSliceIsAFullRing() {
        let chart = SVGChart(kind: .donut, title: "t", items: items(1), seriesNames: ["v"], formats: [.integer], locale: locale, id: "c")
        #expect(chart.render().contains(" Z M"))
    }

    @Test func textIsEscaped() {
        let chart = SVGChart(kind: .bar, title: "<a&b>", items: [ChartItem(label: "\"x\"", values: [Money(1)], isOther: false)],
                             seriesNames: ["v"], formats: [.integer], locale: locale, id: "c")
        let svg = chart.render()
        #expect(svg.contains("&lt;a&amp;b&gt;") && svg.contains("&quot;x&quot;") && !svg.contains("<a&b>"))
    }
}

@Suite struct ReportPageTests {
    @Test(arguments: ["<script>alert(1)</script>", "<img src=\"http://x/y.png\">", "<link href='https://cdn/x.css'>",
                      "<style>@import 'a.css';</style>", "<div style=\"background:url(http://x)\">"])
    func outsideReferencesAreFound(_ html: String) {
        #expect(SelfContainedPage.outsideReference(in: "<p>ok</p>" + html) != nil)
    }

    @Test func fragmentsAndDataAreSelfContained() {
        #expect(SelfContainedPage.outsideReference(in: "<a href=\"#chart-1\">x</a><img src=\"data:image/png;base64,AA\">") == nil)
    }

    @Test func nonASCIIHeadersAreEncodedWords() {
        let encoded = encodeHeaderText("Inventaire du 25/11 : 3 rejets, état à vérifier")
        #expect(encoded.hasPrefix("=?UTF-8?B?"))
        #expect(encodeHeaderText("plain subject") == "plain subject")
        #expect(encodeAddress("Service financier <finance@example.com>") == "\"Service financier\" <finance@example.com>")
        #expect(bareAddress("Élise <e@example.com>") == "e@example.com")
    }

    @Test func passwordsStayOutOfDisplayedURLs() {
        #expect(SMTPServer(url: "smtp://robot:s3cret@mail.example.com:587").displayURL == "smtp://mail.example.com:587")
    }
}
