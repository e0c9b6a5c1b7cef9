import Foundation

/// A reject or finding recorded by a stage on a worker thread, not yet in its file.
struct BufferedIssue {
    var isReject: Bool
    var stage: String
    var source: String
    var rule: String
    var message: LocalizedText
    var row: String
    var amount: Money?
}

/// The rejects and findings of a stage running on a worker thread (an extract reading ahead): kept
/// here, handed over with the batch they came with, and written by the runner's thread when it takes
/// that batch, so rejects.csv and findings.csv list rows in the same order whatever the threads do.
final class ThreadIssueBuffer: @unchecked Sendable {
    private let records = Locked<[BufferedIssue]>([])

    /// Keeps one record.
    func add(_ issue: BufferedIssue) {
        records.mutate { $0.append(issue) }
    }

    /// The records kept so far, in order, leaving the buffer empty.
    func drain() -> [BufferedIssue] {
        records.mutate { records in
            defer { records.removeAll() }
            return records
        }
    }

    /// Writes records to the run's rejects and findings files, in order.
    static func write(_ issues: [BufferedIssue], to run: RunContext) throws {
        for issue in issues {
            try (issue.isReject ? run.rejects : run.findings).record(
                stage: issue.stage, source: issue.source, rule: issue.rule, message: issue.message, row: issue.row, amount: issue.amount)
        }
    }
}
