import Foundation
import Testing
@testable import StockflowCore

/// One invalid pipeline and the diagnostic it must produce: where, and what the message says.
struct InvalidPipelineCase: Sendable, CustomTestStringConvertible {
    var rule: String
    var yaml: String
    var line: Int
    var column: Int
    var fragments: [String]

    var testDescription: String { rule }
}

@Suite struct PipelineValidationTests {
    static let invalidCases: [InvalidPipelineCase] = [
        InvalidPipelineCase(rule: "an unknown stage key suggests the closest option",
                            yaml: probeHeader + "    deliminator: \";\"\n",
                            line: 7, column: 5, fragments: ["unknown key 'deliminator'", "did you mean 'delimiter'"]),
        InvalidPipelineCase(rule: "a setting of the wrong type names the expected type and the value found",
                            yaml: "version: 1\nname: probe\nsettings: {max_rejects: lots}\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 3, column: 25, fragments: ["'max_rejects' must be a whole number", "'lots'"]),
        InvalidPipelineCase(rule: "a stage option of the wrong type is reported at its value",
                            yaml: probeHeader + "  keep:\n    transform: filter\n    input: src\n    where: [a, b]\n",
                            line: 10, column: 12, fragments: ["'where' in stage 'keep' must be text", "a list"]),
        InvalidPipelineCase(rule: "an input naming no stage suggests the closest id",
                            yaml: probeHeader + "  keep:\n    transform: filter\n    input: scr\n    where: \"true\"\n",
                            line: 9, column: 12, fragments: ["reads unknown stage 'scr'", "did you mean 'src'"]),
        InvalidPipelineCase(rule: "two transforms reading each other form a cycle",
                            yaml: probeHeader + "  a:\n    transform: filter\n    input: b\n    where: \"true\"\n  b:\n    transform: filter\n    input: a\n    where: \"true\"\n",
                            line: 8, column: 5, fragments: ["'a', 'b'", "cycle"]),
        InvalidPipelineCase(rule: "an unknown extract kind lists the known kinds",
                            yaml: probeHeader + "  sheet:\n    extract: excel\n    path: in.csv\n",
                            line: 8, column: 14, fragments: ["unknown extract kind 'excel'", "known: csv, sqlite"]),
        InvalidPipelineCase(rule: "a csv extract without path names the missing option",
                            yaml: probeHeader + "  other:\n    extract: csv\n    delimiter: \";\"\n",
                            line: 8, column: 5, fragments: ["stage 'other' (extract: csv) needs option 'path'"]),
        InvalidPipelineCase(rule: "a stage with both extract and transform is rejected at the second role",
                            yaml: probeHeader + "  both:\n    extract: csv\n    transform: filter\n    path: in.csv\n",
                            line: 9, column: 5, fragments: ["stage 'both' has both 'extract' and 'transform'"]),
        InvalidPipelineCase(rule: "a quoted cron minute out of range points at the field",
                            yaml: "version: 1\nname: probe\nschedule: {cron: \"61 2 * * *\", timezone: UTC}\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 3, column: 19, fragments: ["invalid cron expression", "minute field '61'", "0-59"]),
        InvalidPipelineCase(rule: "an unquoted cron hour out of range points at the field",
                            yaml: "version: 1\nname: probe\nschedule:\n  cron: 30 25 * * *\n  timezone: UTC\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 4, column: 12, fragments: ["hour field '25'", "0-23"]),
        InvalidPipelineCase(rule: "a misspelt time zone suggests the IANA name",
                            yaml: "version: 1\nname: probe\nschedule: {cron: \"30 2 * * *\", timezone: Europe/Pariss}\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 3, column: 42, fragments: ["unknown time zone 'Europe/Pariss'", "did you mean 'Europe/Paris'"]),
        InvalidPipelineCase(rule: "a missing input file is reported at its path",
                            yaml: probeHeader + "  more:\n    extract: csv\n    path: nowhere.csv\n",
                            line: 9, column: 11, fragments: ["file 'nowhere.csv'", "does not exist"]),
        InvalidPipelineCase(rule: "a folder given as the input file is reported instead of dropping the stage",
                            yaml: probeHeader + "  more:\n    extract: csv\n    path: .\n  copy:\n    load: csv\n    input: more\n    path: copy.csv\n",
                            line: 9, column: 11, fragments: ["'.' of 'path' in stage 'more' is a folder"]),
        InvalidPipelineCase(rule: "a tab in indentation names the line and says tab",
                            yaml: "version: 1\nname: probe\nstages:\n  src:\n\textract: csv\n    path: in.csv\n",
                            line: 5, column: 1, fragments: ["tab character in indentation"]),
        InvalidPipelineCase(rule: "a key written twice in a mapping is reported at the repeat",
                            yaml: probeHeader + "    path: in.csv\n",
                            line: 7, column: 5, fragments: ["duplicate key 'path'"]),
        InvalidPipelineCase(rule: "an anchor whose alias refers to itself is an undefined alias",
                            yaml: "version: 1\nname: probe\nx-loop: &x [*x]\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 3, column: 13, fragments: ["undefined alias"]),
        InvalidPipelineCase(rule: "an alias without an anchor is an undefined alias",
                            yaml: probeHeader + "    description: *nowhere\n",
                            line: 7, column: 18, fragments: ["undefined alias"]),
        InvalidPipelineCase(rule: "an output path leaving the output folder through .. is rejected",
                            yaml: probeHeader + "  book:\n    load: xlsx\n    path: ../x.xlsx\n    sheets: [{name: A, input: src}]\n",
                            line: 9, column: 11, fragments: ["output path '../x.xlsx'", "leaves the output folder"]),
        InvalidPipelineCase(rule: "an absolute output path is rejected",
                            yaml: probeHeader + "  book:\n    load: xlsx\n    path: /tmp/x.xlsx\n    sheets: [{name: A, input: src}]\n",
                            line: 9, column: 11, fragments: ["output path '/tmp/x.xlsx'", "is absolute"]),
        InvalidPipelineCase(rule: "an unset environment variable without default is an error",
                            yaml: probeHeader + "  more:\n    extract: csv\n    path: ${STOCKFLOW_TEST_UNSET_VAR}\n",
                            line: 9, column: 11, fragments: ["environment variable 'STOCKFLOW_TEST_UNSET_VAR' is not set and has no default"]),
        InvalidPipelineCase(rule: "only version 1 is read",
                            yaml: "version: 2\nname: probe\nstages:\n  src:\n    extract: csv\n    path: in.csv\n",
                            line: 1, column: 10, fragments: ["unsupported version '2'", "reads version 1"]),
    ]

    @Test(arguments: invalidCases)
    func invalidPipelineIsReportedAtItsLineAndColumn(_ testCase: InvalidPipelineCase) {
        let (found, _) = validateProbe(testCase.yaml)
        let matching = found.filter { diagnostic in testCase.fragments.allSatisfy { diagnostic.message.contains($0) } }
        #expect(matching.count == 1, "expected one diagnostic containing \(testCase.fragments), got:\n\(DiagnosticList(found))")
        guard let diagnostic = matching.first else { return }
        #expect(diagnostic.position?.line == testCase.line, "\(diagnostic)")
        #expect(diagnostic.position?.column == testCase.column, "\(diagnostic)")
    }

    @Test func diagnosticsPrintLikeACompiler() {
        let (found, file) = validateProbe(probeHeader + "    deliminator: \";\"\n")
        #expect(found.map(\.description) == ["\(file):7:5: error: unknown key 'deliminator' in stage 'src' (did you mean 'delimiter'?)"])
    }

    @Test func everyProblemOfAFileIsReportedInOneRunInFileOrder() {
        let yaml = """
        version: 1
        name: probe
        schedule: {cron: "61 2 * * *", timezone: Europe/Pariss}
        settings: {max_rejects: lots}
        stages:
          src:
            extract: csv
            path: in.csv
            deliminator: ";"
          sheet:
            extract: excel
          book:
            load: xlsx
            path: /tmp/x.xlsx
            sheets: [{name: A, input: src}]

        """
        let (found, _) = validateProbe(yaml)
        let positions = found.compactMap { $0.position.map { [$0.line, $0.column] } }
        #expect(positions == [[3, 19], [3, 42], [4, 25], [9, 5], [11, 14], [14, 11]], "\(DiagnosticList(found))")
        #expect(found.count >= 3)
    }

    @Test func anAliasBombStopsAtTheNodeBudgetWithoutHanging() {
        // Nine levels of ten aliases each: 10^9 nodes if expanded.
        var lines = ["version: 1", "name: probe", "x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            lines.append("x-\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]")
            previous = name
        }
        lines += ["stages:", "  src:", "    extract: csv", "    path: in.csv", ""]
        let found = validateProbe(lines.joined(separator: "\n")).diagnostics
        #expect(found.count == 1)
        #expect(found.first?.message.contains("more than 100000 YAML nodes") == true, "\(DiagnosticList(found))")
    }

    @Test func anUnsetVariableWithADefaultTakesTheDefault() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("in.csv", "code\n1\n")
        let file = scratch.write("pipeline.yml", probeHeader.replacingOccurrences(of: "name: probe", with: "name: ${STOCKFLOW_TEST_UNSET_VAR:-fallback}"))
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        #expect(pipeline.name == "fallback")
    }

    @Test func aSetVariableIsSubstituted() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("data/in.csv", "code\n1\n")
        let yaml = probeHeader.replacingOccurrences(of: "name: probe", with: "name: ${SET_VAR}-nightly")
            .replacingOccurrences(of: "path: in.csv", with: "path: ${DATA_DIR}/in.csv")
        let file = scratch.write("pipeline.yml", yaml)
        let pipeline = try Pipeline.load(path: file.path, environment: ["SET_VAR": "stock", "DATA_DIR": "data"])
        #expect(pipeline.name == "stock-nightly")
        #expect((pipeline.stages.first?.runner as? CSVExtract)?.path.path == scratch.url.appendingPathComponent("data/in.csv").standardizedFileURL.path)
    }

    @Test func everyBundledPipelineValidates() throws {
        let folder = repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(!files.isEmpty)
        for name in files {
            let path = folder.appendingPathComponent(name).path
            do {
                let pipeline = try Pipeline.load(path: path, environment: [:])
                #expect(!pipeline.stages.isEmpty, "\(name)")
            } catch {
                Issue.record("\(name) does not validate:\n\(error)")
            }
        }
    }
}
