import Foundation

/// The rejects file: table, key, column, reason, value; shared by the loading threads.
final class RejectLog: @unchecked Sendable {
    private let writer: CSVWriter
    private let lock = NSLock()
    private(set) var count = 0
    private(set) var sample: [String] = []
    let path: String
    private let onReject: (@Sendable (MigrationReject) -> Void)?

    init(path: String, onReject: (@Sendable (MigrationReject) -> Void)? = nil) throws {
        self.path = path
        self.onReject = onReject
        writer = try CSVWriter(url: URL(fileURLWithPath: path))
        try writer.write(["table", "key", "column", "reason", "value"])
    }

    func record(table: String, key: String, column: String, reason: String, value: String) throws {
        lock.lock(); defer { lock.unlock() }
        count += 1
        if sample.count < 10 { sample.append("  \(table) \(key) \(column): \(reason)") }
        try writer.write([table, key, column, reason, value])
        onReject?(MigrationReject(table: table, key: key, column: column, reason: reason, value: value))
    }

    /// Values rounded under `--round-decimals`, for the summary (not rejects: the rows are carried).
    private(set) var rounded: [MigrationReject] = []

    func recordRounded(_ values: [MigrationReject]) {
        guard !values.isEmpty else { return }
        lock.lock(); defer { lock.unlock() }
        rounded += values
    }

    func close() throws { lock.lock(); defer { lock.unlock() }; try writer.close() }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
