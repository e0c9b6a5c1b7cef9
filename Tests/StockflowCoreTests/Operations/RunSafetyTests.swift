import Foundation
import Testing
@testable import StockflowCore

@Suite("Retries, run lock, metrics and secret redaction")
struct RunSafetyTests {
    @Test func backoffDoublesUpToTheCapWithJitterBelowTheFullWait() {
        var policy = RetryPolicy()
        policy.initialDelay = 1
        policy.maxDelay = 5
        policy.jitter = 0.5
        #expect((0..<5).map { policy.delay(beforeRetry: $0, random: 0.999_999) }.map { $0.rounded() } == [1, 2, 4, 5, 5])
        #expect((0..<4).map { policy.delay(beforeRetry: $0, random: 0) } == [0.5, 1, 2, 2.5])
    }

    @Test func temporaryFailuresAreRetriedThenRethrownWhenRetriesRunOut() throws {
        var policy = RetryPolicy()
        policy.maxRetries = 2
        var waits: [Double] = []
        var attempts = 0
        #expect(throws: StageError.self) {
            try policy.perform(isTemporary: { ($0 as? StageError)?.kind == .temporary }, sleep: { waits.append($0) }, random: { 0.5 }) { _ in
                attempts += 1
                throw StageError("server unreachable", kind: .temporary)
            }
        }
        #expect(attempts == 3)
        #expect(waits == [0.75, 1.5])
        let value = try policy.perform(isTemporary: { _ in true }, sleep: { _ in }) { attempt in
            if attempt == 0 { throw StageError("busy", kind: .temporary) }
            return attempt
        }
        #expect(value == 1)
    }

    @Test func aPermanentFailureIsNotRetried() {
        var attempts = 0
        #expect(throws: StageError.self) {
            try RetryPolicy().perform(isTemporary: { ($0 as? StageError)?.kind == .temporary }, sleep: { _ in }) { _ in
                attempts += 1
                throw StageError("bad file")
            }
        }
        #expect(attempts == 1)
    }

    @Test func aSecondLockOfThePipelineIsRefusedNamingTheHolderAndFreedOnRelease() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        var first: RunLock? = try RunLock(pipeline: "nightly", folder: scratch.url)
        do {
            _ = try RunLock(pipeline: "nightly", folder: scratch.url)
            Issue.record("a second lock was granted")
        } catch let busy as RunLockBusy {
            #expect(busy.holder == getpid())
            #expect(busy.description.contains("process \(getpid()) holds the lock"))
        }
        _ = try RunLock(pipeline: "monthly", folder: scratch.url)
        withExtendedLifetime(first) {}
        first = nil
        _ = try RunLock(pipeline: "nightly", folder: scratch.url)
    }

    @Test func metricsOfOnePipelineKeepTheOthersAndTheLastSuccess() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        let path = scratch.url.appendingPathComponent("stockflow.prom").path
        let decoder = JSONDecoder()
        func report(_ pipeline: String, exit: Int32, finished: String) throws -> RunReport {
            try decoder.decode(RunReport.self, from: Data("""
                {"pipeline":"\(pipeline)","as_of":"2026-11-25","started":"2026-11-25T01:30:00Z","finished":"\(finished)",
                 "status":"x","exit_code":\(exit),"stages":[{"id":"orders","kind":"extract:csv","rows_in":5,"rows_out":4,
                 "rows_rejected":1,"rows_filtered":0,"rows_emitted":4,"findings":0,"filtered_reasons":{},"notes":[],"seconds":0.5}],
                 "outputs":[],"rejects":1,"findings":0,"rejects_file":"rejects.csv","findings_file":"findings.csv"}
                """.utf8))
        }
        try RunMetrics.write(report("nightly", exit: 0, finished: "2026-11-25T01:31:40Z"), to: path)
        try RunMetrics.write(report("monthly", exit: 0, finished: "2026-11-25T01:30:10Z"), to: path)
        try RunMetrics.write(report("nightly", exit: 75, finished: "2026-11-25T01:30:20Z"), to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("stockflow_run_exit_code{pipeline=\"nightly\"} 75"))
        #expect(text.contains("stockflow_run_duration_seconds{pipeline=\"nightly\"} 20"))
        #expect(text.contains("stockflow_last_success_timestamp_seconds{pipeline=\"nightly\"} 1795570300"))
        #expect(text.contains("stockflow_run_exit_code{pipeline=\"monthly\"} 0"))
        #expect(text.contains("stockflow_stage_rows_rejected{pipeline=\"nightly\",stage=\"orders\",kind=\"extract:csv\"} 1"))
        #expect(text.components(separatedBy: "# TYPE stockflow_run_exit_code gauge").count == 2)
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent(".stockflow.prom.tmp-\(getpid())").path))
    }

    @Test func secretsFromTheEnvironmentAndUrlPasswordsAreMasked() {
        let redactor = SecretRedactor(environment: [
            "DB_PASSWORD": "hunter2-long", "GITHUB_TOKEN": "ghp_abc123", "app_secret_key": "k3y-value",
            "DATABASE_URL": "postgres://app:p%40ss-word@db/x", "HOME": "/root", "SHORT_TOKEN": "ab",
        ])
        let text = "path /data/hunter2-long.csv token ghp_abc123 key k3y-value url postgres://app:p%40ss-word@db/x p@ss-word smtp://u:other-pw@mail home /root ab"
        #expect(redactor.redact(text) == "path /data/***.csv token *** key *** url postgres://app:***@db/x *** smtp://u:***@mail home /root ab")
    }

    @Test(arguments: [
        ("retries: {max_retries: -1}", "retries 'max_retries' must be a whole number from 0 to 100"),
        ("retries: {initial_delay: 10, max_delay: 1}", "is shorter than 'initial_delay'"),
        ("retries: {maxretries: 2}", "unknown key 'maxretries' in retries"),
        ("on_failure: {email: {to: [not-an-address]}}", "'not-an-address' is not an email address"),
        ("on_failure: {email: {subject: x}}", "on_failure email needs 'to'"),
        ("on_failure: {slack: {}}", "unknown key 'slack' in on_failure"),
        ("schedule: {cron: \"0 2 * * *\", catchup: sometimes}", "schedule 'catchup' must be one of none, latest, all"),
    ])
    func badRetryAlertAndCatchupSettingsAreReported(yaml: String, message: String) {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("a.csv", "id\n1\n")
        let found = diagnostics(of: """
            version: 1
            name: p
            \(yaml)
            stages:
              a: {extract: csv, path: a.csv}
              b: {load: csv, input: a, path: b.csv}
            """, in: scratch)
        #expect(found.contains { $0.message.contains(message) }, "\(found)")
    }

    @Test func goodRetryAlertAndCatchupSettingsAreRead() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("a.csv", "id\n1\n")
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: p
            schedule: {cron: "@daily", timezone: America/New_York, catchup: all}
            retries: {max_retries: 5, initial_delay: 0.5, jitter: 0}
            on_failure: {email: {to: [ops@example.com], log_lines: 20}}
            stages:
              a: {extract: csv, path: a.csv}
              b: {load: csv, input: a, path: b.csv}
            """)
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        #expect(pipeline.schedule?.catchup == .all)
        #expect(pipeline.retries.maxRetries == 5 && pipeline.retries.initialDelay == 0.5 && pipeline.retries.jitter == 0)
        #expect(pipeline.onFailure?.to == ["ops@example.com"])
        #expect(pipeline.onFailure?.logLines == 20)
    }
}
