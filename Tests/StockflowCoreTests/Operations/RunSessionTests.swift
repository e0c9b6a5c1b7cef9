import Foundation
import Logging
import Testing
@testable import StockflowCore

/// The sequence every run takes (lock → history → run → metrics → alert), as `run`, `schedule` and the server call it.
@Suite("Run sessions")
struct RunSessionTests {
    private let goodPipeline = """
        version: 1
        name: session-good
        stages:
          rows: {extract: csv, path: rows.csv, columns: {id: int, montant: {type: decimal, scale: 2}}}
          out: {load: csv, input: rows, path: "rows-{as_of}.csv"}
        """

    private func session(_ yaml: String, in scratch: Scratch, name: String = "pipeline.yml",
                         metrics: String? = nil) throws -> RunSession {
        scratch.write("rows.csv", "id,montant\n1,12.50\n2,3.10\n")
        let file = scratch.write(name, yaml)
        let pipeline = try Pipeline.load(path: file.path, environment: [:])
        return RunSession(pipeline: pipeline, asOf: CivilDate(iso: "2026-11-25")!,
                          options: RunSession.Options(outputDirectory: scratch.url.appendingPathComponent("out"),
                                                      statePath: scratch.url.appendingPathComponent("state/state.sqlite").path,
                                                      metricsFile: metrics),
                          logger: Logger(label: "test"), logTail: { count in Array(["line one", "line two"].suffix(count)) })
    }

    @Test func aRunIsEnteredInTheHistoryBeforeItGoesAndFinishedWithItsReport() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let session = try session(goodPipeline, in: scratch, metrics: scratch.url.appendingPathComponent("m.prom").path)
        var seenRunning: [RunRecord] = []
        let outcome = session.run { record in
            seenRunning = (try? RunHistory(path: session.options.statePath).runs(pipeline: "session-good")) ?? []
            #expect(record.trigger == "manual")
        }
        guard case .ran(let report) = outcome else { Issue.record("expected a run, got \(outcome)"); return }
        #expect(report.exitCode == 0 && outcome.exitCode == 0)
        #expect(seenRunning.map(\.status) == ["running"])
        let records = try RunHistory(path: session.options.statePath).runs(pipeline: "session-good")
        #expect(records.map(\.status) == ["succeeded"])
        #expect(records.first?.runID == session.runID)
        #expect(scratch.read("out/rows-2026-11-25.csv")?.contains("12.50") == true)
        let metrics = scratch.read("m.prom") ?? ""
        #expect(metrics.contains("stockflow_run_exit_code{pipeline=\"session-good\"} 0"))
    }

    @Test func aSecondSessionOfTheSamePipelineIsBusyAndRecordsNothing() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let first = try session(goodPipeline, in: scratch)
        let second = try session(goodPipeline, in: scratch)
        var inner: RunSession.Outcome?
        _ = first.run { _ in inner = second.run() }
        guard case .busy(let busy) = inner else { Issue.record("expected busy, got \(String(describing: inner))"); return }
        #expect(inner?.exitCode == 75)
        #expect(busy.holder == getpid())
        let records = try RunHistory(path: first.options.statePath).runs(pipeline: "session-good")
        #expect(records.map(\.runID) == [first.runID])
    }

    @Test func aFailedRunSendsTheAlertToTheOutboxWithTheErrorAndTheLogTail() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let yaml = """
            version: 1
            name: session-bad
            on_failure: {email: {to: [ops@example.com], log_lines: 1}}
            stages:
              rows: {extract: csv, path: rows.csv, columns: {id: int, quantite_absente: int}}
              out: {load: csv, input: rows, path: rows.csv}
            """
        let session = try session(yaml, in: scratch)
        let outcome = session.run()
        #expect(outcome.exitCode == 1)
        let outbox = scratch.url.appendingPathComponent("out/outbox")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []
        #expect(files.count == 1 && files.first?.hasPrefix("alert-session-bad-") == true)
        let message = files.first.flatMap { try? String(contentsOf: outbox.appendingPathComponent($0), encoding: .utf8) } ?? ""
        #expect(message.contains("quantite_absente"))
        #expect(message.contains("line two") && !message.contains("line one"))
        let records = try RunHistory(path: session.options.statePath).runs(pipeline: "session-bad")
        #expect(records.map(\.status) == ["failed"])
    }

    @Test func runIDsCarryTheStartTimeAndTheProcess() {
        let id = RunSession.makeRunID(now: Date(timeIntervalSince1970: 1_764_034_200), pid: 4242)
        #expect(id == "20251125T013000Z-4242")
    }

    @Test func runIDsMadeInTheSameSecondDiffer() {
        let second = Date(timeIntervalSince1970: 1_764_034_201)
        let ids = (0..<3).map { _ in RunSession.makeRunID(now: second, pid: 4243) }
        #expect(ids == ["20251125T013001Z-4243", "20251125T013001Z-4243-2", "20251125T013001Z-4243-3"])
        #expect(RunSession.makeRunID(now: second.addingTimeInterval(1), pid: 4243) == "20251125T013002Z-4243")
    }
}
