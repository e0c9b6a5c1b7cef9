/// An order-independent table checksum: the count, and the sum modulo 2^64 of each row's 64-bit hash.
///
/// A row's text is its columns' canonical forms joined by tabs, `\N` for NULL. The hash is
/// PostgreSQL's own `hashtextextended(text, 0)` (the Jenkins hash it uses for hash partitioning,
/// stable across versions since 11), which PostgreSQL computes in SQL (`RowChecksum.query`) several
/// times faster than `md5()`, and `PostgresHash` computes identically while streaming the source.
public struct RowChecksum: Sendable, Equatable, CustomStringConvertible {
    /// Rows counted.
    public var rows: Int64 = 0
    /// Sum of the rows' 64-bit hashes, wrapping.
    public var sum: UInt64 = 0

    /// An empty checksum.
    public init() {}

    /// Makes a checksum from its parts.
    public init(rows: Int64, sum: UInt64) {
        self.rows = rows
        self.sum = sum
    }

    /// Adds one row's text.
    @inline(__always)
    public mutating func add(row bytes: UnsafeBufferPointer<UInt8>) {
        rows += 1
        sum &+= PostgresHash.bytesExtended(bytes)
    }

    /// Adds another checksum (rows loaded by another connection).
    public mutating func add(_ other: RowChecksum) {
        rows += other.rows
        sum &+= other.sum
    }

    /// Removes rows whose checksum is `other` (rows taken out after loading).
    public mutating func remove(_ other: RowChecksum) {
        rows -= other.rows
        sum &-= other.sum
    }

    /// `rows/hex sum`.
    public var description: String { "\(rows) rows, sum \(String(sum, radix: 16))" }

    /// The SQL that computes `count, sum` (the sum as an exact numeric) for `table` whose canonical row text is `rowText`.
    static func sql(table: String, rowText: String, filter: String? = nil) -> String {
        "SELECT count(*), coalesce(sum(hashtextextended(\(rowText), 0)), 0) FROM \(table)" + (filter.map { " WHERE \($0)" } ?? "")
    }

    /// Runs `sql(...)` on `connection` and reads the result.
    static func query(_ connection: PostgresConnection, table: String, rowText: String, filter: String? = nil) throws -> RowChecksum {
        let row = try connection.query(sql(table: table, rowText: rowText, filter: filter))
        return RowChecksum(rows: Int64(row.first?[0] ?? "0") ?? 0, sum: wrapping(decimal: row.first?[1] ?? "0"))
    }

    /// A (possibly huge, possibly negative) decimal integer modulo 2^64: PostgreSQL sums bigints exactly,
    /// and the sum of signed hashes modulo 2^64 equals the sum of their bit patterns.
    static func wrapping(decimal text: String) -> UInt64 {
        var value: UInt64 = 0
        var negative = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= 48 && byte <= 57 else { break }
            value = value &* 10 &+ UInt64(byte - 48)
        }
        return negative ? 0 &- value : value
    }
}

/// PostgreSQL's `hash_bytes_extended` (src/common/hashfn.c: Bob Jenkins' lookup3, 64-bit result),
/// which `hashtextextended(text, seed)` applies to a text's bytes under a deterministic collation.
enum PostgresHash {
    @inline(__always) private static func rotate(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }

    @inline(__always) private static func mix(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32) {
        a &-= c; a ^= rotate(c, 4); c &+= b
        b &-= a; b ^= rotate(a, 6); a &+= c
        c &-= b; c ^= rotate(b, 8); b &+= a
        a &-= c; a ^= rotate(c, 16); c &+= b
        b &-= a; b ^= rotate(a, 19); a &+= c
        c &-= b; c ^= rotate(b, 4); b &+= a
    }

    @inline(__always) private static func final(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32) {
        c ^= b; c &-= rotate(b, 14)
        a ^= c; a &-= rotate(c, 11)
        b ^= a; b &-= rotate(a, 25)
        c ^= b; c &-= rotate(b, 16)
        a ^= c; a &-= rotate(c, 4)
        b ^= a; b &-= rotate(a, 14)
        c ^= b; c &-= rotate(b, 24)
    }

    /// The 64-bit hash of `bytes` with `seed` (0: none), as PostgreSQL computes it on a little-endian machine
    /// (the result is defined by little-endian word reads, which is what x86 and ARM servers do).
    static func bytesExtended(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64 = 0) -> UInt64 {
        var a = 0x9e3779b9 &+ UInt32(truncatingIfNeeded: bytes.count) &+ 3923095
        var b = a
        var c = a
        if seed != 0 {
            a &+= UInt32(truncatingIfNeeded: seed >> 32)
            b &+= UInt32(truncatingIfNeeded: seed)
            mix(&a, &b, &c)
        }
        guard let base = bytes.baseAddress else {
            final(&a, &b, &c)
            return UInt64(b) << 32 | UInt64(c)
        }
        @inline(__always) func word(_ offset: Int) -> UInt32 { UInt32(littleEndian: UnsafeRawPointer(base + offset).loadUnaligned(as: UInt32.self)) }
        var offset = 0
        var length = bytes.count
        while length >= 12 {
            a &+= word(offset); b &+= word(offset + 4); c &+= word(offset + 8)
            mix(&a, &b, &c)
            offset += 12
            length -= 12
        }
        // The last 0...11 bytes, little-endian; the lowest byte of c is left for the length (lookup2's layout).
        @inline(__always) func byte(_ index: Int, _ shift: UInt32) -> UInt32 { UInt32(base[offset + index]) << shift }
        if length >= 11 { c &+= byte(10, 24) }
        if length >= 10 { c &+= byte(9, 16) }
        if length >= 9 { c &+= byte(8, 8) }
        if length >= 8 { b &+= byte(7, 24) }
        if length >= 7 { b &+= byte(6, 16) }
        if length >= 6 { b &+= byte(5, 8) }
        if length >= 5 { b &+= byte(4, 0) }
        if length >= 4 { a &+= byte(3, 24) }
        if length >= 3 { a &+= byte(2, 16) }
        if length >= 2 { a &+= byte(1, 8) }
        if length >= 1 { a &+= byte(0, 0) }
        final(&a, &b, &c)
        return UInt64(b) << 32 | UInt64(c)
    }
}
