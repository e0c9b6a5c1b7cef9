import Foundation

/// Removes secrets from text before it reaches a log line, run.json or the state database: the
/// values of environment variables named like a secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, any
/// case), the passwords of URLs held in the environment, and the password of any `scheme://user:pass@`
/// URL or `password=...` pair in the text itself.
public struct SecretRedactor: Sendable {
    /// The secret values, longest first so a secret containing another is replaced whole.
    public let secrets: [String]
    /// What replaces a secret.
    public static let mask = "***"
    /// Parts of environment variable names that mark their value as secret.
    public static let secretNameParts = ["PASSWORD", "SECRET", "TOKEN", "PASSWD", "PASSPHRASE", "API_KEY"]

    /// A redactor for the secrets found in `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var found = Set<String>()
        for (name, value) in environment {
            let upper = name.uppercased()
            // Very short values would mask ordinary text everywhere; they are not real secrets anyway.
            if SecretRedactor.secretNameParts.contains(where: upper.contains), value.count >= 4 {
                found.insert(value)
            }
            if let password = SecretRedactor.urlPassword(in: value), password.count >= 3 {
                found.insert(password)
                if let decoded = password.removingPercentEncoding, decoded != password { found.insert(decoded) }
            }
        }
        secrets = found.sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `***`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: SecretRedactor.mask)
        }
        // Every URL's password, not only the first (redactPassword also masks `password=...` pairs).
        // (Only text with a URL goes through the regular expression: it loads ICU.)
        if result.contains("://") {
            result = result.replacingOccurrences(of: #"(://[^/\s:@]+:)[^@\s/]+@"#, with: "$1***@", options: .regularExpression)
        }
        return redactPassword(result)
    }

    /// The password of the first `scheme://user:password@host` URL in `text`.
    static func urlPassword(in text: String) -> String? {
        guard let scheme = text.range(of: "://") else { return nil }
        let rest = text[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        let userInfo = rest[..<at]
        guard !userInfo.contains("/"), let colon = userInfo.firstIndex(of: ":") else { return nil }
        let password = userInfo[userInfo.index(after: colon)...]
        return password.isEmpty || password == "***" ? nil : String(password)
    }
}

extension RunReport {
    /// The report with every text field passed through `redact`.
    public func redacted(_ redact: (String) -> String) -> RunReport {
        var copy = self
        copy.error = error.map(redact)
        copy.outputs = outputs.map(redact)
        copy.stages = stages.map { stage in
            var stage = stage
            stage.notes = stage.notes.map(redact)
            stage.filteredReasons = Dictionary(stage.filteredReasons.map { (redact($0.key), $0.value) }, uniquingKeysWith: +)
            return stage
        }
        return copy
    }
}
