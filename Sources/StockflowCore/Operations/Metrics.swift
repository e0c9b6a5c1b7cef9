import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Run metrics for Prometheus in node_exporter's textfile format (`--metrics-file PATH`, read by
/// node_exporter's `--collector.textfile.directory`). Several pipelines may share one file: each run
/// replaces its own pipeline's samples and keeps the others', under a lock, and the file is swapped in
/// with a rename so node_exporter never reads half of it.
public enum RunMetrics {
    /// One metric: its name, help text and type.
    struct Family {
        let name: String
        let help: String
        let type: String
    }

    static let families: [Family] = [
        Family(name: "stockflow_run_duration_seconds", help: "Wall time of the last run.", type: "gauge"),
        Family(name: "stockflow_run_exit_code", help: "Exit code of the last run (0 success, 1 failed, 65 too many rejects, 75 temporary).", type: "gauge"),
        Family(name: "stockflow_run_success", help: "1 when the last run succeeded, else 0.", type: "gauge"),
        Family(name: "stockflow_run_last_timestamp_seconds", help: "Unix time the last run ended.", type: "gauge"),
        Family(name: "stockflow_last_success_timestamp_seconds", help: "Unix time the last successful run ended.", type: "gauge"),
        Family(name: "stockflow_run_rejects", help: "Rows rejected by the last run.", type: "gauge"),
        Family(name: "stockflow_run_findings", help: "Findings raised by the last run.", type: "gauge"),
        Family(name: "stockflow_stage_rows_in", help: "Rows a stage read in the last run.", type: "gauge"),
        Family(name: "stockflow_stage_rows_out", help: "Rows a stage passed on in the last run.", type: "gauge"),
        Family(name: "stockflow_stage_rows_rejected", help: "Rows a stage rejected in the last run.", type: "gauge"),
        Family(name: "stockflow_stage_rows_filtered", help: "Rows a stage filtered out in the last run.", type: "gauge"),
        Family(name: "stockflow_stage_findings", help: "Findings a stage raised in the last run.", type: "gauge"),
        Family(name: "stockflow_stage_duration_seconds", help: "Seconds spent in a stage in the last run.", type: "gauge"),
    ]

    /// One sample line: metric name, labels in order, value.
    struct Sample: Equatable {
        var name: String
        var labels: [(String, String)]
        var value: String

        static func == (lhs: Sample, rhs: Sample) -> Bool {
            lhs.name == rhs.name && lhs.value == rhs.value && lhs.labels.elementsEqual(rhs.labels) { $0 == $1 }
        }

        var pipeline: String? { labels.first { $0.0 == "pipeline" }?.1 }

        var line: String {
            let text = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            return "\(name){\(text)} \(value)"
        }
    }

    /// Writes the metrics of `report` into `path`, keeping the samples of other pipelines.
    public static func write(_ report: RunReport, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Serialize the read-merge-write of concurrent runs of different pipelines.
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)).map(parse) ?? []
        let text = render(merge(existing, samples(of: report, previous: existing)))
        let temporary = TemporaryFile.url(for: url)
        do {
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, path) == 0 else {
                throw StageError("cannot move \(temporary.path) to \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw StageError("cannot write metrics file \(path): \(error)")
        }
    }

    /// The textfile's figures computed from run history instead of a file: the samples of each
    /// pipeline's newest finished run (`latest`), with the end time of its newest successful run
    /// (`lastSuccess`, ISO 8601 by pipeline) carried when that newest run failed. `stockflow serve`
    /// answers /metrics with it, so a server without `--metrics-file` exports the same figures.
    public static func text(latest reports: [RunReport], lastSuccess: [String: String]) -> String {
        render(reports.flatMap { report in
            let carried = lastSuccess[report.pipeline].flatMap(parseISO8601).map { [lastSuccessSample(report.pipeline, at: $0)] }
            return samples(of: report, previous: carried ?? [])
        })
    }

    /// `stockflow_last_success_timestamp_seconds` of `pipeline` for a success that ended at `date`.
    private static func lastSuccessSample(_ pipeline: String, at date: Date) -> Sample {
        Sample(name: "stockflow_last_success_timestamp_seconds", labels: [("pipeline", pipeline)],
               value: format(date.timeIntervalSince1970.rounded()))
    }

    /// The samples of one run; the last success time carries over from `previous` when this run failed.
    static func samples(of report: RunReport, previous: [Sample]) -> [Sample] {
        let pipeline = [("pipeline", report.pipeline)]
        let started = parseISO8601(report.started)
        let finished = parseISO8601(report.finished) ?? Date()
        func sample(_ name: String, _ value: Double, _ labels: [(String, String)] = pipeline) -> Sample {
            Sample(name: name, labels: labels, value: format(value))
        }
        var result = [
            sample("stockflow_run_duration_seconds", started.map { finished.timeIntervalSince($0) } ?? 0),
            sample("stockflow_run_exit_code", Double(report.exitCode)),
            sample("stockflow_run_success", report.exitCode == 0 ? 1 : 0),
            sample("stockflow_run_last_timestamp_seconds", finished.timeIntervalSince1970.rounded()),
        ]
        if report.exitCode == 0 {
            result.append(lastSuccessSample(report.pipeline, at: finished))
        } else if let last = previous.first(where: { $0.name == "stockflow_last_success_timestamp_seconds" && $0.pipeline == report.pipeline }) {
            result.append(last)
        }
        result.append(sample("stockflow_run_rejects", Double(report.rejects)))
        result.append(sample("stockflow_run_findings", Double(report.findings)))
        for stage in report.stages {
            let labels = pipeline + [("stage", stage.id), ("kind", stage.kind)]
            result.append(sample("stockflow_stage_rows_in", Double(stage.rowsIn), labels))
            result.append(sample("stockflow_stage_rows_out", Double(stage.rowsOut), labels))
            result.append(sample("stockflow_stage_rows_rejected", Double(stage.rowsRejected), labels))
            result.append(sample("stockflow_stage_rows_filtered", Double(stage.rowsFiltered), labels))
            result.append(sample("stockflow_stage_findings", Double(stage.findings), labels))
            result.append(sample("stockflow_stage_duration_seconds", stage.seconds, labels))
        }
        return result
    }

    /// Other pipelines' samples, then this run's.
    static func merge(_ existing: [Sample], _ fresh: [Sample]) -> [Sample] {
        let pipelines = Set(fresh.compactMap(\.pipeline))
        return existing.filter { !pipelines.contains($0.pipeline ?? "") } + fresh
    }

    /// The file text: each family's HELP and TYPE once, then its samples.
    static func render(_ samples: [Sample]) -> String {
        var text = ""
        for family in families {
            let lines = samples.filter { $0.name == family.name }
            guard !lines.isEmpty else { continue }
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for sample in lines { text += sample.line + "\n" }
        }
        return text
    }

    /// Reads the samples of a file this type wrote (comments skipped).
    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line -> Sample? in
            guard !line.hasPrefix("#"), let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { return nil }
            let name = String(line[..<open])
            let value = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
            var labels: [(String, String)] = []
            var rest = line[line.index(after: open)..<close]
            while let equals = rest.firstIndex(of: "=") {
                let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                var index = rest.index(equals, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex
                var raw = ""
                while index < rest.endIndex, rest[index] != "\"" {
                    if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                        index = rest.index(after: index)
                        raw.append(rest[index] == "n" ? "\n" : rest[index])
                    } else {
                        raw.append(rest[index])
                    }
                    index = rest.index(after: index)
                }
                labels.append((key, raw))
                rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
            }
            return Sample(name: name, labels: labels, value: value)
        }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A label value escaped for the text format (backslash, quote, line break).
private func escape(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
}
