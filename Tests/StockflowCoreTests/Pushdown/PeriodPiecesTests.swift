import Foundation
import Testing
@testable import StockflowCore

/// Periods after grouping: every instant's piece has the local day of the instant, so its day, week,
/// month and year labelled from the piece are those labelled from the instant, in PostgreSQL itself.
@Suite(.serialized, .tags(.postgres)) struct PeriodPiecesTests {
    @Test func parisHasThreeOriginsAndKolkataOne() throws {
        // Local midnight in winter (23:00 UTC) and in summer (22:00 UTC), and the changes at 01:00 UTC.
        #expect(PeriodPieces(timezone: "Europe/Paris")?.origins == [3_600, 79_200, 82_800])
        #expect(PeriodPieces(timezone: "Asia/Kolkata")?.origins == [66_600])
        #expect(PeriodPieces(timezone: "UTC")?.origins == [0])
        #expect(PeriodPieces(timezone: "Nowhere/Atlantis") == nil)
        #expect(PeriodPieces.stamp(PeriodPieces.start + 82_800) == "2000-01-01 23:00:00+00")
    }

    /// Instants every 7 minutes across the summer-time changes and midnights of 2026, random instants
    /// from 1900 to 2150 (outside the pieces' range each is alone), and the range's edges.
    @Test(arguments: ["Europe/Paris", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns", "Asia/Kolkata"])
    func thePiecesOfAnInstantHaveItsDayWeekMonthAndYear(zone: String) throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        guard let pieces = PeriodPieces(timezone: zone) else {
            // A zone without pieces keeps the per-row labels: nothing to compare.
            return
        }
        try db.execute("""
            CREATE TABLE instants (at timestamptz);
            INSERT INTO instants SELECT timestamptz '2026-03-27 12:00:00+00' + n * interval '7 minutes' FROM generate_series(0, 1200) AS n;
            INSERT INTO instants SELECT timestamptz '2026-10-23 12:00:00+00' + n * interval '7 minutes' FROM generate_series(0, 1200) AS n;
            INSERT INTO instants SELECT timestamptz '2026-04-04 12:00:00+00' + n * interval '7 minutes' FROM generate_series(0, 1200) AS n;
            INSERT INTO instants SELECT timestamptz '1900-01-01 00:00:00+00' + (n * 7919 % 91300) * interval '1 day' + (n * 104729 % 86400) * interval '1 second'
              FROM generate_series(0, 20000) AS n;
            INSERT INTO instants VALUES ('1999-12-31 23:59:59+00'), ('2000-01-01 00:00:00+00'), ('2000-01-02 00:00:00+00'), ('2000-01-02 03:00:00+00'),
              ('2099-12-31 23:59:59.999999+00'), ('2100-01-01 00:00:00+00'), (NULL);
            """)
        let keys = pieces.keys("at")
        let names = keys.indices.map { "p\($0)" }
        var mismatches: [String] = []
        for function in ["day", "iso_week", "month", "year"] {
            let perRow = try PeriodColumn.label(function, of: "at", type: .datetime, timezone: zone)
            let grouped = try PeriodColumn(function: function, argument: "at", type: .datetime).label(names, pieces: pieces, timezone: zone)
            let sql = "SELECT count(*), count(*) FILTER (WHERE (\(perRow))::text IS DISTINCT FROM (\(grouped))::text), min(at::text) FILTER (WHERE (\(perRow))::text IS DISTINCT FROM (\(grouped))::text) "
                + "FROM (SELECT at, \(zip(keys, names).map { "\($0) AS \($1)" }.joined(separator: ", ")) FROM instants) AS t"
            let row = try #require(try db.query(sql).first)
            #expect(row.first.flatMap { $0 }.flatMap { Int($0) } == 23_611)
            if row[1] != "0" { mismatches.append("\(function): \(row[1] ?? "?") from \(row[2].flatMap { $0 } ?? "?")") }
        }
        #expect(mismatches.isEmpty, "\(zone): \(mismatches)")
        // The pieces are few: the ~830 instants of the 6 days from 27 March are at most a piece per
        // origin and day (and the random instants among them, alone at worst).
        let window = "at >= '2026-03-27 12:00:00+00' AND at < '2026-04-02 12:00:00+00'"
        let groups = try db.query("SELECT count(*), (SELECT count(*) FROM instants WHERE \(window)) FROM (SELECT 1 FROM instants WHERE \(window) GROUP BY \(keys.joined(separator: ", "))) AS g").first
        let pieceCount = groups?.first.flatMap { $0 }.flatMap { Int($0) } ?? .max
        #expect(pieceCount <= 7 * pieces.origins.count + 20)
        #expect((groups?.last.flatMap { $0 }.flatMap { Int($0) } ?? 0) > 800)
    }
}
