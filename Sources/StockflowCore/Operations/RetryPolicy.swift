import Foundation

/// How stages that talk to a server (PostgreSQL, SMTP) retry a temporary failure: exponential
/// backoff with jitter, from the pipeline's `retries:` key. When the retries run out the failure
/// stays temporary, so the run ends with exit 75.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts after the first one.
    public var maxRetries = 3
    /// Seconds before the first retry.
    public var initialDelay: Double = 1
    /// The longest wait between two attempts, in seconds.
    public var maxDelay: Double = 60
    /// Each wait is this many times the previous one.
    public var multiplier: Double = 2
    /// Fraction of each wait drawn at random (0 = fixed waits, 1 = anywhere from 0 to the full wait),
    /// so that runs failing together do not retry together.
    public var jitter: Double = 0.5

    /// The default policy.
    public init() {}

    /// The keys of `retries:` with their docs.
    public static let options: [OptionSpec] = [
        OptionSpec("max_retries", .int, default: "3", "Attempts after the first one."),
        OptionSpec("initial_delay", .decimal, default: "1", "Seconds before the first retry."),
        OptionSpec("max_delay", .decimal, default: "60", "Longest wait between attempts, in seconds."),
        OptionSpec("multiplier", .decimal, default: "2", "Each wait is this many times the previous one."),
        OptionSpec("jitter", .decimal, default: "0.5", "Fraction of each wait drawn at random (0 to 1)."),
    ]

    /// The wait before retry number `retry` (0 for the first), with `random` drawn in 0..<1.
    public func delay(beforeRetry retry: Int, random: Double) -> Double {
        let base = min(maxDelay, initialDelay * pow(multiplier, Double(retry)))
        return base * (1 - jitter) + base * jitter * random
    }

    /// Runs `body` (given the attempt number, 0 first), retrying while it throws an error
    /// `isTemporary` accepts; `onRetry` hears each failure with the wait before the next attempt.
    public func perform<T>(isTemporary: (Error) -> Bool,
                           onRetry: (Error, Int, Double) -> Void = { _, _, _ in },
                           sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) },
                           random: () -> Double = { Double.random(in: 0..<1) },
                           _ body: (Int) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body(attempt)
            } catch where attempt < maxRetries && isTemporary(error) {
                let wait = delay(beforeRetry: attempt, random: random())
                onRetry(error, attempt + 1, wait)
                sleep(wait)
                attempt += 1
            }
        }
    }

    /// Reads `retries:`; problems go to `diagnostics`.
    static func read(_ node: ConfigNode?, diagnostics: DiagnosticCollector) -> RetryPolicy {
        var policy = RetryPolicy()
        guard let node else { return policy }
        guard let entries = node.entries else {
            diagnostics.error("'retries' must be a mapping like {max_retries: 3, initial_delay: 1}, found \(node.shapeName)", at: node.position)
            return policy
        }
        let allowed = options.map(\.name)
        for entry in entries {
            let text = entry.value.scalar ?? ""
            func number(_ range: ClosedRange<Double>, _ what: String) -> Double? {
                if let value = Double(text), range.contains(value) { return value }
                diagnostics.error("retries '\(entry.key)' must be \(what), found \(entry.value.shapeName)", at: entry.value.position)
                return nil
            }
            switch entry.key {
            case "max_retries":
                if let value = Int(text), (0...100).contains(value) { policy.maxRetries = value } else {
                    diagnostics.error("retries 'max_retries' must be a whole number from 0 to 100, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "initial_delay": policy.initialDelay = number(0...3600, "a number of seconds from 0 to 3600") ?? policy.initialDelay
            case "max_delay": policy.maxDelay = number(0...86_400, "a number of seconds from 0 to 86400") ?? policy.maxDelay
            case "multiplier": policy.multiplier = number(1...10, "a number from 1 to 10") ?? policy.multiplier
            case "jitter": policy.jitter = number(0...1, "a fraction from 0 to 1") ?? policy.jitter
            default:
                diagnostics.error("unknown key '\(entry.key)' in retries\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
            }
        }
        if policy.maxDelay < policy.initialDelay, let position = node["max_delay"]?.position {
            diagnostics.error("retries 'max_delay' (\(policy.maxDelay)) is shorter than 'initial_delay' (\(policy.initialDelay))", at: position)
        }
        return policy
    }
}
