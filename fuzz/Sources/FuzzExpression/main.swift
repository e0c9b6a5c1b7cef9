import Foundation
import FuzzSupport
@testable import StockflowCore

// Input: an expression as a `filter:` or `select:` stage holds it, over a schema of every column type;
// one that parses is evaluated on a row of values and a row of nulls.

private let schema = Schema([
    Column("qty", .int), Column("price", .decimal, scale: 2), Column("name", .text), Column("day", .date),
    Column("at", .datetime), Column("ok", .bool),
])
private let rows: [Row] = [
    [.int(3), .decimal(Money(units: 1250, scale: 2)), .text("Vis"), .date(CivilDate(iso: "2026-11-25")!),
     .datetime(Timestamp(microseconds: 1_795_000_000_000_000)), .bool(true)],
    [.int(Int64.min), .decimal(Money(units: Int64.max, scale: 2)), .text(""), .date(CivilDate(days: 0)),
     .datetime(Timestamp(microseconds: 0)), .bool(false)],
    [.null, .null, .null, .null, .null, .null],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExpression(_ bytes: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count < 4096 else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: bytes, count: count), as: UTF8.self)
    guard let expression = try? Expression.parse(text, schema: schema) else { return 0 }
    _ = expression.resultType(schema)
    for row in rows { _ = try? expression.evaluate(row) }
    return 0
}
