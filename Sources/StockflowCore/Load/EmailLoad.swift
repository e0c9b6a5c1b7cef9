import Foundation

/// `load: email` — the run's digest by SMTP: a plain-text and an HTML body (KPIs, the run's counts,
/// the first findings) from Mustache templates, with other loads' files attached.
public final class EmailLoad: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "email", role: .load,
        summary: "Sends the run's digest by SMTP through libcurl: multipart/alternative with a plain-text and an HTML body (KPI tiles, the run's reject and finding counts, the first findings) from Mustache templates, and the files of other loads attached (`attach: [workbook, report]`) with their content types and names. Headers Date, Message-ID, From, To, Cc and a templated Subject. The message is sent once the run's outputs are committed, so the attachments are the files in place; a 4xx reply or a connection failure is retried with backoff (then exit 75), a 5xx reply is a permanent failure (exit 1); the outputs stay committed either way, and the message is kept in `outbox/`. With no SMTP URL (no `smtp_url`, no STOCKFLOW_SMTP_URL), the message is written as an .eml file to `outbox/` under the output folder instead, exactly as it would be sent.",
        options: [
            OptionSpec("to", .list, required: true, "Recipients, `Name <address>` or `address`."),
            OptionSpec("from", .string, required: true, "Sender, `Name <address>`."),
            OptionSpec("cc", .list, "Copy recipients."),
            OptionSpec("subject", .string, default: "{{pipeline}} — {{as_of}}", "Subject, a Mustache template over the digest's fields (`pipeline`, `as_of`, `rejects`, `findings_count`, `kpis`)."),
            OptionSpec("attach", .list, "Ids of load stages whose files are attached (an xlsx workbook, an html_report)."),
            OptionSpec("title", .string, defaultNote: "the pipeline's description, else its name", "Heading of the digest."),
            OptionSpec("attach_rejects", .bool, default: "false", "Also attach rejects.csv when the run rejected rows (the digest lists the first ones)."),
            OptionSpec("max_attachment_mb", .int, default: "20", "A file larger than this is not attached (mail servers refuse big messages); the message names it and where it is instead."),
            OptionSpec("kpis", .list, "KPI lines of the digest, each `{label, input, value, agg?, format?}` as in html_report."),
            OptionSpec("ca_file", .inputPath, defaultNote: "$STOCKFLOW_SMTP_CA_FILE, else the system's", "PEM file of the certificate authority (or self-signed certificate) the server is verified with."),
            OptionSpec("timeout_seconds", .int, default: "60", "Seconds allowed for one attempt (connecting: at most 20)."),
            OptionSpec("retries", .int, defaultNote: "the pipeline's retries: max_retries", "Further attempts after a 4xx reply or a connection failure; the waits follow the pipeline's `retries:` (exponential backoff with jitter)."),
            OptionSpec("retry_delay_seconds", .int, defaultNote: "the pipeline's retries: initial_delay", "Wait before the first retry, overriding the pipeline's `retries: {initial_delay}`."),
            OptionSpec("outbox", .string, default: "outbox", "Folder under the output folder where .eml files are written."),
            OptionSpec("template", .inputPath, defaultNote: "the bundled reports/digest.html.mustache", "Mustache template of the HTML body."),
            OptionSpec("text_template", .inputPath, defaultNote: "the bundled reports/digest.txt.mustache", "Mustache template of the plain-text body."),
        ] + SMTPSettings.options,
        example: """
        digest:
          load: email
          from: "Stockflow <stockflow@example.com>"
          to: [finance@example.com]
          subject: "Inventaire du {{as_of}} : {{rejects}} rejet(s), {{findings_count}} constat(s)"
          attach: [workbook, report]
          kpis:
            - {label: Valeur du stock, input: stock_by_warehouse, value: valeur}
          smtp_url: ${STOCKFLOW_SMTP_URL:-}
          smtp_user: ${STOCKFLOW_SMTP_USER:-}
          smtp_password: ${STOCKFLOW_SMTP_PASSWORD:-}
        """)

    struct Settings {
        var from: String
        var to: [String]
        var cc: [String]
        var attach: [String]
        var server: SMTPServer?
        var retries: RetryPolicy
        var outbox: String
        var maxAttachmentBytes: Int
    }

    let settings: Settings
    let subject: ReportTemplate
    let html: ReportTemplate
    let text: ReportTemplate
    let locale: ReportLocale
    /// The digest's heading: `title:`, else the pipeline's description.
    var title: String?
    /// Whether rejects.csv goes along when the run rejected rows.
    var attachRejects = false
    let collector: ReportCollector
    /// Waits between attempts; tests make it instant.
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    private var message: MailMessage?
    public let outputSchema = Schema([])
    public var countsOwnOutput: Bool { true }

    init(settings: Settings, subject: ReportTemplate, html: ReportTemplate, text: ReportTemplate, locale: ReportLocale, collector: ReportCollector) {
        self.settings = settings
        self.subject = subject
        self.html = html
        self.text = text
        self.locale = locale
        self.collector = collector
    }

    public static func inputReferences(_ config: StageConfig) -> [InputReference] {
        ReportOptions.inputReferences(config, keys: ["kpis"])
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        let environment = ProcessInfo.processInfo.environment
        func addresses(_ key: String) -> [String] {
            let list = config.stringList(key) ?? []
            for address in list where !bareAddress(address).contains("@") {
                config.error("'\(address)' in '\(key)' of stage '\(config.id)' is not an email address (expected name@domain or Name <name@domain>)", at: config.node[key]?.position)
            }
            return list
        }
        let to = addresses("to"), cc = addresses("cc")
        let from = addresses("from").first ?? ""
        if config.node["to"] != nil && to.isEmpty { config.error("'to' of stage '\(config.id)' lists no recipient", at: config.node["to"]?.position) }
        let attach = config.stringList("attach") ?? []
        let schemas = ReportOptions.schemas(config, keys: ["kpis"], inputs: inputs)
        let kpis = ReportOptions.kpis(config, inputs: schemas)
        let timeout = config.int("timeout_seconds")
        let caFile = config.node["ca_file"] != nil ? config.inputPath("ca_file")?.path : nil
        let server = SMTPSettings.server(value: { config.string($0) }, environment: environment, caFile: caFile,
                                         timeout: timeout) { key, problem in
            config.error("'\(key)' of stage '\(config.id)' \(problem)", at: config.node[key]?.position)
        }
        var retries = context.retries
        if config.node["retries"] != nil {
            retries.maxRetries = config.int("retries")
            if retries.maxRetries < 0 || retries.maxRetries > 10 { config.error("'retries' must be between 0 and 10", at: config.node["retries"]?.position) }
            retries.maxRetries = min(max(retries.maxRetries, 0), 10)
        }
        if config.node["retry_delay_seconds"] != nil {
            let delay = config.int("retry_delay_seconds")
            if delay < 0 { config.error("'retry_delay_seconds' must be 0 or more", at: config.node["retry_delay_seconds"]?.position) }
            retries.initialDelay = Double(max(delay, 0))
            retries.maxDelay = max(retries.maxDelay, retries.initialDelay)
        }
        let outbox = config.text("outbox")
        if let problem = OutputPath.problem(with: outbox) {
            config.error("'outbox' of stage '\(config.id)' \(problem)", at: config.node["outbox"]?.position)
        }
        guard let htmlURL = BundledReports.resolve(config, option: "template", bundled: "digest.html.mustache"),
              let textURL = BundledReports.resolve(config, option: "text_template", bundled: "digest.txt.mustache") else { return nil }
        do {
            let subject = try ReportTemplate.text(config.text("subject"), named: "subject")
            let settings = Settings(from: from, to: to, cc: cc, attach: attach, server: server, retries: retries,
                                    outbox: outbox,
                                    maxAttachmentBytes: max(config.int("max_attachment_mb"), 0) * 1_000_000)
            let load = EmailLoad(settings: settings, subject: subject, html: try ReportTemplate.load(htmlURL), text: try ReportTemplate.load(textURL),
                                 locale: ReportLocale(context.settings),
                                 collector: ReportCollector(kpis: kpis, charts: [], ports: schemas.mapValues(\.port)))
            load.title = config.string("title") ?? context.description
            load.attachRejects = config.bool("attach_rejects")
            return load
        } catch {
            config.error("\(error)")
            return nil
        }
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        try collector.receive(batch, port: port)
        context.countOut(batch.count)
    }

    /// Renders the bodies once every stage has run (the findings are complete); a template error
    /// fails the run before anything is committed.
    public func finalize(_ context: StageContext) throws {
        var fields = RunFacts.context(context, locale: locale)
        fields["kpis"] = collector.kpiTiles(locale: locale, asOf: context.run.asOf)
        fields["has_kpis"] = !collector.kpis.isEmpty
        fields["text"] = ReportWords.words(for: locale)
        fields["lang"] = locale.language
        fields["title"] = title ?? context.run.pipelineName
        fields["attaches_rejects"] = attachRejects && context.run.rejects.count > 0
        fields["attachments"] = settings.attach
        let domain = bareAddress(settings.from).split(separator: "@").last.map(String.init) ?? "stockflow.invalid"
        message = MailMessage(from: settings.from, to: settings.to, cc: settings.cc,
                              subject: try subject.render(fields).trimmingCharacters(in: .whitespacesAndNewlines),
                              date: Date(), messageID: "<\(UUID().uuidString.lowercased()).\(context.run.pipelineName)@\(domain)>",
                              text: try text.render(fields), html: try html.render(fields))
    }

    /// Attaches the committed files and sends (or writes the .eml): after the commit, so that a mail
    /// server's trouble never costs the run its outputs.
    public func afterCommit(_ context: StageContext) throws {
        guard var message else { return }
        var attached: [[URL]] = []
        for stage in settings.attach {
            let files = context.run.outputs.filesByStage[stage] ?? []
            guard !files.isEmpty else {
                throw StageError("stage '\(stage)' named in 'attach' of '\(context.stageID)' wrote no file; attach names load stages of this pipeline (xlsx, html_report, csv)")
            }
            attached.append(files)
        }
        if attachRejects && context.run.rejects.count > 0 {
            attached.append([context.run.outputs.directory.appendingPathComponent(context.run.rejects.name)])
        }
        for files in attached {
            for file in files where FileManager.default.fileExists(atPath: file.path) {
                // Mail servers commonly refuse messages over 20-25 MB: a larger file is named, not attached.
                let bytes = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
                if bytes > settings.maxAttachmentBytes {
                    let size = String(format: "%.1f MB", Double(bytes) / 1_000_000)
                    let limit = settings.maxAttachmentBytes / 1_000_000
                    let line = locale.isFrench
                        ? "\(file.lastPathComponent) (\(size)) n’est pas joint, au-delà de la limite de \(limit) Mo : il est dans le dossier de sortie du traitement."
                        : "\(file.lastPathComponent) (\(size)) is not attached, over the \(limit) MB limit: it is in the run's output folder."
                    context.note("\(line) (\(file.path))")
                    message.text += "\n\(line)\n"
                    message.html = message.html.replacingOccurrences(of: "</body>", with: "<p>\(escapeXML(line))</p></body>")
                    continue
                }
                message.attachments.append(MailAttachment(path: file.path, filename: file.lastPathComponent,
                                                          contentType: MailAttachment.contentType(forFileNamed: file.lastPathComponent)))
            }
        }
        guard let server = settings.server else {
            let url = try writeToOutbox(message, context: context)
            context.note("no SMTP server configured: the digest was written to \(url.path)")
            return
        }
        var attempts = 0
        do {
            try SMTPSettings.send(message, via: server, retries: settings.retries, attempts: &attempts, sleep: sleep)
            context.note("digest sent to \(settings.to.count + settings.cc.count) recipient(s) through \(server.displayURL)")
        } catch {
            let kept = try? writeToOutbox(message, context: context)
            let where_ = kept.map { "; the message is kept in \($0.path)" } ?? ""
            if (error as? CurlError)?.isTemporary == true {
                throw StageError("could not send the digest after \(attempts) attempt(s): \(error)\(where_)", kind: .temporary)
            }
            throw StageError("the mail server refused the digest: \(error)\(where_)")
        }
    }

    /// Writes the message as `<outbox>/<pipeline>-<as of>.eml` and commits it at once.
    private func writeToOutbox(_ message: MailMessage, context: StageContext) throws -> URL {
        let data: Data
        do {
            data = try CurlMailer.render(message)
        } catch {
            throw StageError("cannot write the digest to the outbox: \(error)")
        }
        let name = "\(settings.outbox)/\(context.run.pipelineName)-\(context.run.asOf).eml"
        let temporary = try context.createOutput(name)
        do {
            try data.write(to: temporary)
        } catch {
            throw StageError("cannot write \(name): \(error.localizedDescription)")
        }
        try context.run.outputs.commit(temporary)
        return context.run.outputs.directory.appendingPathComponent(name)
    }
}
