// Swift wrapper over libcurl (C) for sending mail. This is the only file that imports CCurl: callers
// build a `MailMessage` and an `SMTPServer` and never see a handle. The MIME message (multipart/mixed
// holding a multipart/alternative text + HTML body and the attachments) is built by curl's mime API.

import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether the SMTP session must be upgraded with STARTTLS (`smtp://` URLs; `smtps://` is TLS from the start).
public enum STARTTLSPolicy: String, Sendable, CaseIterable {
    /// Fail when the server does not offer STARTTLS.
    case required
    /// Upgrade when offered, else go on in clear.
    case optional
    /// Never upgrade.
    case off
}

/// Where and how to send: URL, credentials, TLS and timeouts.
public struct SMTPServer: Sendable {
    /// `smtp://host:587` or `smtps://host:465`.
    public var url: String
    public var user: String?
    /// Never printed, logged or put in an error.
    public var password: String?
    public var starttls: STARTTLSPolicy
    /// A CA bundle (PEM) to verify the server with, for a private or self-signed certificate.
    public var caFile: String?
    /// Seconds to connect, and for the whole transfer.
    public var connectTimeout: Int
    public var timeout: Int

    /// Describes a server.
    public init(url: String, user: String? = nil, password: String? = nil, starttls: STARTTLSPolicy = .required,
                caFile: String? = nil, connectTimeout: Int = 20, timeout: Int = 120) {
        self.url = url
        self.user = user
        self.password = password
        self.starttls = starttls
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }

    /// The URL without any `user:password@` part, for messages.
    public var displayURL: String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(url[url.index(after: at)...])
    }
}

/// A file attached to a message.
public struct MailAttachment: Sendable, Equatable {
    public var path: String
    public var filename: String
    public var contentType: String

    public init(path: String, filename: String, contentType: String) {
        self.path = path
        self.filename = filename
        self.contentType = contentType
    }

    /// The content type of a file by its extension.
    public static func contentType(forFileNamed name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "xlsx": return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "html", "htm": return "text/html; charset=utf-8"
        case "csv": return "text/csv; charset=utf-8"
        case "json": return "application/json"
        case "pdf": return "application/pdf"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}

/// One email: headers, a plain-text and an HTML body, attachments.
public struct MailMessage: Sendable {
    /// `Name <address>` or a bare address.
    public var from: String
    public var to: [String]
    public var cc: [String]
    public var subject: String
    public var date: Date
    /// With its angle brackets: `<id@domain>`.
    public var messageID: String
    public var text: String
    public var html: String
    public var attachments: [MailAttachment]

    public init(from: String, to: [String], cc: [String] = [], subject: String, date: Date, messageID: String,
                text: String, html: String, attachments: [MailAttachment] = []) {
        self.from = from
        self.to = to
        self.cc = cc
        self.subject = subject
        self.date = date
        self.messageID = messageID
        self.text = text
        self.html = html
        self.attachments = attachments
    }

    /// The headers curl writes above the MIME body.
    var headerLines: [String] {
        var lines = ["Date: \(rfc5322UTC(date))", "From: \(encodeAddress(from))",
                     "To: \(to.map(encodeAddress).joined(separator: ", "))"]
        if !cc.isEmpty { lines.append("Cc: \(cc.map(encodeAddress).joined(separator: ", "))") }
        lines += ["Message-ID: \(messageID)", "Subject: \(encodeHeaderText(subject))"]
        return lines
    }
}

/// A failure from libcurl: its code, its message and, for SMTP, the server's last reply code.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    /// The `CURLcode`.
    public let code: Int
    /// curl's message, with the detail of its error buffer.
    public let message: String
    /// The server's last SMTP reply code (0 when none).
    public let replyCode: Int
    /// A connection failure, a timeout or a 4xx reply: a later try may succeed.
    public let isTemporary: Bool

    public var description: String {
        "\(message)\(replyCode > 0 ? " (server reply \(replyCode))" : "") [curl error \(code)]"
    }
}

private let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// One curl easy handle, freed in `deinit`, with the C strings and lists it points to kept alive.
private final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    /// curl writes its detailed message here; it must outlive every call, so it is allocated, not an array.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var mimes: [OpaquePointer] = []

    init() throws {
        _ = curlGlobalInit
        guard let handle = curl_easy_init() else {
            throw CurlError(code: -1, message: "curl_easy_init failed", replyCode: 0, isTemporary: false)
        }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        _ = stockflow_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
    }

    deinit {
        curl_easy_cleanup(handle)
        for mime in mimes { curl_mime_free(mime) }
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) throws { try check(stockflow_curl_set_long(handle, option, value), "setting option \(option.rawValue)") }
    func set(_ option: CURLoption, _ value: String) throws { try check(stockflow_curl_set_string(handle, option, value), "setting option \(option.rawValue)") }

    func set(_ option: CURLoption, list items: [String]) throws {
        var list: UnsafeMutablePointer<curl_slist>?
        for item in items {
            guard let appended = curl_slist_append(list, item) else {
                if let list { curl_slist_free_all(list) }
                throw CurlError(code: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_slist_append failed", replyCode: 0, isTemporary: false)
            }
            list = appended
        }
        guard let list else { return }
        lists.append(list)
        try check(stockflow_curl_set_pointer(handle, option, list), "setting list option \(option.rawValue)")
    }

    /// Makes the message's MIME tree and hands it to the handle, which owns it from then on.
    func attach(_ message: MailMessage) throws {
        guard let top = curl_mime_init(handle), let alternative = curl_mime_init(handle) else {
            throw CurlError(code: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_mime_init failed", replyCode: 0, isTemporary: false)
        }
        mimes.append(top)
        // Plain text first: a reader shows the last alternative it understands.
        for (text, type) in [(message.text, "text/plain; charset=utf-8"), (message.html, "text/html; charset=utf-8")] {
            // CRLF line ends: curl's quoted-printable encoder keeps those as line breaks, a bare LF becomes =0A.
            let body = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
            let part = curl_mime_addpart(alternative)
            try check(curl_mime_data(part, body, body.utf8.count), "adding the \(type) body")
            try check(curl_mime_type(part, type), "typing the body")
            try check(curl_mime_encoder(part, "quoted-printable"), "encoding the body")
        }
        let bodyPart = curl_mime_addpart(top)
        try check(curl_mime_subparts(bodyPart, alternative), "nesting the alternative bodies")
        try check(curl_mime_type(bodyPart, "multipart/alternative"), "typing the alternative bodies")
        for attachment in message.attachments {
            let part = curl_mime_addpart(top)
            try check(curl_mime_filedata(part, attachment.path), "attaching \(attachment.path)")
            try check(curl_mime_filename(part, attachment.filename), "naming \(attachment.filename)")
            try check(curl_mime_type(part, attachment.contentType), "typing \(attachment.filename)")
            try check(curl_mime_encoder(part, "base64"), "encoding \(attachment.filename)")
        }
        try check(stockflow_curl_set_pointer(handle, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(top)), "setting the message")
        try set(CURLOPT_HTTPHEADER, list: message.headerLines)
        try set(CURLOPT_MAIL_FROM, "<\(bareAddress(message.from))>")
        try set(CURLOPT_MAIL_RCPT, list: (message.to + message.cc).map { "<\(bareAddress($0))>" })
    }

    /// Runs the transfer.
    func perform(server: String) throws {
        let code = curl_easy_perform(handle)
        guard code != CURLE_OK else { return }
        var reply = 0
        _ = stockflow_curl_response_code(handle, &reply)
        let detail = String(cString: errorBuffer)
        let base = String(cString: curl_easy_strerror(code))
        let message = "\(server): \(base)\(detail.isEmpty || detail == base ? "" : ": \(detail)")"
        let connection: Set<CURLcode> = [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
                                         CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR]
        let temporary: Bool
        if (500..<600).contains(reply) {
            temporary = false
        } else if (400..<500).contains(reply) {
            temporary = true
        } else {
            temporary = connection.contains(code)
        }
        throw CurlError(code: Int(code.rawValue), message: message, replyCode: reply, isTemporary: temporary)
    }

    private func check(_ code: CURLcode, _ context: String) throws {
        guard code != CURLE_OK else { return }
        throw CurlError(code: Int(code.rawValue), message: "\(context): \(String(cString: curl_easy_strerror(code)))", replyCode: 0, isTemporary: false)
    }
}

/// Sends messages over SMTP, or renders them to the bytes that would be sent.
public enum CurlMailer {
    /// Sends `message` once; the caller decides on retries from `CurlError.isTemporary`.
    public static func send(_ message: MailMessage, via server: SMTPServer) throws {
        let easy = try CurlEasy()
        try easy.set(CURLOPT_URL, server.url)
        try easy.set(CURLOPT_USE_SSL, Int(server.starttls == .required ? CURLUSESSL_ALL.rawValue
                                          : server.starttls == .optional ? CURLUSESSL_TRY.rawValue : CURLUSESSL_NONE.rawValue))
        if let user = server.user, !user.isEmpty { try easy.set(CURLOPT_USERNAME, user) }
        if let password = server.password, !password.isEmpty { try easy.set(CURLOPT_PASSWORD, password) }
        if let caFile = server.caFile { try easy.set(CURLOPT_CAINFO, caFile) }
        try easy.set(CURLOPT_CONNECTTIMEOUT, server.connectTimeout)
        try easy.set(CURLOPT_TIMEOUT, server.timeout)
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.attach(message)
        try easy.perform(server: server.displayURL)
    }

    /// The message exactly as curl would send it (RFC 5322, CRLF line ends), for an `.eml` file.
    ///
    /// curl's mime API only serializes during a transfer, so curl talks to a tiny SMTP listener that
    /// this process opens on a loopback port for one connection; nothing leaves the machine. (A
    /// socket pair handed over with CURL_SOCKOPT_ALREADY_CONNECTED would need no port, but curl 7.88,
    /// Debian 12's, still calls connect() on it.)
    public static func render(_ message: MailMessage) throws -> Data {
        let sink = try MessageSink()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            sink.serve()
            done.signal()
        }
        do {
            let easy = try CurlEasy()
            try easy.set(CURLOPT_URL, "smtp://127.0.0.1:\(sink.port)")
            try easy.set(CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue))
            try easy.set(CURLOPT_TIMEOUT, 30)
            try easy.set(CURLOPT_NOSIGNAL, 1)
            try easy.attach(message)
            try easy.perform(server: "outbox")
        } catch {
            sink.stop()
            done.wait()
            throw error
        }
        done.wait()
        guard let data = sink.message else {
            throw CurlError(code: -1, message: "the message could not be rendered", replyCode: 0, isTemporary: false)
        }
        return data
    }
}

/// The listening end of `CurlMailer.render`: answers SMTP just enough for curl to hand over the
/// message, and keeps the DATA with the dot-stuffing undone.
private final class MessageSink: @unchecked Sendable {
    private let listener: Int32
    private var fd: Int32 = -1
    private let lock = NSLock()
    private var received: Data?
    /// The loopback port curl connects to.
    let port: UInt16

    /// Listens on 127.0.0.1 on a port the system picks.
    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw MessageSink.failure("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, generic, &length) == 0
            }
        }
        guard bound else {
            let error = MessageSink.failure("listening on 127.0.0.1")
            close(listener)
            throw error
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(listener) }

    private static func failure(_ what: String) -> CurlError {
        CurlError(code: -1, message: "\(what): \(String(cString: strerror(errno)))", replyCode: 0, isTemporary: false)
    }

    var message: Data? { lock.withLock { received } }

    /// Unblocks `serve` when curl failed before connecting.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    func serve() {
        fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var buffer = Data()
        var inData = false
        var body = Data()
        reply("220 stockflow outbox")
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { return }
            buffer.append(contentsOf: chunk[0..<count])
            while let end = buffer.firstRange(of: Data([13, 10])) {
                let line = buffer[buffer.startIndex..<end.lowerBound]
                buffer.removeSubrange(buffer.startIndex..<end.upperBound)
                if inData {
                    if line == Data([46]) {
                        inData = false
                        lock.withLock { received = body }
                        reply("250 kept")
                    } else {
                        body.append(line.first == 46 ? line.dropFirst() : line)
                        body.append(contentsOf: [13, 10])
                    }
                    continue
                }
                let command = String(decoding: line.prefix(4), as: UTF8.self).uppercased()
                switch command {
                case "EHLO", "HELO": reply("250 stockflow")
                case "DATA":
                    inData = true
                    reply("354 go on")
                case "QUIT":
                    reply("221 bye")
                    return
                default: reply("250 ok")
                }
            }
        }
    }

    private func reply(_ text: String) {
        let bytes = Array((text + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

// MARK: - Header text

/// The address inside `Name <address>`, or the text itself.
func bareAddress(_ text: String) -> String {
    guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else {
        return text.trimmingCharacters(in: .whitespaces)
    }
    return String(text[text.index(after: open)..<close])
}

/// `Name <address>` with a non-ASCII name encoded (RFC 2047).
func encodeAddress(_ text: String) -> String {
    guard let open = text.lastIndex(of: "<") else { return text.trimmingCharacters(in: .whitespaces) }
    let name = text[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    guard !name.isEmpty else { return "<\(bareAddress(text))>" }
    let shown = name.unicodeScalars.allSatisfy(\.isASCII) ? "\"\(name.replacingOccurrences(of: "\"", with: "'"))\"" : encodeHeaderText(name)
    return "\(shown) <\(bareAddress(text))>"
}

/// Header text as is when plain ASCII, else as RFC 2047 encoded words (UTF-8, base64), each at
/// most 75 characters and cut between characters.
func encodeHeaderText(_ text: String) -> String {
    let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    // RFC 5322 §2.2.3: lines of at most 78 characters, folded with CRLF and a space.
    if clean.unicodeScalars.allSatisfy({ $0.isASCII }) {
        var lines: [String] = []
        var current: String?
        for word in clean.split(separator: " ", omittingEmptySubsequences: false) {
            if let line = current, line.count + 1 + word.count > 66, !line.isEmpty {
                lines.append(line)
                current = String(word)
            } else {
                current = current.map { $0 + " " + word } ?? String(word)
            }
        }
        return (lines + [current ?? ""]).joined(separator: "\r\n ")
    }
    var words: [String] = []
    var current = ""
    for character in clean {
        // 39 bytes of UTF-8 make 52 base64 characters, plus 12 for =?UTF-8?B?...?=: with "Subject: " a line stays under 78.
        if (current + String(character)).utf8.count > 39 {
            words.append(current)
            current = ""
        }
        current.append(character)
    }
    if !current.isEmpty { words.append(current) }
    return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
}
