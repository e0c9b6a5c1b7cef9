import Foundation

/// What to do when a run fails (`on_failure:`): an alert email with the error and the log tail,
/// sent through the `email` load's SMTP settings (same keys, same environment defaults).
public struct FailureAlert: Sendable, Equatable {
    /// Recipients.
    public var to: [String]
    public var cc: [String] = []
    /// Sender; the email load's default when absent.
    public var from: String?
    /// Subject; `{pipeline}`, `{as_of}` and `{status}` are replaced.
    public var subject = "stockflow: {pipeline} as of {as_of} {status}"
    /// SMTP settings as written (`smtp_url`, `smtp_user`, `smtp_password`, `starttls`), read by `SMTPSettings`.
    public var smtp: [String: String] = [:]
    /// How many of the run's last log lines the message carries.
    public var logLines = 50

    /// The keys of `on_failure: {email: ...}` with their docs.
    public static let emailOptions: [OptionSpec] = [
        OptionSpec("to", .list, required: true, "Recipients of the alert."),
        OptionSpec("cc", .list, "Copy recipients."),
        OptionSpec("from", .string, "Sender address (the email load's default when absent)."),
        OptionSpec("subject", .string, default: "stockflow: {pipeline} as of {as_of} {status}", "Subject; {pipeline}, {as_of} and {status} are replaced."),
        OptionSpec("log_lines", .int, default: "50", "How many of the run's last log lines the alert carries."),
    ] + SMTPSettings.options

    /// Reads `on_failure:`; problems go to `diagnostics`.
    static func read(_ node: ConfigNode?, diagnostics: DiagnosticCollector) -> FailureAlert? {
        guard let node else { return nil }
        guard let entries = node.entries else {
            diagnostics.error("'on_failure' must be a mapping like {email: {to: [ops@example.com]}}, found \(node.shapeName)", at: node.position)
            return nil
        }
        for entry in entries where entry.key != "email" {
            diagnostics.error("unknown key '\(entry.key)' in on_failure; the only action is 'email'", at: entry.keyPosition)
        }
        guard let email = node["email"] else {
            diagnostics.error("on_failure needs 'email: {to: [...]}'", at: node.position)
            return nil
        }
        guard let fields = email.entries else {
            diagnostics.error("on_failure 'email' must be a mapping like {to: [ops@example.com]}, found \(email.shapeName)", at: email.position)
            return nil
        }
        var alert = FailureAlert(to: [])
        let allowed = emailOptions.map(\.name)
        func addresses(_ value: ConfigNode, key: String) -> [String] {
            let items = value.items.map { $0.compactMap(\.scalar) } ?? value.scalar.map { [$0] } ?? []
            for item in items where !looksLikeAddress(item) {
                diagnostics.error("on_failure email '\(key)': '\(item)' is not an email address", at: value.position)
            }
            return items
        }
        for entry in fields {
            let text = entry.value.scalar ?? ""
            switch entry.key {
            case "to": alert.to = addresses(entry.value, key: "to")
            case "cc": alert.cc = addresses(entry.value, key: "cc")
            case "from":
                if looksLikeAddress(text) { alert.from = text } else {
                    diagnostics.error("on_failure email 'from': '\(text)' is not an email address", at: entry.value.position)
                }
            case "subject": alert.subject = text
            case "smtp_url", "smtp_user", "smtp_password": alert.smtp[entry.key] = text
            case "starttls":
                if ["required", "optional", "off"].contains(text) { alert.smtp["starttls"] = text } else {
                    diagnostics.error("on_failure email 'starttls' must be required, optional or off, found \(entry.value.shapeName)", at: entry.value.position)
                }
            case "log_lines":
                if let value = Int(text), (0...10_000).contains(value) { alert.logLines = value } else {
                    diagnostics.error("on_failure email 'log_lines' must be a whole number from 0 to 10000, found \(entry.value.shapeName)", at: entry.value.position)
                }
            default:
                diagnostics.error("unknown key '\(entry.key)' in on_failure email\(didYouMean(entry.key, allowed))", at: entry.keyPosition)
            }
        }
        if alert.to.isEmpty {
            diagnostics.error("on_failure email needs 'to' with at least one address", at: email.position)
        }
        return alert
    }

    private static func looksLikeAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@")
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(" ")
    }
}

extension FailureAlert {
    /// Sends the alert for a failed run: the error, the stage figures and the log tail, over the
    /// configured SMTP server (retrying temporary failures), or written as an .eml under
    /// `<out>/outbox/` when no server is configured. Returns where it went, for the log.
    public func send(report: RunReport, logTail: [String], outputDirectory: URL, retries: RetryPolicy = RetryPolicy(),
                     environment: [String: String] = ProcessInfo.processInfo.environment,
                     clock: () -> Date = Date.init) throws -> String {
        let fill = { (text: String) in
            text.replacingOccurrences(of: "{pipeline}", with: report.pipeline)
                .replacingOccurrences(of: "{as_of}", with: report.asOf)
                .replacingOccurrences(of: "{status}", with: report.status)
        }
        let host = ProcessInfo.processInfo.hostName
        let summary = RunSummary.text(report)
        let tail = logTail.suffix(logLines).joined(separator: "\n")
        let text = "\(summary)\n\nLast log lines:\n\(tail)\n"
        let html = "<html><body><h1>\(escapeXML(fill("{pipeline} as of {as_of}: {status}")))</h1>"
            + "<pre>\(escapeXML(summary))</pre><h2>Last log lines</h2><pre>\(escapeXML(tail))</pre></body></html>"
        let now = clock()
        let message = MailMessage(from: from ?? "stockflow@\(host)", to: to, cc: cc, subject: fill(subject), date: now,
                                  messageID: "<alert-\(UUID().uuidString)@\(host)>", text: text, html: html)
        guard let server = SMTPSettings.server(value: { smtp[$0] }, environment: environment, caFile: nil,
                                               problem: { _, _ in }) else {
            let outbox = outputDirectory.appendingPathComponent("outbox")
            try FileManager.default.createDirectory(at: outbox, withIntermediateDirectories: true)
            let file = outbox.appendingPathComponent("alert-\(report.pipeline)-\(Int(now.timeIntervalSince1970)).eml")
            try CurlMailer.render(message).write(to: file, options: .atomic)
            return file.path
        }
        var attempts = 0
        try SMTPSettings.send(message, via: server, retries: retries, attempts: &attempts)
        return server.displayURL
    }
}
