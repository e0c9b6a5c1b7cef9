import Foundation

/// ISO 8601 UTC text of an instant (the state database's format).
func isoText(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
}

import HTTPTypes

extension HTTPField.Name {
    // Constant, valid header names: the initializer only fails on invalid characters.
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}

extension Substring {
    /// Without leading and trailing spaces and tabs (header values); Foundation's trimming bridges
    /// through NSString, which showed in the profile of every authenticated request.
    func trimmingBlanks() -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return self[first...last]
    }
}
