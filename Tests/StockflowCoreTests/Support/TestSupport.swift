import Foundation
@testable import StockflowCore

/// The repository root, found from this file's path.
let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}()

/// A fresh temporary folder, removed by the caller with `cleanup()`.
struct Scratch {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("stockflow-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes a file under the folder and returns its URL.
    @discardableResult
    func write(_ name: String, _ text: String) -> URL {
        let file = url.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(text.utf8).write(to: file)
        return file
    }

    /// Writes raw bytes under the folder.
    @discardableResult
    func write(_ name: String, bytes: [UInt8]) -> URL {
        let file = url.appendingPathComponent(name)
        try? Data(bytes).write(to: file)
        return file
    }

    /// Reads a file under the folder as UTF-8 text.
    func read(_ name: String) -> String? {
        (try? Data(contentsOf: url.appendingPathComponent(name))).flatMap { String(data: $0, encoding: .utf8) }
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Loads a pipeline written in `yaml` (saved as pipeline.yml in `scratch`) and returns its diagnostics.
func diagnostics(of yaml: String, in scratch: Scratch, environment: [String: String] = [:]) -> [Diagnostic] {
    let file = scratch.write("pipeline.yml", yaml)
    do {
        _ = try Pipeline.load(path: file.path, environment: environment)
        return []
    } catch let list as DiagnosticList {
        return list.diagnostics
    } catch {
        return [Diagnostic("\(error)", at: nil)]
    }
}

/// Loads and runs a pipeline written in `yaml`, writing into `scratch`/out.
func runPipeline(_ yaml: String, in scratch: Scratch, asOf: String = "2026-11-25",
                 environment: [String: String] = [:]) throws -> RunReport {
    let file = scratch.write("pipeline.yml", yaml)
    let pipeline = try Pipeline.load(path: file.path, environment: environment)
    let runner = PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent("out"),
                                asOf: CivilDate(iso: asOf)!)
    return runner.run()
}

/// Parses a CSV file written by stockflow (RFC 4180) into records.
func readCSV(_ text: String) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var inQuotes = false
    var iterator = Array(text).makeIterator()
    var pending: Character? = nil
    while let character = pending ?? iterator.next() {
        pending = nil
        if inQuotes {
            if character == "\"" {
                if let next = iterator.next() {
                    if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
                } else { inQuotes = false }
            } else { field.append(character) }
        } else if character == "\"" {
            inQuotes = true
        } else if character == "," {
            record.append(field); field = ""
        } else if character == "\r\n" || character == "\n" {
            record.append(field); field = ""
            records.append(record); record = []
        } else if character != "\r" {
            field.append(character)
        }
    }
    if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
    return records
}
