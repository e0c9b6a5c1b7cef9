import Foundation
import Testing
@testable import StockflowCore

@Suite struct ReportDataJSONTests {
    static let pipeline = """
        version: 1
        name: tiny-report
        settings: {currency: EUR, locale: fr_FR}
        stages:
          stock: {extract: csv, path: stock.csv, columns: {produit: text, unites: int, valeur: {type: decimal, scale: 2}}}
          report:
            load: html_report
            path: "rapport-{as_of}.html"
            kpis:
              - {label: Valeur du stock, input: stock, value: valeur}
            charts:
              - {type: bar, title: Stock par produit, input: stock, label: produit, value: unites, top: 2}
              - {type: gauge, title: Valeur, input: stock, value: valeur, target: 1000}
        """

    @Test func theReportsKPIsAndChartsAreWrittenBesideItAsExactJSON() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("stock.csv", "produit,unites,valeur\nVis,5,10.10\nÉcrous,7,0.20\nClous,1,100.05\nPointes,2,0.01\n")
        let report = try runPipeline(ReportDataJSONTests.pipeline, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let path = scratch.url.appendingPathComponent("out/rapport-2026-11-25.json").standardizedFileURL.path
        #expect(report.outputs.contains(path))
        let data = try #require(FileManager.default.contents(atPath: path))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["as_of"] as? String == "2026-11-25")
        #expect(document["currency"] as? String == "EUR")
        let kpis = try #require(document["kpis"] as? [[String: Any]])
        #expect(kpis.first?["value"] as? String == "110.36")
        let charts = try #require(document["charts"] as? [[String: Any]])
        #expect(charts.map { $0["kind"] as? String } == ["bar", "gauge"])
        let bars = try #require(charts[0]["items"] as? [[String: Any]])
        #expect(bars.prefix(2).map { $0["label"] as? String } == ["Écrous", "Vis"])
        #expect(bars.map { ($0["values"] as? [String])?.first } == ["7", "5", "3"])
        #expect(bars.last?["other"] as? Bool == true)
        #expect(charts[1]["target"] as? String == "1000")
    }
}
