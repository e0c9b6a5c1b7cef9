import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files a run writes: each goes to a temporary beside its final name and is renamed into place
/// only when the run succeeds, so a failed or killed run never leaves a half-written file where the
/// last good one stood.
public final class OutputSet {
    /// The output folder.
    public let directory: URL
    private var pending: [(temporary: URL, final: URL)] = []
    /// Final paths of the files committed so far.
    public private(set) var committed: [URL] = []
    /// Final paths of the files each stage created, by stage id (for loads that attach them).
    public private(set) var filesByStage: [String: [URL]] = [:]

    /// Opens (and creates) the output folder and removes temporaries left by killed runs.
    public init(directory: URL) throws {
        self.directory = directory.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        } catch {
            throw StageError("cannot create output folder \(directory.path): \(error.localizedDescription)")
        }
        removeStaleTemporaries()
    }

    /// A temporary file for `relativePath`; the caller writes it, the run commits it. `stage` records
    /// which stage owns the file.
    public func create(_ relativePath: String, stage: String? = nil) throws -> URL {
        if let problem = OutputPath.problem(with: relativePath) {
            throw StageError("output path '\(relativePath)' \(problem)")
        }
        let final = directory.appendingPathComponent(relativePath).standardizedFileURL
        guard final.path.hasPrefix(directory.path + "/") else {
            throw StageError("output path '\(relativePath)' leaves the output folder \(directory.path)")
        }
        let folder = final.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(final.lastPathComponent).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: temporary)
        pending.append((temporary, final))
        if let stage, !(filesByStage[stage] ?? []).contains(final) { filesByStage[stage, default: []].append(final) }
        return temporary
    }

    /// Renames one pending file into place now (run.json, rejects.csv are committed whatever happens).
    public func commit(_ temporary: URL) throws {
        guard let index = pending.firstIndex(where: { $0.temporary == temporary }) else { return }
        let entry = pending.remove(at: index)
        try rename(entry)
    }

    /// Renames every pending file into place.
    public func commitAll() throws {
        let entries = pending
        pending.removeAll()
        for entry in entries { try rename(entry) }
    }

    /// Deletes every pending temporary (the run failed).
    public func discardAll() {
        for entry in pending { try? FileManager.default.removeItem(at: entry.temporary) }
        pending.removeAll()
    }

    /// Final paths of the files not yet committed.
    public var pendingFinalPaths: [URL] { pending.map(\.final) }

    private func rename(_ entry: (temporary: URL, final: URL)) throws {
        // fsync before rename so a crash after the rename cannot expose an empty file.
        let descriptor = open(entry.temporary.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard Glibc.rename(entry.temporary.path, entry.final.path) == 0 else {
            throw StageError("cannot move \(entry.temporary.lastPathComponent) to \(entry.final.path): \(String(cString: strerror(errno)))")
        }
        committed.append(entry.final)
    }

    private func removeStaleTemporaries() {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in enumerator {
            let name = url.lastPathComponent
            guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards),
                  let pid = Int32(name[marker.upperBound...]) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}

/// A buffered RFC 4180 CSV writer (UTF-8, CRLF line ends).
public final class CSVWriter {
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: [UInt8] = []
    private let delimiter: UInt8
    private var closed = false
    /// The path being written.
    public let url: URL

    /// Opens `url` for writing, truncating it.
    public init(url: URL, delimiter: UInt8 = UInt8(ascii: ",")) throws {
        guard let file = fopen(url.path, "wb") else {
            throw StageError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.url = url
        self.delimiter = delimiter
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        if !closed { fclose(file) }
    }

    /// Writes one record, quoting fields that hold the delimiter, a quote or a line break.
    public func write(_ fields: [String]) throws {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(delimiter) }
            appendField(field)
        }
        buffer.append(13)
        buffer.append(10)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func appendField(_ field: String) {
        var needsQuotes = false
        for byte in field.utf8 where byte == delimiter || byte == 34 || byte == 10 || byte == 13 {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            buffer.append(contentsOf: field.utf8)
            return
        }
        buffer.append(34)
        for byte in field.utf8 {
            if byte == 34 { buffer.append(34) }
            buffer.append(byte)
        }
        buffer.append(34)
    }

    /// Writes the buffer to the file.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        let written = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == buffer.count else {
            throw StageError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file; reports a full disk.
    public func close() throws {
        guard !closed else { return }
        try flush()
        closed = true
        if fclose(file) != 0 {
            throw StageError("cannot finish writing \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}

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
