import Foundation

/// Reads one table's rows from SQLite and turns each into COPY text and canonical (checksum) text.
struct SourceRowReader {
    let database: SQLiteDatabase
    let table: MigrationTable
    /// `--round-decimals`.
    var roundDecimals = false
    /// Only the rows whose rowid is in this range (a large table is copied in parts, one per connection).
    var rowids: ClosedRange<Int64>?
    /// Make `copyLine` a row of binary COPY (`BinaryCopy`) instead of a line of text COPY.
    var binary = false
    /// Hears each value rounded under `--round-decimals`: key, column, value, rounded value.
    var onRound: ((String, String, String, String) throws -> Void)?

    /// An integer column of the source needs bigint (thrown before any row of the table is complete).
    struct WidenColumn: Error { var column: Int }

    /// Calls `body` with each carried row's COPY line (ending in a newline) and canonical text;
    /// rows with a value that cannot be carried go to `onReject(key, column, reason, value)`.
    func forEachRow(onReject: (String, String, String, String) throws -> Void,
                    _ body: (_ copyLine: [UInt8], _ canonical: [UInt8]) throws -> Void) throws {
        let converters = table.columns.map { CellConverter(type: $0.type, widenable: $0.widenable, roundDecimals: roundDecimals) }
        let notNull = table.columns.map(\.notNull)
        let keyIndex = table.keyColumn.flatMap { key in table.columns.firstIndex { $0.name == key } }
        let selected = table.columns.map { quoteIdentifier($0.sourceName) }.joined(separator: ", ")
        let statement = try database.prepare("SELECT \(table.hasRowid ? "rowid, " : "")\(selected) FROM \(quoteIdentifier(table.sourceName))"
                                            + (rowids.map { " WHERE rowid BETWEEN \($0.lowerBound) AND \($0.upperBound)" } ?? ""))
        let offset = table.hasRowid ? 1 : 0
        var line: [UInt8] = []
        var canonical: [UInt8] = []
        var cell: [UInt8] = []
        line.reserveCapacity(4096)
        canonical.reserveCapacity(4096)
        cell.reserveCapacity(1024)
        var ordinal: Int64 = 0
        let binary = self.binary
        let fieldCount = Int16(converters.count)
        rows: while try statement.step() {
            ordinal += 1
            line.removeAll(keepingCapacity: true)
            canonical.removeAll(keepingCapacity: true)
            if binary { BinaryCopy.appendInt16(fieldCount, to: &line) }
            for index in 0..<converters.count {
                if index > 0 { if !binary { line.append(9) }; canonical.append(9) }
                let storage = statement.storage(index + offset)
                if storage == .null {
                    if notNull[index] {
                        try onReject(key(statement, keyIndex, offset, ordinal), table.columns[index].name, "NULL in a NOT NULL column", "")
                        continue rows
                    }
                    if binary { BinaryCopy.appendInt32(-1, to: &line) } else { line.append(contentsOf: [92, 78]) }
                    canonical.append(contentsOf: [92, 78])
                    continue
                }
                do {
                    var rounded: (from: String, to: String)?
                    try converters[index].append(statement, index + offset, storage: storage, binary: binary, line: &line, canonical: &canonical, scratch: &cell, rounded: &rounded)
                    if let rounded, let onRound { try onRound(key(statement, keyIndex, offset, ordinal), table.columns[index].name, rounded.from, rounded.to) }
                } catch is CellConverter.Widen {
                    throw WidenColumn(column: index)
                } catch let rejection as CellConverter.Rejection {
                    let column = table.columns[index]
                    try onReject(key(statement, keyIndex, offset, ordinal), column.name, "\(column.type): \(rejection.reason)", String(statement.text(index + offset).prefix(200)))
                    continue rows
                }
            }
            if !binary { line.append(10) }
            try body(line, canonical)
        }
    }

    private func key(_ statement: SQLiteStatement, _ keyIndex: Int?, _ offset: Int, _ ordinal: Int64) -> String {
        if let keyIndex {
            return "\(table.columns[keyIndex].name)=\(statement.storage(keyIndex + offset) == .null ? "NULL" : String(statement.text(keyIndex + offset).prefix(200)))"
        }
        if table.hasRowid { return "rowid=\(statement.int64(0))" }
        return "row \(ordinal)"
    }
}
