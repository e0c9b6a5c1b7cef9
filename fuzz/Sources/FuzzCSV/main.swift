import Foundation
import FuzzSupport
@testable import StockflowCore

// Input: one option byte, then the CSV file. The option byte picks the delimiter (bits 0-1: , ; tab |),
// lenient_quotes (bit 2), the encoding (bits 3-4: utf-8, windows-1252, iso-8859-1, utf-8) and the
// quote limits (bit 5: 2 lines and 64 bytes, so the fuzzer reaches them). FuzzCorpusTests reads the
// committed corpus the same way.
// 1. The reader alone: every record and field is read; no crash, no hang.
// 2. fuzz/csv-pipeline.yml (`extract: csv` → `load: csv`) in a real run: when it succeeds,
//    rows in = out + rejected + filtered.

private let pipelineFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../csv-pipeline.yml").standardizedFileURL.path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let option = start.load(as: UInt8.self)
    let file = writeScratch("in.csv", UnsafeRawBufferPointer(start: start + 1, count: count - 1))
    let delimiter: UInt8 = [UInt8(ascii: ","), UInt8(ascii: ";"), 9, UInt8(ascii: "|")][Int(option & 3)]
    let tiny = option & 32 != 0

    if let reader = try? CSVReader(path: file, delimiter: delimiter, quote: UInt8(ascii: "\""), lenient: option & 4 != 0,
                                   limits: CSVReader.QuoteLimits(lines: tiny ? 2 : 256, bytes: tiny ? 64 : 1 << 20)) {
        var records = 0
        while records < 100_000, (try? reader.next()) == true {
            records += 1
            for field in reader.fields { _ = reader.bytes(of: field) }
            _ = reader.recordBytes
            _ = reader.isEmptyRow
            _ = reader.strayText
        }
    }

    var environment = [
        "FUZZ_CSV": file, "FUZZ_DELIMITER": delimiter == 9 ? "\\t" : String(UnicodeScalar(delimiter)),
        "FUZZ_ENCODING": ["utf-8", "windows-1252", "iso-8859-1", "utf-8"][Int(option >> 3 & 3)],
        "FUZZ_LENIENT": option & 4 != 0 ? "true" : "false",
        "FUZZ_MAX_QUOTED_LINES": tiny ? "2" : "256", "FUZZ_MAX_QUOTED_BYTES": tiny ? "64" : "1048576",
    ]
    environment["HOME"] = "/nonexistent"
    guard let pipeline = try? Pipeline.load(path: pipelineFile, environment: environment) else {
        require(false, "fuzz/csv-pipeline.yml does not load")
        return 0
    }
    let report = PipelineRunner(pipeline: pipeline, outputDirectory: fuzzScratch.appendingPathComponent("out"),
                                asOf: CivilDate(days: 20_000)).run()
    // A failed run (an unterminated quote) writes nothing; its counts stop mid-batch.
    for stage in report.stages where report.exitCode == 0 {
        require(stage.rowsIn == stage.rowsOut + stage.rowsRejected + stage.rowsFiltered,
                "stage \(stage.id): rows in \(stage.rowsIn) ≠ out \(stage.rowsOut) + rejected \(stage.rowsRejected) + filtered \(stage.rowsFiltered)")
    }
    return 0
}
