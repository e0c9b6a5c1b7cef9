import Foundation
import Testing
@testable import StockflowCore

/// The rows of a query run ahead come back as PostgreSQL sent them, whether they stayed in memory or
/// went through the temporary file, and a query whose rows cannot all be kept keeps none.
@Suite(.serialized, .tags(.postgres)) struct AheadRowsTests {
    /// NULLs, empty text, accents and emoji, long text, numbers; 5,000 rows of 4 columns.
    static let query = """
        SELECT n, CASE WHEN n % 7 = 0 THEN NULL ELSE 'Café n°' || n || ' 🍰' END,
               CASE WHEN n % 11 = 0 THEN '' WHEN n % 13 = 0 THEN repeat('é', 1000 + n % 1000) ELSE (n * 1.25)::text END,
               CASE WHEN n % 5 = 0 THEN NULL ELSE n::numeric / 3 END
        FROM generate_series(1, 5000) AS n ORDER BY n
        """

    /// The rows as `TextRow`s straight from the server, and as kept by `rows`.
    private func compare(_ rows: AheadRows) throws -> (expected: [[String?]], kept: [[String?]], allKept: Bool) {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        var expected: [[String?]] = [], allKept = true
        try db.forEachRow(Self.query) { row in
            expected.append(TextRow(row).values)
            if allKept { allKept = rows.append(row) }
            return true
        }
        var kept: [[String?]] = []
        try rows.forEach { kept.append($0.values) }
        return (expected, kept, allKept)
    }

    @Test func rowsKeptInMemoryComeBackUnchanged() throws {
        let rows = AheadRows()
        let (expected, kept, allKept) = try compare(rows)
        #expect(allKept)
        #expect(!rows.hasSpilled)
        #expect(rows.count == 5_000)
        #expect(kept == expected)
        #expect(kept.filter { $0[1] == nil }.count == 714)
        #expect(kept.contains { $0[2] == "" })
    }

    @Test func rowsThroughTheTemporaryFileComeBackUnchangedAndTwice() throws {
        // A few kB in memory: the rows go to the file in many pieces, rows cut across the 1 MB reads.
        let rows = AheadRows(memoryLimit: 3_000)
        let (expected, kept, allKept) = try compare(rows)
        #expect(allKept)
        #expect(rows.hasSpilled)
        #expect(kept == expected)
        var again: [[String?]] = []
        try rows.forEach { again.append($0.values) }
        #expect(again == expected)
        #expect(try rows.first()?.values == expected.first)
    }

    @Test func rowsPastTheFileLimitAreRefused() throws {
        let rows = AheadRows(memoryLimit: 3_000, fileLimit: 100_000)
        let (_, _, allKept) = try compare(rows)
        #expect(!allKept)
    }
}
