import Foundation
import Hummingbird
import HummingbirdTesting
import StockflowCore
import Testing
@testable import StockflowServer

/// /metrics computes the textfile's run figures from the run history, without `--metrics-file`.
@Suite struct MetricsTests {
    /// Records a finished run of `pipeline` with one extract and one load stage.
    static func record(_ fixture: ServerFixture, id: String, pipeline: String, exitCode: Int32, finished: String,
                       rowsIn: Int, rejected: Int) throws -> RunReport {
        let history = try RunHistory(path: fixture.options.statePath)
        let folder = fixture.folder.appendingPathComponent("out/\(pipeline)").path
        try history.begin(RunRecord(runID: id, pipeline: pipeline, asOf: "2026-11-25", started: "2026-11-25T01:30:00Z",
                                    trigger: "manual", scheduledFor: nil, pid: 1, outputDirectory: folder))
        let stage: [String: Any] = [
            "id": "ventes", "kind": "csv", "rows_in": rowsIn, "rows_out": rowsIn - rejected - 2, "rows_rejected": rejected,
            "rows_filtered": 2, "rows_emitted": 0, "findings": 1, "filtered_reasons": [:], "notes": [], "seconds": 0.25,
        ]
        let report: [String: Any] = [
            "pipeline": pipeline, "as_of": "2026-11-25", "started": "2026-11-25T01:30:00Z", "finished": finished,
            "status": exitCode == 0 ? "succeeded" : "failed", "exit_code": exitCode, "stages": [stage], "outputs": [],
            "rejects": rejected, "findings": 1, "rejects_file": folder + "/rejects.csv", "findings_file": folder + "/findings.csv",
        ]
        let decoded = try JSONDecoder().decode(RunReport.self, from: JSONSerialization.data(withJSONObject: report))
        try history.finish(runID: id, report: decoded)
        return decoded
    }

    @Test func metricsGiveTheLatestRunsFiguresAndCarryTheLastSuccess() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        _ = try Self.record(fixture, id: "n-1", pipeline: "nightly", exitCode: 0, finished: "2026-11-25T01:31:40Z", rowsIn: 100, rejected: 3)
        _ = try Self.record(fixture, id: "n-2", pipeline: "nightly", exitCode: 75, finished: "2026-11-26T01:30:20Z", rowsIn: 40, rejected: 7)
        _ = try Self.record(fixture, id: "m-1", pipeline: "monthly", exitCode: 0, finished: "2026-11-25T01:30:10Z", rowsIn: 12, rejected: 0)
        try await fixture.test { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                let lines = Set(text.split(separator: "\n").map(String.init))
                // The newest nightly run failed: its own figures, the earlier success's time.
                #expect(lines.contains("stockflow_run_exit_code{pipeline=\"nightly\"} 75"))
                #expect(lines.contains("stockflow_run_success{pipeline=\"nightly\"} 0"))
                #expect(lines.contains("stockflow_run_rejects{pipeline=\"nightly\"} 7"))
                #expect(lines.contains("stockflow_stage_rows_in{pipeline=\"nightly\",stage=\"ventes\",kind=\"csv\"} 40"))
                #expect(lines.contains("stockflow_stage_rows_out{pipeline=\"nightly\",stage=\"ventes\",kind=\"csv\"} 31"))
                #expect(lines.contains("stockflow_stage_rows_filtered{pipeline=\"nightly\",stage=\"ventes\",kind=\"csv\"} 2"))
                #expect(lines.contains("stockflow_run_duration_seconds{pipeline=\"nightly\"} 86420"))  // started 25th 01:30:00, ended 26th 01:30:20
                let success = "stockflow_last_success_timestamp_seconds"
                #expect(lines.contains("\(success){pipeline=\"nightly\"} \(Int(parseISO8601("2026-11-25T01:31:40Z")?.timeIntervalSince1970 ?? 0))"))
                #expect(lines.contains("\(success){pipeline=\"monthly\"} \(Int(parseISO8601("2026-11-25T01:30:10Z")?.timeIntervalSince1970 ?? 0))"))
                #expect(lines.contains("stockflow_stage_rows_in{pipeline=\"monthly\",stage=\"ventes\",kind=\"csv\"} 12"))
                // One HELP and one TYPE per family, then the request counters.
                #expect(text.components(separatedBy: "# HELP stockflow_run_rejects ").count == 2)
                #expect(lines.contains("# TYPE stockflow_stage_rows_in gauge"))
                #expect(text.contains("# TYPE stockflow_http_requests_total counter"))
            }
        }
    }

    @Test func metricsEqualTheTextfileTheSameRunsWrite() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        let textfile = fixture.folder.appendingPathComponent("metrics/stockflow.prom").path
        let runs = [
            try Self.record(fixture, id: "n-1", pipeline: "nightly", exitCode: 0, finished: "2026-11-25T01:31:40Z", rowsIn: 100, rejected: 3),
            try Self.record(fixture, id: "m-1", pipeline: "monthly", exitCode: 0, finished: "2026-11-25T01:30:10Z", rowsIn: 12, rejected: 0),
            try Self.record(fixture, id: "n-2", pipeline: "nightly", exitCode: 1, finished: "2026-11-26T01:30:20Z", rowsIn: 40, rejected: 7),
        ]
        for report in runs { try RunMetrics.write(report, to: textfile) }
        let expected = try String(contentsOfFile: textfile, encoding: .utf8)
        try await fixture.test { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                // Same samples and headers; the order of pipelines may differ (the file keeps write order).
                let runLines = Set(text.split(separator: "\n").map(String.init).filter { !$0.contains("stockflow_http_") })
                #expect(runLines == Set(expected.split(separator: "\n").map(String.init)))
            }
        }
    }
}
