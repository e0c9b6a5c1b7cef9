/// An order-independent table checksum: the sum, modulo 2^64, of the first 60 bits of each row's MD5.
///
/// A row's text is its columns' canonical forms joined by tabs, `\N` for NULL. PostgreSQL computes
/// the same sum in SQL (`RowChecksum.sql`), so both sides are hashed the same way without sorting.
public struct RowChecksum: Sendable, Equatable, CustomStringConvertible {
    /// Rows counted.
    public var rows: Int64 = 0
    /// Sum of the rows' 60-bit hashes, wrapping.
    public var sum: UInt64 = 0

    /// An empty checksum.
    public init() {}

    /// Makes a checksum from its parts.
    public init(rows: Int64, sum: UInt64) {
        self.rows = rows
        self.sum = sum
    }

    /// Adds one row's text.
    public mutating func add(row bytes: UnsafeBufferPointer<UInt8>) {
        rows += 1
        sum &+= MD5.first60Bits(bytes)
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

    /// The SQL that computes `count, sum` for `table` whose canonical row text is `rowText`.
    static func sql(table: String, rowText: String, filter: String? = nil) -> String {
        "SELECT count(*), coalesce(sum(('x' || substr(md5(\(rowText)), 1, 15))::bit(60)::bigint), 0) % 18446744073709551616 FROM \(table)"
            + (filter.map { " WHERE \($0)" } ?? "")
    }
}

/// MD5 (RFC 1321), enough to hash short row texts the way PostgreSQL's md5() does.
enum MD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    private static let constants: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296)) }

    /// The digest's first 15 hex digits as an integer (what `('x'||substr(md5(t),1,15))::bit(60)::bigint` gives).
    static func first60Bits(_ message: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let digest = hash(message)
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(digest[index]) }
        return value >> 4
    }

    /// The 16-byte digest.
    static func hash(_ message: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        let length = message.count
        let total = (length + 8) / 64 * 64 + 64
        var block = [UInt32](repeating: 0, count: 16)
        var offset = 0
        while offset < total {
            for word in 0..<16 {
                var value: UInt32 = 0
                for byteIndex in 0..<4 {
                    let position = offset + word * 4 + byteIndex
                    let byte: UInt8
                    if position < length { byte = message[position] }
                    else if position == length { byte = 0x80 }
                    else if position >= total - 8 { byte = UInt8(truncatingIfNeeded: (UInt64(length) * 8) >> (UInt64(position - (total - 8)) * 8)) }
                    else { byte = 0 }
                    value |= UInt32(byte) << (UInt32(byteIndex) * 8)
                }
                block[word] = value
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ constants[i] &+ block[g]
                a = d; d = c; c = b
                b = b &+ (f << shifts[i] | f >> (32 - shifts[i]))
            }
            a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
            offset += 64
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for word in [a0, b0, c0, d0] { for shift in stride(from: 0, to: 32, by: 8) { digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) } }
        return digest
    }
}

import Foundation
