import ArgumentParser
import Foundation
import StockflowCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List recorded runs, newest first, from the state database.")

    @Argument(help: "Only the runs of this pipeline (its name).")
    var pipeline: String?

    @Option(help: "The state database.")
    var state: String = RunHistory.defaultPath

    @Option(help: "How many runs to list.")
    var limit = 20

    @Flag(help: "Print each run's whole record (run.json included) as one JSON object per line.")
    var json = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1, found \(limit)") }
    }

    func run() throws {
        let records = try openHistory(state).runs(pipeline: pipeline, limit: limit)
        if json {
            for record in records { print(recordJSON(record)) }
            return
        }
        if records.isEmpty {
            print("no runs recorded\(pipeline.map { " for \($0)" } ?? "") in \(state)")
            return
        }
        var rows = [["run", "pipeline", "as of", "started", "seconds", "status", "exit", "trigger", "error"]]
        for record in records {
            rows.append([record.runID, record.pipeline, record.asOf, record.started, duration(record),
                         record.status, record.exitCode.map(String.init) ?? "", record.trigger,
                         record.error.map { $0.count > 80 ? String($0.prefix(79)) + "…" : $0 } ?? ""])
        }
        printTable(rows)
    }

    private func recordJSON(_ record: RunRecord) -> String {
        var fields: [(String, String)] = [
            ("run_id", jsonString(record.runID)), ("pipeline", jsonString(record.pipeline)), ("as_of", jsonString(record.asOf)),
            ("started", jsonString(record.started)), ("finished", jsonString(record.finished)), ("status", jsonString(record.status)),
            ("exit_code", record.exitCode.map(String.init) ?? "null"), ("error", record.error.map(jsonString) ?? "null"),
            ("trigger", jsonString(record.trigger)), ("scheduled_for", record.scheduledFor.map(jsonString) ?? "null"),
            ("pid", String(record.pid)), ("output_dir", jsonString(record.outputDirectory)),
        ]
        fields.append(("report", record.report ?? "null"))
        return "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// Opens the state database, or says there is none yet.
func openHistory(_ path: String) throws -> RunHistory {
    guard FileManager.default.fileExists(atPath: path) else {
        FileHandle.standardError.write(Data("no state database at \(path) yet: nothing has run with this --state\n".utf8))
        throw ExitCode(ExitStatus.failed.rawValue)
    }
    return try RunHistory(path: path)
}

/// Seconds between a record's start and end, or empty while it runs.
func duration(_ record: RunRecord) -> String {
    guard let start = parseISO8601(record.started), let end = parseISO8601(record.finished) else { return "" }
    return String(Int(end.timeIntervalSince(start).rounded()))
}

/// Prints rows as left-aligned columns, the first row as the header.
func printTable(_ rows: [[String]]) {
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}
