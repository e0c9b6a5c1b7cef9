import Foundation

/// The SMTP keys shared by `load: email` and `on_failure: {email: …}`, with their environment defaults
/// (STOCKFLOW_SMTP_URL, _USER, _PASSWORD, _CA_FILE): one reader, so both send through the same server.
public enum SMTPSettings {
    /// The keys with their docs, as both specs list them.
    public static let options: [OptionSpec] = [
        OptionSpec("smtp_url", .string, defaultNote: "$STOCKFLOW_SMTP_URL", "`smtp://host:587` (STARTTLS per `starttls`) or `smtps://host:465` (TLS from the start). None: write the .eml to the outbox."),
        OptionSpec("smtp_user", .string, defaultNote: "$STOCKFLOW_SMTP_USER", "AUTH user name."),
        OptionSpec("smtp_password", .string, defaultNote: "$STOCKFLOW_SMTP_PASSWORD", "AUTH password: write `${SOME_VARIABLE}` so it comes from the environment, never the password itself. Never printed."),
        OptionSpec("starttls", .choice(STARTTLSPolicy.allCases.map(\.rawValue)), default: "required", "For `smtp://`: `required` fails when the server does not offer STARTTLS, `optional` upgrades when offered, `off` never upgrades."),
    ]

    /// The server described by `value` (the configured text of a key, nil when absent) and the environment;
    /// nil when no URL is set, which means "write to the outbox". `problem` hears what is wrong, with the key.
    static func server(value: (String) -> String?, environment: [String: String], caFile: String?,
                       timeout: Int = 60, problem: (String, String) -> Void) -> SMTPServer? {
        func setting(_ key: String, _ variable: String) -> String? {
            let text = value(key) ?? environment[variable]
            return text?.isEmpty == false ? text : nil
        }
        guard let url = setting("smtp_url", "STOCKFLOW_SMTP_URL") else { return nil }
        if !(url.hasPrefix("smtp://") || url.hasPrefix("smtps://")) {
            problem("smtp_url", "must start with smtp:// or smtps://, found '\(SMTPServer(url: url).displayURL)'")
        }
        var starttls = STARTTLSPolicy.required
        if let text = value("starttls") {
            if let policy = STARTTLSPolicy(rawValue: text) { starttls = policy } else {
                problem("starttls", "must be \(STARTTLSPolicy.allCases.map(\.rawValue).joined(separator: ", ")), found '\(text)'")
            }
        }
        return SMTPServer(url: url, user: setting("smtp_user", "STOCKFLOW_SMTP_USER"),
                          password: setting("smtp_password", "STOCKFLOW_SMTP_PASSWORD"), starttls: starttls,
                          caFile: caFile ?? setting("ca_file", "STOCKFLOW_SMTP_CA_FILE"),
                          connectTimeout: min(20, timeout), timeout: timeout)
    }

    /// Sends `message`, retrying a 4xx reply or a connection failure per `retries`; the last error is
    /// thrown, and `attempts` says how many were made either way.
    static func send(_ message: MailMessage, via server: SMTPServer, retries: RetryPolicy, attempts: inout Int,
                     sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }) throws {
        var made = 0
        defer { attempts = made }
        try retries.perform(isTemporary: { ($0 as? CurlError)?.isTemporary == true }, sleep: sleep) { attempt in
            made = attempt + 1
            try CurlMailer.send(message, via: server)
        }
    }
}
