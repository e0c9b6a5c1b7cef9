import Foundation
import Hummingbird
import NIOCore
import StockflowCore

/// The reports portal: server-rendered pages in the pipelines' locale, a login form, the session
/// in an HttpOnly SameSite=Strict cookie (Secure behind TLS), a CSRF token in every form. No
/// script: a running run's page refreshes itself with a meta refresh until the run ends.
enum Portal {
    static let sessionCookie = "sf_session"
    static let loginCookie = "sf_login"

    static func add(to router: Router<ServerContext>, state: ServerState) {
        router.get("/") { request, _ in
            guard let session = await currentSession(request, state) else { return loginPage(state, error: nil) }
            return page(state, session: session, title: words(state)["pipelines"] ?? "", body: try home(state, session: session))
        }
        router.get("/login") { _, _ in loginPage(state, error: nil) }
        router.post("/login") { request, context in
            let form = try await formBody(request, context: context)
            guard let token = form["csrf"], let cookie = request.cookies[loginCookie]?.value, !token.isEmpty, token == cookie else {
                return loginPage(state, error: words(state)["expired_form"], status: .forbidden)
            }
            let user: UserRecord
            do {
                user = try await AuthRoutes.login(state, username: form["username"] ?? "", password: form["password"] ?? "", client: context.clientAddress)
            } catch let error as APIError {
                var response = loginPage(state, error: error.status == .tooManyRequests ? words(state)["throttled"] : words(state)["bad_login"], status: error.status)
                for field in error.headers { response.headers.append(field) }
                return response
            }
            let family = UUID().uuidString
            let session = try await state.signer.sign(user: user, family: family, type: "session", lifetime: state.options.sessionLifetime)
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(Cookie(name: sessionCookie, value: session, maxAge: Int(state.options.sessionLifetime), path: "/",
                                      secure: state.options.secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("/logout") { request, context in
            let form = try await formBody(request, context: context)
            if let session = await currentSession(request, state), form["csrf"] == session.csrf {
                _ = try? state.auth.revokeFamily(family: session.principal.family ?? "")
            }
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(Cookie(name: sessionCookie, value: "", maxAge: 0, path: "/", secure: state.options.secureCookies,
                                      httpOnly: true, sameSite: .strict))
            return response
        }
        router.get("/runs") { request, _ in
            guard let session = await currentSession(request, state) else { return redirectToLogin() }
            let rows = try state.runs.list(pipeline: request.uri.queryParameters["pipeline"].map(String.init), status: nil, since: nil, limit: 100, before: nil)
            return page(state, session: session, title: words(state)["history"] ?? "", body: historyTable(state, rows))
        }
        router.get("/runs/:id") { request, context in
            guard let session = await currentSession(request, state) else { return redirectToLogin() }
            let row = try RunRoutes.run(context, state)
            return page(state, session: session, title: "\(row.record.pipeline) · \(row.record.runID)",
                        body: try runPage(state, row), refresh: row.record.status == "running")
        }
        router.get("/pipelines/:name/report") { request, context in
            guard let session = await currentSession(request, state) else { return redirectToLogin() }
            let entry = try PipelineRoutes.pipeline(context, state)
            guard let row = try state.runs.latest(pipeline: entry.name, status: "succeeded"),
                  let report = try RunRoutes.artifacts(of: row, state: state).first(where: { $0.hasSuffix(".html") }) else {
                throw APIError.notFound("no report yet")
            }
            let url = "/files/runs/\(escapeURL(row.record.runID))/\(escapeURL(report))"
            let body = "<p><a href=\"\(url)\" download>\(escape(report))</a></p><iframe class=\"report\" title=\"\(escape(report))\" src=\"\(url)?inline=1\" sandbox></iframe>"
            return page(state, session: session, title: entry.description ?? entry.name, body: body)
        }
        router.post("/pipelines/:name/run") { request, context in
            guard let session = await currentSession(request, state) else { return redirectToLogin() }
            let form = try await formBody(request, context: context)
            guard form["csrf"] == session.csrf else { throw APIError(.forbidden, "csrf", "the form's CSRF token is missing or wrong") }
            guard session.principal.role >= .operator else { throw APIError.forbidden(.operator) }
            let entry = try PipelineRoutes.pipeline(context, state)
            let runID = try await state.starter.start(entry, asOf: nil, idempotencyKey: form["idempotency"])
            return Response(status: .seeOther, headers: [.location: "/runs/\(escapeURL(runID))"])
        }
        router.get("/files/runs/:id/:artifact") { request, context in
            guard await currentSession(request, state) != nil else { return redirectToLogin() }
            let row = try RunRoutes.run(context, state)
            let name = try PipelineRoutes.artifactName(context)
            let path = try RunRoutes.artifactPath(row, name: name, state: state)
            let inline = request.uri.queryParameters["inline"] != nil
            var response = try await state.files.response(path: path, name: name, request: request, context: context, inline: inline)
            if inline { response.headers[.xFrameOptions] = "SAMEORIGIN" }
            return response
        }
        router.get("/files/latest/:name/:artifact") { request, context in
            guard await currentSession(request, state) != nil else { return redirectToLogin() }
            let entry = try PipelineRoutes.pipeline(context, state)
            guard let row = try state.runs.latest(pipeline: entry.name, status: "succeeded") else { throw APIError.notFound("no successful run yet") }
            let name = try PipelineRoutes.artifactName(context)
            let path = try RunRoutes.artifactPath(row, name: name, state: state)
            return try await state.files.response(path: path, name: name, request: request, context: context)
        }
    }

    /// A logged-in portal user and the CSRF token of their session.
    struct Session {
        var principal: Principal
        var csrf: String
    }

    static func currentSession(_ request: Request, _ state: ServerState) async -> Session? {
        guard let token = request.cookies[sessionCookie]?.value, !token.isEmpty,
              let principal = await state.principal(bearer: token, type: "session") else { return nil }
        return Session(principal: principal, csrf: String(digest("csrf:" + token).prefix(32)))
    }

    static func redirectToLogin() -> Response { Response(status: .seeOther, headers: [.location: "/"]) }

    // MARK: Pages

    static func loginPage(_ state: ServerState, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let w = words(state)
        let token = randomToken()
        let message = error.map { "<p class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? ""
        let body = """
            <form class="login" method="post" action="/login">
            \(message)
            <input type="hidden" name="csrf" value="\(token)">
            <label>\(escape(w["username"] ?? "")) <input name="username" autocomplete="username" required></label>
            <label>\(escape(w["password"] ?? "")) <input name="password" type="password" autocomplete="current-password" required></label>
            <button type="submit">\(escape(w["login"] ?? ""))</button>
            </form>
            """
        var response = html(state, title: w["login"] ?? "", body: body, status: status, nav: "")
        response.setCookie(Cookie(name: loginCookie, value: token, maxAge: 3600, path: "/login", secure: state.options.secureCookies,
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    static func home(_ state: ServerState, session: Session) throws -> String {
        let w = words(state)
        var cards: [String] = []
        for entry in state.catalog.all() {
            let last = try state.runs.latest(pipeline: entry.name)
            let success = try state.runs.latest(pipeline: entry.name, status: "succeeded")
            var lines = ["<h2>\(escape(entry.description ?? entry.name))</h2>", "<p class=\"muted\">\(escape(entry.name))</p>"]
            if let last {
                let counts = last.report.map { "\(w["rejects"] ?? "") : \($0["rejects"] ?? 0) · \(w["findings"] ?? "") : \($0["findings"] ?? 0)" } ?? ""
                lines.append("<p><span class=\"status \(escape(last.record.status))\">\(escape(statusWord(last.record.status, w)))</span> \(escape(displayTime(last.record.finished.isEmpty ? last.record.started : last.record.finished))) · \(escape(counts))</p>")
                lines.append("<p><a href=\"/runs/\(escapeURL(last.record.runID))\">\(escape(w["last_run"] ?? ""))</a> · <a href=\"/runs?pipeline=\(escapeURL(entry.name))\">\(escape(w["history"] ?? ""))</a></p>")
            } else {
                lines.append("<p>\(escape(w["never_ran"] ?? ""))</p>")
            }
            if let success {
                let names = try RunRoutes.artifacts(of: success, state: state)
                var links: [String] = []
                if let workbook = names.first(where: { $0.hasSuffix(".xlsx") }) {
                    links.append("<a class=\"workbook\" href=\"/files/latest/\(escapeURL(entry.name))/\(escapeURL(workbook))\">\(escape(w["workbook"] ?? "")) (\(escape(workbook)))</a>")
                }
                if names.contains(where: { $0.hasSuffix(".html") }) {
                    links.append("<a class=\"report-link\" href=\"/pipelines/\(escapeURL(entry.name))/report\">\(escape(w["report"] ?? ""))</a>")
                }
                if names.contains("rejects.csv") {
                    links.append("<a href=\"/files/runs/\(escapeURL(success.record.runID))/rejects.csv\">\(escape(w["rejects_file"] ?? ""))</a>")
                }
                lines.append("<p class=\"links\">\(links.joined(separator: " · "))</p>")
            }
            if session.principal.role >= .operator {
                lines.append("""
                    <form method="post" action="/pipelines/\(escapeURL(entry.name))/run"><input type="hidden" name="csrf" value="\(session.csrf)"><input type="hidden" name="idempotency" value="\(randomToken())"><button class="run-now" type="submit">\(escape(w["run_now"] ?? ""))</button></form>
                    """)
            }
            cards.append("<section class=\"card pipeline\" data-pipeline=\"\(escape(entry.name))\">\(lines.joined(separator: "\n"))</section>")
        }
        return cards.joined(separator: "\n")
    }

    static func historyTable(_ state: ServerState, _ rows: [RunRow]) -> String {
        let w = words(state)
        let items = rows.map { row in
            "<tr><td><a href=\"/runs/\(escapeURL(row.record.runID))\">\(escape(row.record.pipeline))</a></td><td>\(escape(row.record.asOf))</td><td>\(escape(displayTime(row.record.started)))</td><td><span class=\"status \(escape(row.record.status))\">\(escape(statusWord(row.record.status, w)))</span></td></tr>"
        }
        return "<div class=\"scroll\"><table><thead><tr><th>\(w["pipeline"] ?? "")</th><th>\(w["as_of"] ?? "")</th><th>\(w["started"] ?? "")</th><th>\(w["status"] ?? "")</th></tr></thead><tbody>\(items.joined())</tbody></table></div>"
    }

    static func runPage(_ state: ServerState, _ row: RunRow) throws -> String {
        let w = words(state)
        var parts = ["<p><span class=\"status \(escape(row.record.status))\" id=\"run-status\">\(escape(statusWord(row.record.status, w)))</span> \(escape(w["as_of"] ?? "")) \(escape(row.record.asOf)) · \(escape(displayTime(row.record.started)))</p>"]
        if let error = row.record.error { parts.append("<p class=\"error\">\(escape(error))</p>") }
        let stages = (row.report?["stages"] as? [[String: Any]]) ?? []
        if !stages.isEmpty {
            let lines = stages.map { stage in
                let cells = ["id", "kind", "rows_in", "rows_out", "rows_rejected", "rows_filtered"].map { "<td>\(escape("\(stage[$0] ?? "")"))</td>" }
                return "<tr>\(cells.joined())</tr>"
            }
            parts.append("<h2>\(escape(w["stages"] ?? ""))</h2><div class=\"scroll\"><table class=\"stages\"><thead><tr><th>\(w["stage"] ?? "")</th><th>\(w["kind"] ?? "")</th><th>\(w["rows_in"] ?? "")</th><th>\(w["rows_out"] ?? "")</th><th>\(w["rejected"] ?? "")</th><th>\(w["filtered"] ?? "")</th></tr></thead><tbody>\(lines.joined())</tbody></table></div>")
        }
        let names = try RunRoutes.artifacts(of: row, state: state)
        if !names.isEmpty {
            let links = names.map { "<li><a href=\"/files/runs/\(escapeURL(row.record.runID))/\(escapeURL($0))\">\(escape($0))</a></li>" }
            parts.append("<h2>\(escape(w["files"] ?? ""))</h2><ul class=\"files\">\(links.joined())</ul>")
        }
        if names.contains("rejects.csv"), let path = state.files.resolve(folder: row.record.outputDirectory, name: "rejects.csv"),
           let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let records = CSVRows.parse(text)
            if let header = records.first, records.count > 1 {
                let head = header.map { "<th>\(escape($0))</th>" }.joined()
                let body = records.dropFirst().prefix(100).map { "<tr>\($0.map { "<td>\(escape($0))</td>" }.joined())</tr>" }.joined()
                parts.append("<h2>\(escape(w["rejects"] ?? "")) (\(records.count - 1))</h2><div class=\"scroll\"><table class=\"rejects\"><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table></div>")
            }
        }
        return parts.joined(separator: "\n")
    }

    static func page(_ state: ServerState, session: Session, title: String, body: String, refresh: Bool = false) -> Response {
        let w = words(state)
        let nav = """
            <nav><a href="/">\(escape(w["pipelines"] ?? ""))</a> <a href="/runs">\(escape(w["history"] ?? ""))</a>
            <span class="who">\(escape(session.principal.name)) (\(escape(session.principal.role.rawValue)))</span>
            <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(session.csrf)"><button type="submit">\(escape(w["logout"] ?? ""))</button></form></nav>
            """
        return html(state, title: title, body: body, nav: nav, refresh: refresh)
    }

    static func html(_ state: ServerState, title: String, body: String, status: HTTPResponse.Status = .ok, nav: String, refresh: Bool = false) -> Response {
        let language = isFrench(state) ? "fr" : "en"
        let page = """
            <!DOCTYPE html>
            <html lang="\(language)"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            \(refresh ? "<meta http-equiv=\"refresh\" content=\"2\">" : "")
            <title>\(escape(title)) · stockflow</title><style>\(stylesheet)</style></head>
            <body><header><strong>stockflow</strong>\(nav)</header><main><h1>\(escape(title))</h1>
            \(body)
            </main></body></html>
            """
        return Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
    }

    static let stylesheet = """
        *{box-sizing:border-box}body{margin:0;font:16px/1.45 "DejaVu Sans",system-ui,sans-serif;color:#1d2733;background:#f4f6f8}
        header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#17324d;color:#fff}
        header a,header button{color:#fff}nav{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}nav form{margin:0}
        nav button{background:none;border:1px solid #fff;border-radius:4px;padding:.1rem .5rem;font:inherit;cursor:pointer}
        main{max-width:60rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.2rem 0 1rem;overflow-wrap:anywhere}
        h2{font-size:1.1rem;margin:.2rem 0}.card{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 3px #0002}
        .muted{color:#5a6877;margin:.1rem 0}.links a{overflow-wrap:anywhere}.status{display:inline-block;padding:.05rem .5rem;border-radius:1rem;background:#dde3ea}
        .status.succeeded{background:#d5f0dc}.status.failed,.status.too_many_rejects,.status.killed{background:#f8d7d7}.status.running{background:#fdf0c4}
        .error{color:#9b1c1c}.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
        th,td{border-bottom:1px solid #dde3ea;padding:.3rem .5rem;text-align:left;vertical-align:top}td{overflow-wrap:anywhere}
        .login{display:grid;gap:.8rem;max-width:22rem;background:#fff;padding:1rem;border-radius:8px}.login input{display:block;width:100%;padding:.4rem;font:inherit}
        button{font:inherit}.run-now,.login button{background:#17324d;color:#fff;border:0;border-radius:4px;padding:.45rem 1rem;cursor:pointer}
        iframe.report{width:100%;height:80vh;border:1px solid #dde3ea;background:#fff}ul.files{padding-left:1.2rem;overflow-wrap:anywhere}
        """

    // MARK: Words

    static func isFrench(_ state: ServerState) -> Bool {
        let locales = state.catalog.all().map(\.locale)
        return locales.isEmpty || locales.filter { $0.hasPrefix("fr") }.count * 2 >= locales.count
    }

    /// The portal's words in the pipelines' language, from the catalogue of words.
    static func words(_ state: ServerState) -> [String: String] {
        let french = isFrench(state)
        return MessageCatalogue.portalWords.mapValues { french ? $0.french : $0.english }
    }

    static func statusWord(_ status: String, _ words: [String: String]) -> String { words[status] ?? status }

    /// `2026-11-25T01:30:00Z` → `2026-11-25 01:30 UTC`.
    static func displayTime(_ iso: String) -> String {
        guard iso.count >= 16 else { return iso }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(5) + " UTC"
    }

    // MARK: Helpers

    /// An application/x-www-form-urlencoded body; 413 over the size limit.
    static func formBody(_ request: Request, context: ServerContext) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    static func escape(_ text: String) -> String { escapeXML(text) }

    static func escapeURL(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }
}
