import Foundation

/// How stages that talk to a server (PostgreSQL, SMTP) retry a temporary failure: exponential
/// backoff with jitter, from the pipeline's `retries:` key. When the retries run out the failure
/// stays temporary, so the run ends with exit 75.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts after the first one.
    public var maxRetries: Int
    /// Seconds before the first retry.
    public var initialDelay: Double
    /// The longest wait between two attempts, in seconds.
    public var maxDelay: Double
    /// Each wait is this many times the previous one.
    public var multiplier: Double
    /// Fraction of each wait drawn at random (0 = fixed waits, 1 = anywhere from 0 to the full wait),
    /// so that runs failing together do not retry together.
    public var jitter: Double

    /// The default policy, as the options table states it.
    public init() {
        self.init(OptionTable(nil, options: Self.options, place: "retries", diagnostics: DiagnosticCollector()))
    }

    /// The policy of a `retries:` table; values out of range are reported and replaced by the defaults.
    private init(_ table: OptionTable) {
        func seconds(_ name: String, _ range: ClosedRange<Double>, _ what: String) -> Double {
            table.parsed(name, label: "retries ", expected: what) { Double($0).flatMap { range.contains($0) ? $0 : nil } } ?? 0
        }
        maxRetries = table.parsed("max_retries", label: "retries ", expected: "a whole number from 0 to 100") { text in
            Int(text).flatMap { (0...100).contains($0) ? $0 : nil }
        } ?? 0
        initialDelay = seconds("initial_delay", 0...3600, "a number of seconds from 0 to 3600")
        maxDelay = seconds("max_delay", 0...86_400, "a number of seconds from 0 to 86400")
        multiplier = seconds("multiplier", 1...10, "a number from 1 to 10")
        jitter = seconds("jitter", 0...1, "a fraction from 0 to 1")
    }

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
        guard let node else { return RetryPolicy() }
        guard node.entries != nil else {
            diagnostics.error("'retries' must be a mapping like {max_retries: 3, initial_delay: 1}, found \(node.shapeName)", at: node.position)
            return RetryPolicy()
        }
        let table = OptionTable(node, options: options, place: "retries", diagnostics: diagnostics)
        table.reportUnknownKeys()
        let policy = RetryPolicy(table)
        if policy.maxDelay < policy.initialDelay, let position = node["max_delay"]?.position {
            diagnostics.error("retries 'max_delay' (\(policy.maxDelay)) is shorter than 'initial_delay' (\(policy.initialDelay))", at: position)
        }
        return policy
    }
}
