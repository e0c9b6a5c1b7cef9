import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a deliverable shows of one recorded row beside its CSV fields.
public struct IssueDetail: Sendable {
    public var message: LocalizedText
    public var amount: Money?
}

/// A CSV log of rows a person must see: rejects (left out) or findings (kept, but suspicious).
public final class IssueLog {
    private let writer: CSVWriter
    /// The temporary being written.
    public let temporary: URL
    /// The file's final name in the output folder.
    public let name: String
    /// Rows recorded.
    public private(set) var count = 0
    /// Counts per rule, for the summary.
    public private(set) var countsByRule: [String: Int] = [:]
    /// The first entries, kept for reports that list them (a Findings sheet); the file has them all.
    public private(set) var firstEntries: [[String]] = []
    /// How many entries `firstEntries` keeps.
    public static let keptEntries = 10_000
    /// The reader's texts of the kept entries (message in both languages, the amount at stake), by position in `firstEntries`.
    public private(set) var firstDetails: [IssueDetail] = []
    /// The sum of the amounts the recorded rows carry (all of them, not only the kept ones), and how many carry one.
    public private(set) var amountTotal = Money.zero(scale: 2)
    public private(set) var amountCount = 0

    init(outputs: OutputSet, name: String, detailHeader: String) throws {
        self.name = name
        temporary = try outputs.create(name)
        writer = try CSVWriter(url: temporary)
        try writer.write(["stage", "source", detailHeader, "message", "row", "amount"])
    }

    private let lock = NSLock()

    /// Records one row (extracts on their own threads and transforms may record at once).
    public func record(stage: String, source: String, rule: String, message: String, row: String) throws {
        try record(stage: stage, source: source, rule: rule, message: LocalizedText(message), row: row, amount: nil)
    }

    /// Records one row with its message in both languages and the amount it carries, if any.
    public func record(stage: String, source: String, rule: String, message: LocalizedText, row: String, amount: Money?) throws {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        countsByRule[rule, default: 0] += 1
        if let amount {
            amountTotal = try amountTotal.adding(amount)
            amountCount += 1
        }
        let fields = [stage, source, rule, message.english, row, amount?.description ?? ""]
        if firstEntries.count < IssueLog.keptEntries {
            firstEntries.append(fields)
            firstDetails.append(IssueDetail(message: message, amount: amount))
        }
        try writer.write(fields)
    }

    /// Finishes the file.
    public func close() throws { try writer.close() }
}
