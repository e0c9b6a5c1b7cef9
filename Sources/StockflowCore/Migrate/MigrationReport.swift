import Foundation

/// Per-table figures of a migration or verification.
public struct MigratedTable: Sendable {
    public var name: String
    public var sourceRows: Int64
    public var rejected: Int64
    public var expected: RowChecksum
    public var actual: RowChecksum?
    /// Where source and target first differ (`key=value, column name`), when they do and the table has a key.
    public var difference: String?
    /// True when the target's count and checksum equal the source's.
    public var matches: Bool { actual == expected }
}

/// The outcome: tables with their checksums, and the rejects written.
public struct MigrationReport: Sendable {
    public var tables: [MigratedTable]
    public var rejects: Int
    public var rejectsPath: String?
    public var seconds: Double
    /// What the migration did not carry or carried differently on request: dropped CHECKs, shortened
    /// names, widened columns, views and triggers not carried, dependent objects dropped.
    public var notes: [String] = []
    /// Values rounded under `--round-decimals`, one per row and column.
    public var rounded: [MigrationReject] = []

    /// A fixed-width summary, one line per table.
    public var text: String {
        let width = max(5, tables.map(\.name.count).max() ?? 5)
        var lines = ["\("table".padding(toLength: width, withPad: " ", startingAt: 0))  \("source".leftPadded(10))  \("rejected".leftPadded(8))  \("target".leftPadded(10))  checksum"]
        for table in tables {
            let state = table.actual == nil ? "missing" : (table.matches ? "ok \(String(table.expected.sum, radix: 16))" : "DIFFERS (\(String(table.expected.sum, radix: 16)) vs \(String(table.actual?.sum ?? 0, radix: 16)))" + (table.difference.map { ", first at \($0)" } ?? ""))
            lines.append("\(table.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(String(table.sourceRows).leftPadded(10))  \(String(table.rejected).leftPadded(8))  \((table.actual.map { String($0.rows) } ?? "-").leftPadded(10))  \(state)")
        }
        for note in notes { lines.append("note: \(note)") }
        for value in rounded { lines.append("rounded: \(value.table) \(value.key) \(value.column): \(value.value) -> \(value.reason)") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
