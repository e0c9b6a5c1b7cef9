import Foundation
import Testing
@testable import StockflowCore

@Suite struct CSVValueFidelityTests {
    @Test func quotedTextKeepsItsSpacesAndAFieldOfSpacesIsText() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;note\n1;\" B  \";  x \n2;   ;\"  \"\n")
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\""], columns: "{code: int, nom: text, note: text}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "note"], ["1", " B  ", "  x "], ["2", "   ", "  "]])
        #expect(rejectedRecords(scratch).isEmpty, "spaces are a value, not an empty required field")
    }

    @Test func unquotedNumbersAndDatesLoseTheirSpacesByDefault() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;prix;jour;ok\n 7 ;12,5 ; 01/02/2026 ; oui\n")
        let report = try runPipeline(csvPipeline(options: frenchDialect, columns: "{code: int, prix: decimal, jour: date, ok: bool}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "prix", "jour", "ok"], ["7", "12.5", "2026-02-01", "true"]])
    }

    @Test func aQuotedNumberIsReadAsWritten() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;prix\n1;\"12,5\"\n2;\" 12,5\"\n")
        let report = try runPipeline(csvPipeline(options: frenchDialect, columns: "{code: int, prix: decimal}"), in: scratch)
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "prix"], ["1", "12.5"]])
        #expect(rejectedRecords(scratch).map { [$0[1], $0[2]] } == [["in.csv:3", "decimal"]])
        expectStageCountsReconcile(report)
    }

    @Test func trimIsAnOptionOfTheStageAndOfEachColumn() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;nom;ref\n 1 ; Vis ; A1 \n")
        let all = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "trim: all"],
                                              columns: "{code: int, nom: text, ref: {type: text, trim: false}}"), in: scratch)
        #expect(all.exitCode == 0, "\(all.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "ref"], ["1", "Vis", " A1 "]])
        let none = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "trim: none"],
                                               columns: "{code: int, nom: {type: text, trim: true}, ref: text}"), in: scratch)
        #expect(none.exitCode == 0)
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "ref"]])
        #expect(rejectedRecords(scratch).first?[3].contains("' 1 ' is not a whole number") == true, "\(rejectedRecords(scratch))")
        let found = diagnostics(of: csvPipeline(options: ["trim: yes please"], columns: "{code: {type: int, trim: maybe}}"), in: scratch)
        #expect(found.count == 2, "\(found)")
    }

    @Test func excelsEmptyRowsAreFilteredWithAReasonAndTheCountsReconcile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let empty = String(repeating: ";;;;\r\n", count: 101)
        scratch.write("in.csv", "code;nom;montant;jour;note\r\n1;a;1,50;01/01/2025;\r\n" + empty + "2;b;2,00;02/01/2025;\r\n;;\r\n")
        let orderColumns = "{code: int, nom: text, montant: decimal, jour: date, note: {type: text, nullable: true}}"
        let report = try runPipeline(csvPipeline(options: frenchDialect, columns: orderColumns), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[0] } == ["code", "1", "2"])
        let source = stage("src", of: report)
        #expect(source.map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected, $0.rowsFiltered] } == [104, 2, 0, 102])
        #expect(source?.filteredReasons == ["empty row (every field empty)": 102])
        expectStageCountsReconcile(report)
    }

    @Test func intColumnsAcceptTheThousandsSeparatorLikeDecimals() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;qte;prix\n1;1 000;1 000,50\n2;12 345 678;0\n3;1 00;0\n4;1 000,5;0\n")
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "decimal_mark: \",\"", "thousands_separator: \" \""],
                                                 columns: "{code: int, qte: int, prix: decimal}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").dropFirst().map { [$0[1], $0[2]] } == [["1000", "1000.50"], ["12345678", "0"]])
        #expect(rejectedRecords(scratch).map { [$0[1], $0[2]] } == [["in.csv:4", "int"], ["in.csv:5", "int"]],
                "groups of three only, and no decimal mark in an int")
    }

    @Test(arguments: [" ", "\\u00a0", "\\u202f"])
    func anySpaceLikeSeparatorAcceptsSpaceNoBreakSpaceAndNarrowNoBreakSpace(declared: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;qte;prix\n1;1 000;2 000,5\n2;3\u{00A0}000;4\u{00A0}000,5\n3;5\u{202F}000;6\u{202F}000,5\n")
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "decimal_mark: \",\"", "thousands_separator: \"\(declared)\""],
                                                 columns: "{code: int, qte: int, prix: decimal}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").dropFirst().map { [$0[1], $0[2]] }
                == [["1000", "2000.5"], ["3000", "4000.5"], ["5000", "6000.5"]])
        #expect(rejectedRecords(scratch).isEmpty)
    }

    @Test func c1ControlsInIso88591TextAreRejectedWithTheWindows1252Hint() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // A windows-1252 file (€ is 0x80, œ 0x9C) declared iso-8859-1.
        scratch.write("in.csv", bytes: Array("code;nom\n1;".utf8) + [0x63, 0x9C, 0x75, 0x72, 0x20, 0x80] + Array("\n2;cr".utf8) + [0xE8] + Array("me\n".utf8))
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "encoding: iso-8859-1"], columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom"], ["2", "crème"]])
        let rejects = rejectedRecords(scratch)
        #expect(rejects.map { [$0[1], $0[2]] } == [["in.csv:2", "csv-encoding"]])
        #expect(rejects.first?[3].contains("C1 control character U+009C") == true, "\(rejects)")
        #expect(rejects.first?[3].contains("is this windows-1252?") == true)
    }

    @Test func aHeaderThatIsNotUTF8SaysWhereAndAsksAboutWindows1252() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // `code;désignation;Prix unitaire` in windows-1252: é (0xE9) is byte 6 of the file, counted from 0.
        scratch.write("in.csv", bytes: Array("code;d".utf8) + [0xE9] + Array("signation;Prix unitaire\n1;vis;2\n".utf8))
        let declared = try runPipeline(csvPipeline(options: ["delimiter: \";\""], columns: "{code: int, \"Prix unitaire\": decimal}"), in: scratch)
        #expect(declared.exitCode == 1)
        #expect(declared.error?.contains("in.csv:1: the header is not valid UTF-8 at byte 6 of the file; is this windows-1252? set encoding: windows-1252") == true,
                "\(declared.error ?? "")")
        let undeclared = diagnostics(of: "version: 1\nname: t\nstages:\n  src: {extract: csv, path: in.csv, delimiter: \";\"}\n", in: scratch)
        #expect(undeclared.first?.message.contains("the header is not valid UTF-8 at byte 6") == true, "\(undeclared)")
    }

    @Test func aHeaderOf40000ColumnsIsMatchedAndAMissingOneIsNamedBriefly() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let names = (1...40_000).map { "colonne_\($0)" }
        scratch.write("in.csv", names.joined(separator: ",") + "\n" + (1...40_000).map(String.init).joined(separator: ",") + "\n")
        let report = try runPipeline(csvPipeline(columns: "{colonne_39999: int, COLONNE_2: int}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["colonne_39999", "COLONNE_2"], ["39999", "2"]])
        let missing = try runPipeline(csvPipeline(columns: "{colonne_40001x: int}"), in: scratch)
        #expect(missing.error?.contains("missing column 'colonne_40001x' (did you mean") == true, "\(missing.error?.prefix(300) ?? "")")
        #expect(missing.error?.contains("… (40000 columns)") == true)
        #expect((missing.error?.count ?? 0) < 2_000, "the header is not printed whole")
    }

    @Test func aHugeUnknownColumnNameGetsNoHintAndIsShortened() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let huge = String(repeating: "x", count: 1 << 20)
        scratch.write("in.csv", "code,\(huge)\n1,2\n")
        // YAML keys stop at 1,024 characters: the long name comes through `from:`.
        let report = try runPipeline(csvPipeline(columns: "{code: int, other: {type: text, from: \(huge)y}}"), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.error?.contains("missing column 'xxxx") == true)
        #expect(report.error?.contains("did you mean") == false)
        #expect((report.error?.count ?? 0) < 1_000, "\(report.error?.count ?? 0) characters")
    }
}
