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
    public var subject: String
    /// SMTP settings as written (`smtp_url`, `smtp_user`, `smtp_password`, `starttls`), read by `SMTPSettings`.
    public var smtp: [String: String] = [:]
    /// How many of the run's last log lines the message carries.
    public var logLines: Int

    /// An alert to `to`, its other fields at the defaults the options table states.
    public init(to: [String]) {
        let defaults = OptionTable(nil, options: Self.emailOptions, place: "on_failure email", diagnostics: DiagnosticCollector())
        self.to = to
        subject = defaults.text("subject")
        logLines = defaults.int("log_lines")
    }

    /// The keys of `on_failure:` with their docs.
    public static let options: [OptionSpec] = [
        OptionSpec("email", .mapping, required: true, "The alert email (keys below)."),
    ]

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
        guard node.entries != nil else {
            diagnostics.error("'on_failure' must be a mapping like {email: {to: [ops@example.com]}}, found \(node.shapeName)", at: node.position)
            return nil
        }
        OptionTable(node, options: options, place: "on_failure", diagnostics: diagnostics)
            .reportUnknownKeys(hint: "; the only action is 'email'")
        guard let email = node["email"] else {
            diagnostics.error("on_failure needs 'email: {to: [...]}'", at: node.position)
            return nil
        }
        guard email.entries != nil else {
            diagnostics.error("on_failure 'email' must be a mapping like {to: [ops@example.com]}, found \(email.shapeName)", at: email.position)
            return nil
        }
        let table = OptionTable(email, options: emailOptions, place: "on_failure email", diagnostics: diagnostics)
        table.reportUnknownKeys()
        func addresses(_ key: String) -> [String] {
            guard let value = email[key] else { return [] }
            let items = value.items.map { $0.compactMap(\.scalar) } ?? value.scalar.map { [$0] } ?? []
            for item in items where !looksLikeAddress(item) {
                diagnostics.error("on_failure email '\(key)': '\(item)' is not an email address", at: value.position)
            }
            return items
        }
        var alert = FailureAlert(to: addresses("to"))
        alert.cc = addresses("cc")
        if let from = email["from"] {
            if let text = from.scalar, looksLikeAddress(text) { alert.from = text } else {
                diagnostics.error("on_failure email 'from': \(from.shapeName) is not an email address", at: from.position)
            }
        }
        alert.subject = table.text("subject")
        for key in ["smtp_url", "smtp_user", "smtp_password"] { alert.smtp[key] = table.string(key) }
        var policies: [String] = []
        if case .choice(let choices)? = table.option("starttls")?.kind { policies = choices }
        alert.smtp["starttls"] = table.parsed("starttls", label: "on_failure email ", expected: policies.joined(separator: ", ")) { policies.contains($0) ? $0 : nil }
        alert.logLines = table.parsed("log_lines", label: "on_failure email ", expected: "a whole number from 0 to 10000") { text in
            Int(text).flatMap { (0...10_000).contains($0) ? $0 : nil }
        } ?? alert.logLines
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
