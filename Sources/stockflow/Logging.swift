import ArgumentParser
import Foundation
import Logging
import StockflowCore

/// How log lines look: readable text (the default) or one JSON object per line.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// The executable's log setup: swift-log with one handler writing to standard error, each line
/// carrying run id, pipeline and stage, and every line passed through the secret redactor first.
enum Log {
    /// The redactor built from this process's environment.
    static let redactor = SecretRedactor()
    /// The last lines written, for the failure alert.
    static let tail = LogTail(capacity: 200)

    /// Installs the handler; call once, before the first logger is made.
    static func bootstrap(format: LogFormat, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }

    /// A logger for one run: run id and pipeline on every line, stage `-` until a stage is named.
    static func runLogger(runID: String, pipeline: String) -> Logger {
        var logger = Logger(label: "stockflow.run")
        logger[metadataKey: "run_id"] = "\(runID)"
        logger[metadataKey: "pipeline"] = "\(pipeline)"
        logger[metadataKey: "stage"] = "-"
        return logger
    }
}

/// The most recent log lines, kept in memory.
final class LogTail: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func append(_ line: String) {
        lock.withLock {
            lines.append(line)
            if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        }
    }

    /// The last `count` lines.
    func last(_ count: Int) -> [String] { lock.withLock { Array(lines.suffix(count)) } }
}

/// Writes log lines to standard error, as text or JSON, secrets removed.
struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    private static let writeLock = NSLock()
    /// Keys printed first and always (with `-` when absent), in this order.
    static let fixedKeys = ["run_id", "pipeline", "stage"]

    init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Log.redactor.redact(render(level: event.level, message: event.message.description, metadata: merged))
        Log.tail.append(line)
        LineLogHandler.writeLock.withLock {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func render(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let time = timestamp()
        let fixed = LineLogHandler.fixedKeys.map { ($0, metadata[$0].map { "\($0)" } ?? "-") }
        let others = metadata.filter { !LineLogHandler.fixedKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        switch format {
        case .json:
            let fields = [("time", time), ("level", level.rawValue)] + fixed + [("message", message)] + others
            return "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
        case .text:
            let context = fixed.filter { $0.1 != "-" || $0.0 == "stage" }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            let extra = others.map { "\($0.0)=\($0.1.contains(" ") ? "\"\($0.1)\"" : $0.1)" }.joined(separator: " ")
            return "\(time) \(level.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) [\(context)] \(message)\(extra.isEmpty ? "" : "  " + extra)"
        }
    }

    private func timestamp() -> String {
        iso8601Milliseconds(Date())
    }
}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
