import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    init(outputs: OutputSet, name: String, detailHeader: String) throws {
        self.name = name
        temporary = try outputs.create(name)
        writer = try CSVWriter(url: temporary)
        try writer.write(["stage", "source", detailHeader, "message", "row"])
    }

    private let lock = NSLock()

    /// Records one row (extracts on their own threads and transforms may record at once).
    public func record(stage: String, source: String, rule: String, message: String, row: String) throws {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        countsByRule[rule, default: 0] += 1
        let fields = [stage, source, rule, message, row]
        if firstEntries.count < IssueLog.keptEntries { firstEntries.append(fields) }
        try writer.write(fields)
    }

    /// Finishes the file.
    public func close() throws { try writer.close() }
}
