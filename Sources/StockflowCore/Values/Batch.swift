import Foundation

/// A named, typed column.
public struct Column: Sendable, Hashable {
    /// The column name as the source or stage spells it.
    public var name: String
    /// The value type.
    public var type: ColumnType
    /// Decimal places for decimal columns, when known.
    public var scale: Int?

    /// Makes a column.
    public init(_ name: String, _ type: ColumnType, scale: Int? = nil) {
        self.name = name
        self.type = type
        self.scale = scale
    }
}

/// The ordered columns of a stage's output.
public struct Schema: Sendable, Hashable {
    /// The columns, in order.
    public var columns: [Column]

    /// Makes a schema.
    public init(_ columns: [Column]) { self.columns = columns }

    /// The position of a column by name.
    public func index(of name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// The column names.
    public var names: [String] { columns.map(\.name) }
}

/// One row of values, in schema order.
public typealias Row = [Value]

/// Where a row came from: a registered source and a position in it (file line, or table key).
public struct RowOrigin: Sendable, Hashable {
    /// Index into the run's `OriginRegistry`.
    public var source: Int32
    /// Line number for files; key (or rowid) for tables.
    public var position: Int64

    /// Makes an origin.
    public init(source: Int32, position: Int64) {
        self.source = source
        self.position = position
    }

    /// An origin for rows a stage made itself (aggregates).
    public static let derived = RowOrigin(source: -1, position: 0)
}

/// A slice of a stage's output: rows with their origins.
public struct Batch: Sendable {
    /// The rows.
    public var rows: [Row]
    /// The origin of each row (same count as `rows`).
    public var origins: [RowOrigin]

    /// An empty batch with room for `capacity` rows.
    public init(capacity: Int = 0) {
        rows = []
        origins = []
        rows.reserveCapacity(capacity)
        origins.reserveCapacity(capacity)
    }

    /// Makes a batch from rows and origins.
    public init(rows: [Row], origins: [RowOrigin]) {
        self.rows = rows
        self.origins = origins
    }

    /// Appends one row.
    public mutating func append(_ row: Row, origin: RowOrigin) {
        rows.append(row)
        origins.append(origin)
    }

    /// Appends one row and, once the batch is full, passes it to `emit` and starts a new one.
    public mutating func append(_ row: Row, origin: RowOrigin, flushingTo emit: Emit) throws {
        append(row, origin: origin)
        if count >= Batch.preferredSize {
            try emit(self)
            self = Batch(capacity: Batch.preferredSize)
        }
    }

    /// The number of rows.
    public var count: Int { rows.count }
    /// True when there are no rows.
    public var isEmpty: Bool { rows.isEmpty }

    /// How many rows a batch holds before it is passed on.
    public static let preferredSize = 1024
}

/// Names the sources that row origins point into, so origins stay two integers per row.
public final class OriginRegistry: @unchecked Sendable {
    /// How a position is read for one source.
    public enum Kind: Sendable { case fileLine, tableKey(String), tableRowid }

    private var entries: [(name: String, kind: Kind)] = []
    // Extracts register on their own threads while transforms describe origins on the runner's.
    private let lock = NSLock()

    /// Makes an empty registry.
    public init() {}

    /// Registers a source and returns its id.
    public func register(_ name: String, kind: Kind) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        entries.append((name, kind))
        return Int32(entries.count - 1)
    }

    /// Human text for an origin: `fixtures/commandes.csv:14` or `stock_produit code_prod=12`.
    public func describe(_ origin: RowOrigin) -> String {
        lock.lock()
        defer { lock.unlock() }
        guard origin.source >= 0, Int(origin.source) < entries.count else { return "(computed)" }
        let entry = entries[Int(origin.source)]
        switch entry.kind {
        case .fileLine: return "\(entry.name):\(origin.position)"
        case .tableKey(let key): return "\(entry.name) \(key)=\(origin.position)"
        case .tableRowid: return "\(entry.name) rowid=\(origin.position)"
        }
    }
}
