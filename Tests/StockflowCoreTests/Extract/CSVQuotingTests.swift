import Foundation
import Testing
@testable import StockflowCore

private let semicolon = ["delimiter: \";\"", "decimal_mark: \",\""]
private let threeColumns = "{code: int, nom: text, prix: {type: decimal, scale: 2}}"

/// `code;nom;prix` and `count` good rows, with `line` (1-based, the header is line 1) replaced.
private func rows(_ count: Int, replacing line: Int? = nil, with text: String = "") -> String {
    var lines = ["code;nom;prix"] + (1...count).map { "\($0);article \($0);\($0),50" }
    if let line { lines[line - 1] = text }
    return lines.joined(separator: "\n") + "\n"
}

@Suite struct CSVQuotingTests {
    @Test func textAfterAClosingQuoteIsACSVQuoteRejectNamingLineAndColumn() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;prix\n1;\"Écran 27\" pouces;10,00\n2;vis;\"1,00\"0\n3;ok;2,00\n")
        let report = try runPipeline(csvPipeline(options: semicolon, columns: threeColumns), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "prix"], ["3", "ok", "2.00"]])
        let rejects = rejectedRecords(scratch)
        #expect(rejects.map { [$0[1], $0[2]] } == [["in.csv:2", "csv-quote"], ["in.csv:3", "csv-quote"]])
        // `1;"Écran 27"` is 12 characters: the stray text starts at column 13; `2;vis;"1,00"` is 12 too.
        #expect(rejects.first?[3].contains("text after the closing quote at line 2, column 13 (the quote opened at column 3)") == true, "\(rejects)")
        #expect(rejects.last?[3].contains("line 3, column 13") == true)
        #expect(rejects.first?[3].contains("lenient_quotes: true") == true)
        #expect(rejects.first?[4] == "1;\"Écran 27\" pouces;10,00", "the reject keeps the row as written")
        expectStageCountsReconcile(report)
    }

    @Test func textAfterAClosingQuoteInTheHeaderFailsTheRun() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;\"nom\" article;prix\n1;a;1,00\n")
        let report = try runPipeline(csvPipeline(options: semicolon, columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.error?.contains("in.csv:1:11: text after the closing quote in the header (the quote opened at column 6)") == true,
                "\(report.error ?? "")")
    }

    @Test func lenientQuotesKeepTheTextAfterTheClosingQuote() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;note\n1;\"Écran 27\" pouces;\"1,00\"0\n")
        let report = try runPipeline(csvPipeline(options: semicolon + ["lenient_quotes: true"],
                                                 columns: "{code: int, nom: text, note: text}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "note"], ["1", "Écran 27 pouces", "1,000"]])
        #expect(rejectedRecords(scratch).isEmpty)
    }

    @Test func aStrayQuoteFailsTheRunNamingWhereItOpenedInsteadOfSwallowingTheFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // Line 7: the quote is the 12th character; 2,000 rows follow it.
        scratch.write("in.csv", rows(2_000, replacing: 7, with: "1234567890;\"Vis inox;3,00"))
        let report = try runPipeline(csvPipeline(options: semicolon, columns: threeColumns), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.status == "failed")
        #expect(report.error?.contains("in.csv:7:12: unterminated quote opened at line 7, column 12: no closing quote within 256 lines (max_quoted_lines)") == true,
                "\(report.error ?? "")")
        #expect(scratch.read("out/out.csv") == nil, "no output from a file read wrong")
    }

    @Test func aQuoteLeftOpenAtTheEndOfTheFileFailsTheRunToo() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", rows(20, replacing: 19, with: "19;\"Vis;3,00"))
        let report = try runPipeline(csvPipeline(options: semicolon, columns: threeColumns), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.error?.contains("unterminated quote opened at line 19, column 4: the file ends before the closing quote") == true,
                "\(report.error ?? "")")
    }

    @Test func lenientQuotesReadTheUnclosedLineWithItsQuoteAndGoOnFromTheNextLine() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", rows(2_000, replacing: 7, with: "6;\"Vis inox;3,00"))
        let report = try runPipeline(csvPipeline(options: semicolon + ["lenient_quotes: true"], columns: threeColumns), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let output = readCSV(scratch.read("out/out.csv") ?? "")
        #expect(output.count == 2_001)
        #expect(output[6] == ["6", "\"Vis inox", "3.00"], "the quote is kept as text")
        #expect(output[7] == ["7", "article 7", "7.50"], "reading goes on from the next line")
        #expect(stage("src", of: report).map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected] } == [2_000, 2_000, 0])
        #expect(stage("src", of: report)?.notes.first?.contains("1 line(s) with a quote that never closes were read with the quote as text (lenient_quotes), first at line 7") == true)
        expectStageCountsReconcile(report)
    }

    @Test func theQuotedLineLimitIsAnOption() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;prix\n1;\"un\ndeux\ntrois\nquatre\";1,00\n2;b;2,00\n")
        let fits = try runPipeline(csvPipeline(options: semicolon, columns: threeColumns), in: scratch)
        #expect(fits.exitCode == 0, "\(fits.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[1] } == ["nom", "un\ndeux\ntrois\nquatre", "b"])
        let tight = try runPipeline(csvPipeline(options: semicolon + ["max_quoted_lines: 2"], columns: threeColumns), in: scratch)
        #expect(tight.exitCode == 1)
        #expect(tight.error?.contains("unterminated quote opened at line 2, column 3: no closing quote within 2 lines") == true, "\(tight.error ?? "")")
        let bytes = try runPipeline(csvPipeline(options: semicolon + ["max_quoted_bytes: 8"], columns: threeColumns), in: scratch)
        #expect(bytes.error?.contains("no closing quote within 8 bytes (max_quoted_bytes)") == true, "\(bytes.error ?? "")")
    }

    @Test(arguments: ["max_quoted_lines: 0", "max_quoted_bytes: -1", "quote: \";\"", "delimiter: \"\\n\""])
    func quoteOptionsThatCannotWorkAreDiagnostics(option: String) {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;prix\n")
        let found = diagnostics(of: csvPipeline(options: ["delimiter: \";\""].filter { _ in !option.hasPrefix("delimiter") } + [option],
                                                columns: threeColumns), in: scratch)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.position != nil)
    }
}
