import Foundation
import Testing
@testable import StockflowCore

/// A way of breaking a pipeline file, applied to its LF text.
struct BrokenVariant: Sendable, CustomTestStringConvertible {
    var name: String
    var breakText: @Sendable (String) -> String

    var testDescription: String { name }
}

/// Replaces the first occurrence of `target` in `text`.
private func replacingFirst(_ target: String, with replacement: String, in text: String) -> String {
    guard let range = text.range(of: target) else { return text }
    return text.replacingCharacters(in: range, with: replacement)
}

/// Breakages that each produce diagnostics with positions: in the YAML, in the stages, in the settings.
private let variants: [BrokenVariant] = [
    BrokenVariant(name: "as written") { $0 },
    BrokenVariant(name: "a misspelled input key") { replacingFirst("input:", with: "inptu:", in: $0) },
    BrokenVariant(name: "a misspelled stage option and an unknown top-level key") { text in
        replacingFirst("extract:", with: "extrat: x\n    extract:", in: text) + "\nextra_key: 1\n"
    },
    BrokenVariant(name: "a duplicated key") { replacingFirst("name:", with: "name: twice\nname:", in: $0) },
    BrokenVariant(name: "a tab in the indentation") { replacingFirst("\n  ", with: "\n\t", in: $0) },
    BrokenVariant(name: "an unclosed quote") { $0 + "\nbroken: \"never closed\n" },
    BrokenVariant(name: "an unknown setting and a bad cron") { text in
        text + "\nsettings: {currency: euro, curency: EUR}\nschedule: {cron: \"61 * * * *\"}\n"
    },
]

/// Each bundled pipeline with each breakage.
private let cases: [(String, BrokenVariant)] = {
    let folder = repositoryRoot.appendingPathComponent("pipelines")
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".yml") }.sorted()
    return files.flatMap { file in variants.map { (file, $0) } }
}()

@Suite struct LineEndingTests {
    @Test func linesAreSplitAtLFCRLFAndLoneCR() {
        #expect(ConfigLoader.lines(of: "a\nb\r\nc\rd").map(String.init) == ["a", "b", "c", "d"])
        #expect(ConfigLoader.lines(of: "a\r\n\r\nb\r").map(String.init) == ["a", "", "b", ""])
        #expect(ConfigLoader.lines(of: "é\r\n\u{301}x").map(String.init) == ["é", "\u{301}x"])
    }

    @Test(arguments: cases)
    func crlfAndLoneCRGiveTheDiagnosticsOfTheLFFile(_ file: String, _ variant: BrokenVariant) throws {
        let original = try String(contentsOf: repositoryRoot.appendingPathComponent("pipelines").appendingPathComponent(file), encoding: .utf8)
        let lf = variant.breakText(original)
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let environment = ["STOCKFLOW_FIXTURES": repositoryRoot.appendingPathComponent("fixtures").path]
        let expected = diagnostics(of: lf, in: scratch, environment: environment).map(\.description)
        if variant.name != "as written" {
            #expect(!expected.isEmpty, "the breakage '\(variant.name)' must produce diagnostics")
        }
        for (ending, replacement) in [("CRLF", "\r\n"), ("lone CR", "\r")] {
            let text = lf.replacingOccurrences(of: "\n", with: replacement)
            let found = diagnostics(of: text, in: scratch, environment: environment).map(\.description)
            #expect(found == expected, "\(ending) differs from LF")
        }
    }
}
