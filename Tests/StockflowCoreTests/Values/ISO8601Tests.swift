import Foundation
import Testing
@testable import StockflowCore

/// The hand-made ISO 8601 text against Foundation's `ISO8601DateFormatter`.
struct ISO8601Tests {
    private let instants: [TimeInterval] = [0, -1, 1_764_034_200, 1_764_034_200.999, 951_782_400, 4_102_444_799.5,
                                            -2_208_988_800, 253_402_300_799, 1_709_164_800.25]

    @Test func writesWhatFoundationWrites() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for instant in instants + (0..<500).map({ TimeInterval($0) * 7_654_321.125 - 1_000_000_000 }) {
            let date = Date(timeIntervalSince1970: instant)
            #expect(iso8601(date) == formatter.string(from: date))
            #expect(iso8601Milliseconds(date) == fractional.string(from: date))
            #expect(compactISO8601(date) == iso8601(date).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: ""))
        }
    }

    @Test func readsWhatFoundationReads() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let texts = ["2026-11-25T01:30:00Z", "2026-11-25T01:30:00+01:00", "2026-02-29T00:00:00Z", "2024-02-29T23:59:59Z",
                     "2026-11-25T24:00:00Z", "2026-13-01T00:00:00Z", "2026-11-25 01:30:00Z", "2026-11-25T01:30Z",
                     "2026-11-25T01:30:00", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-11-25T01:30:00.5Z", ""]
        for text in texts + instants.map({ iso8601(Date(timeIntervalSince1970: $0)) }) {
            #expect(parseISO8601(text) == formatter.date(from: text), "\(text)")
        }
    }

    @Test func writesTheMailDateAsDateFormatterDid() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        for instant in instants + (0..<500).map({ TimeInterval($0) * 7_654_321.125 - 1_000_000_000 }) {
            let date = Date(timeIntervalSince1970: instant)
            #expect(rfc5322UTC(date) == formatter.string(from: date))
        }
    }
}
