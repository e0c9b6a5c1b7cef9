import Foundation

/// Per-table progress on a terminal: rows done, rows per second, time left. Silent otherwise.
final class CopyProgress: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var done: [String: Int] = [:]
    private var finished = Set<String>()
    private let totals: [String: Int64]
    private let started = Date()
    private var lastPrint = Date.distantPast

    init(enabled: Bool, tables: [MigrationTable]) {
        self.enabled = enabled
        totals = Dictionary(tables.map { ($0.name, $0.rowCount) }, uniquingKeysWith: { a, _ in a })
    }

    func advance(_ table: String, by rows: Int, done isDone: Bool = false) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        done[table, default: 0] += rows
        if isDone { finished.insert(table) }
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let all = done.values.reduce(0, +)
        let total = totals.values.reduce(0, +)
        let rate = Double(all) / elapsed
        let left = rate > 0 ? Int(Double(total - Int64(all)) / rate) : 0
        let active = done.keys.filter { !finished.contains($0) }.sorted().map { "\($0) \(done[$0]!)/\(totals[$0] ?? 0)" }
        let text = "\r\u{1B}[K\(all)/\(total) rows, \(Int(rate)) rows/s, ~\(left)s left  \(active.joined(separator: "  "))"
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
