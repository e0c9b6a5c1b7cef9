import Foundation
import Testing
@testable import StockflowCore

/// A pipeline reading `in.csv` with `options` and `columns`, written to out/out.csv.
func csvPipeline(options: [String] = [], columns: String) -> String {
    var lines = ["version: 1", "name: csv-test", "stages:", "  src:", "    extract: csv", "    path: in.csv"]
    lines += options.map { "    " + $0 }
    lines += ["    columns: \(columns)", "  out:", "    load: csv", "    input: src", "    path: out.csv", ""]
    return lines.joined(separator: "\n")
}

/// The French Excel dialect of the app's exports.
let frenchDialect = ["delimiter: \";\"", "decimal_mark: \",\"", "date_format: dd/MM/yyyy"]
private let orderColumns = "{code: int, nom: text, montant: {type: decimal, scale: 2}, jour: date, note: {type: text, nullable: true}}"

/// One bad row of the French dialect and the reject it must produce.
struct BadCSVRowCase: Sendable, CustomTestStringConvertible {
    var problem: String
    var row: [UInt8]
    var rule: String
    var fragments: [String]
    var testDescription: String { problem }

    init(_ problem: String, _ row: String, rule: String, _ fragments: [String]) {
        self.init(problem, bytes: Array(row.utf8), rule: rule, fragments)
    }

    init(_ problem: String, bytes: [UInt8], rule: String, _ fragments: [String]) {
        self.problem = problem
        self.row = bytes
        self.rule = rule
        self.fragments = fragments
    }
}

@Suite struct CSVExtractTests {
    @Test func quotedDelimitersDoubledQuotesAndLineBreaksStayInOneField() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code,nom\r\n1,\"vis; 6 mm, inox\"\r\n2,\"Chevilles \"\"Molly\"\"\"\r\n"
                      + "3,\"deux\r\nlignes\"\r\n4,\"trois\nlignes\nLF\"\r\nx,after\r\n5,fin\r\n")
        let report = try runPipeline(csvPipeline(columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 0)
        let output = readCSV(scratch.read("out/out.csv") ?? "")
        #expect(output == [["code", "nom"], ["1", "vis; 6 mm, inox"], ["2", "Chevilles \"Molly\""],
                           ["3", "deux\r\nlignes"], ["4", "trois\nlignes\nLF"], ["5", "fin"]])
        // Records 3 and 4 span lines 4-5 and 6-8, so the bad record after them starts on line 9.
        let rejects = rejectedRecords(scratch)
        #expect(rejects.map { [$0[1], $0[2]] } == [["in.csv:9", "int"]])
        #expect(stage("src", of: report)?.rowsIn == 6)
        #expect(stage("src", of: report)?.rowsRejected == 1)
        expectStageCountsReconcile(report)
    }

    @Test func aRecordSpanningTheReadBufferKeepsItsFieldsAndLineNumbers() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        // About 1.5 MiB of two-line records, so some record straddles the reader's 1 MiB chunk.
        var text = "code,nom\n"
        let records = 30_000
        for index in 1...records { text += "\(index),\"ligne \(index)\nsuite de la désignation \(index)\"\n" }
        text += "bad,\"x\"\n"
        scratch.write("in.csv", text)
        let report = try runPipeline(csvPipeline(columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 0)
        let output = readCSV(scratch.read("out/out.csv") ?? "")
        #expect(output.count == records + 1)
        #expect(output.dropFirst().enumerated().allSatisfy { index, row in
            row == ["\(index + 1)", "ligne \(index + 1)\nsuite de la désignation \(index + 1)"]
        })
        #expect(rejectedRecords(scratch).map { $0[1] } == ["in.csv:\(2 + 2 * records)"])
        expectStageCountsReconcile(report)
    }

    @Test func aUTF8ByteOrderMarkIsNotPartOfTheFirstColumnName() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", bytes: [0xEF, 0xBB, 0xBF] + Array("code,nom\n7,crème\n".utf8))
        let report = try runPipeline(csvPipeline(options: ["encoding: utf-8"], columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom"], ["7", "crème"]])
    }

    @Test(arguments: [
        ("windows-1252", [0x63, 0x72, 0xE8, 0x6D, 0x65, 0x20, 0xE9, 0x20, 0x80, 0x20, 0x9C, 0x20, 0x8C] as [UInt8], "crème é € œ Œ"),
        ("iso-8859-1", [0x63, 0x72, 0xE8, 0x6D, 0x65, 0x20, 0xE9, 0x20, 0xFC, 0x20, 0xB2] as [UInt8], "crème é ü ²"),
    ])
    func singleByteEncodingsAreDecodedToTheirCharacters(encoding: String, name: [UInt8], expected: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", bytes: Array("code;nom\r\n1;".utf8) + name + [13, 10])
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "encoding: \(encoding)"],
                                                 columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom"], ["1", expected]])
    }

    @Test func decimalCommaAndThousandsSeparatorGiveExactDecimals() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;montant\n1;1 234,50\n2;-0,5\n3;12\n4;1 000 000,01\n")
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "decimal_mark: \",\"", "thousands_separator: \" \""],
                                                 columns: "{code: int, montant: {type: decimal, scale: 2}}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[1] } == ["montant", "1234.50", "-0.50", "12.00", "1000000.01"])
    }

    @Test(arguments: [("windows-1252", [0xA0] as [UInt8]), ("utf-8", [0xC2, 0xA0])])
    func theNoBreakSpaceFrenchExcelGroupsWithIsAThousandsSeparator(encoding: String, space: [UInt8]) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let lines: [[UInt8]] = [Array("code;montant\n1;1".utf8) + space + Array("234,50\n".utf8),
                                Array("2;12".utf8) + space + Array("345".utf8) + space + Array("678,9\n".utf8),
                                Array("3;1".utf8) + space + Array("23,4\n".utf8)]
        scratch.write("in.csv", bytes: lines.flatMap { $0 })
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\"", "decimal_mark: \",\"", "encoding: \(encoding)",
                                                           "thousands_separator: \"\\u00a0\""],
                                                 columns: "{code: int, montant: decimal}"), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[1] } == ["montant", "1234.50", "12345678.9"])
        #expect(rejectedRecords(scratch).map { [$0[1], $0[2]] } == [["in.csv:4", "decimal"]], "groups of three digits only")
    }

    @Test func nullMarkersMakeNullsInNullableColumnsAndRejectsInRequiredOnes() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code,nom,prix\n1,NA,2.00\n2,,-\n3,x,NA\nNA,y,1.00\n")
        let report = try runPipeline(csvPipeline(options: ["null_values: [\"\", NA, \"-\"]"],
                                                 columns: "{code: int, nom: {type: text, nullable: true}, prix: {type: decimal, nullable: true}}"),
                                     in: scratch)
        #expect(readCSV(scratch.read("out/out.csv") ?? "") == [["code", "nom", "prix"], ["1", "", "2.00"], ["2", "", ""], ["3", "x", ""]])
        let rejects = rejectedRecords(scratch)
        #expect(rejects.map { [$0[1], $0[2]] } == [["in.csv:5", "required-value"]])
        #expect(rejects.first?[3].contains("column 'code' is empty; a value is required") == true)
        #expect(stage("src", of: report).map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected] } == [4, 3, 1])
    }

    static let badRows: [BadCSVRowCase] = [
        BadCSVRowCase("too many fields", "2;b;3,00;02/01/2025;;urgent", rule: "csv-field-count", ["too many fields: expected 5, found 6"]),
        BadCSVRowCase("too few fields", "2;b;3,00;02/01/2025", rule: "csv-field-count", ["too few fields: expected 5, found 4"]),
        BadCSVRowCase("two decimal marks", "2;b;12,5,0;02/01/2025;", rule: "decimal", ["'12,5,0' is not a decimal number"]),
        BadCSVRowCase("31 February", "2;b;3,00;31/02/2025;", rule: "date", ["'31/02/2025'", "February 2025 has 28 days"]),
        BadCSVRowCase("letters in an int", "abc;b;3,00;02/01/2025;", rule: "int", ["column 'code': 'abc' is not a whole number"]),
        BadCSVRowCase("more places than the scale", "2;b;3,456;02/01/2025;", rule: "decimal", ["'3,456' has more than 2 decimal places"]),
        BadCSVRowCase("empty required column", "2;;3,00;02/01/2025;", rule: "required-value", ["column 'nom' is empty"]),
        BadCSVRowCase("windows-1252 bytes in a utf-8 file", bytes: Array("2;cr".utf8) + [0xE8] + Array("me;3,00;02/01/2025;".utf8),
                      rule: "csv-encoding", ["column 'nom' is not valid utf-8 text", "is this windows-1252? set encoding: windows-1252"]),
    ]

    @Test(arguments: badRows)
    func aBadRowIsRejectedWithItsRuleAndFileLine(_ testCase: BadCSVRowCase) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", bytes: Array("code;nom;montant;jour;note\r\n1;a;1,50;01/01/2025;\r\n".utf8) + testCase.row
                      + Array("\r\n3;c;2,00;03/01/2025;ok\r\n".utf8))
        let report = try runPipeline(csvPipeline(options: frenchDialect, columns: orderColumns), in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let rejects = rejectedRecords(scratch)
        #expect(rejects.count == 1)
        if let reject = rejects.first {
            #expect(reject[0] == "src")
            #expect(reject[1] == "in.csv:3")
            #expect(reject[2] == testCase.rule)
            for fragment in testCase.fragments { #expect(reject[3].contains(fragment), "\(reject[3])") }
        }
        #expect(readCSV(scratch.read("out/out.csv") ?? "").map { $0[0] } == ["code", "1", "3"])
        #expect(stage("src", of: report).map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected, $0.rowsFiltered] } == [3, 2, 1, 0])
        expectStageCountsReconcile(report)
    }

    @Test func anEmptyFileFailsTheRunAndLeavesThePreviousOutput() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let pipeline = csvPipeline(options: frenchDialect, columns: orderColumns)
        scratch.write("in.csv", "")
        let fresh = try runPipeline(pipeline, in: scratch)
        #expect(fresh.exitCode == 1)
        #expect(fresh.status == "failed")
        #expect(fresh.error?.contains("in.csv: file is empty") == true, "\(fresh.error ?? "")")
        #expect(scratch.read("out/out.csv") == nil)
        #expect(temporaryFiles(scratch).isEmpty)

        scratch.write("in.csv", "code;nom;montant;jour;note\n1;a;1,50;01/01/2025;\n")
        #expect(try runPipeline(pipeline, in: scratch).exitCode == 0)
        let good = try Data(contentsOf: scratch.url.appendingPathComponent("out/out.csv"))
        scratch.write("in.csv", "")
        let failed = try runPipeline(pipeline, in: scratch)
        #expect(failed.exitCode == 1)
        #expect(try Data(contentsOf: scratch.url.appendingPathComponent("out/out.csv")) == good)
        #expect(temporaryFiles(scratch).isEmpty)
    }

    @Test func aBinaryFileFailsTheRunSayingBinary() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", bytes: Array("code;nom\n1;".utf8) + [0, 1, 2, 0xFF, 0] + [10])
        let report = try runPipeline(csvPipeline(options: ["delimiter: \";\""], columns: "{code: int, nom: text}"), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.error?.contains("binary file (NUL byte at offset 11)") == true, "\(report.error ?? "")")
        #expect(scratch.read("out/out.csv") == nil)
    }

    @Test func aMissingHeaderColumnFailsTheRunNamingTheColumnAndLineOne() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code;name;montant;jour;note\n1;a;1,50;01/01/2025;\n")
        let report = try runPipeline(csvPipeline(options: frenchDialect, columns: orderColumns), in: scratch)
        #expect(report.exitCode == 1)
        #expect(report.error?.contains("in.csv:1: missing column 'nom' (did you mean 'name'?)") == true, "\(report.error ?? "")")
        #expect(scratch.read("out/out.csv") == nil)
    }

    @Test func theBundledOrdersRejectExactlyTheDeliberateBadRows() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let report = try runPipelineFile(repositoryRoot.appendingPathComponent("pipelines/nightly-inventory.yml").path, in: scratch)
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let rejects = rejectedRecords(scratch).map { [$0[0], $0[1], $0[2]] }
        let file = "../fixtures/commandes.csv"
        // Per batch of rows (Batch.preferredSize, 1024), the extract's rejects then the transforms'.
        #expect(rejects == [
            ["orders", "\(file):503", "decimal"],
            ["orders", "\(file):754", "date"],
            ["orders", "\(file):1005", "csv-field-count"],
            ["totals", "\(file):252", "order-unknown-product"],
            ["orders", "\(file):1256", "csv-field-count"],
            ["orders", "\(file):1758", "int"],
            ["totals", "\(file):1507", "order-quantity"],
        ])
        #expect(rejectedRecords(scratch).first?[4] == "2002;27;45;1;12,5,0;27/06/2025")
        #expect(stage("orders", of: report).map { [$0.rowsIn, $0.rowsOut, $0.rowsRejected] } == [2007, 2002, 5])
        #expect(report.rejects == 7)
        expectStageCountsReconcile(report)
    }
}
