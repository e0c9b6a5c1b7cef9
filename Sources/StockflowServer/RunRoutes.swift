import Foundation
import Hummingbird
import StockflowCore

/// `GET /api/runs…`: history, one run's figures, its rejects, findings, log and artifacts;
/// waiting for a run and cancelling it.
enum RunRoutes {
    static let statuses = ["running", "succeeded", "failed", "too_many_rejects", "cancelled", "killed"]

    static func add(to router: Router<ServerContext>, state: ServerState) {
        router.get("/api/runs") { request, _ in
            _ = try await state.require(.viewer, request)
            let query = request.uri.queryParameters
            let limit = try intParameter(query["limit"].map(String.init), "limit", default: 20, range: 1...200)
            let status = query["status"].map(String.init)
            if let status, !statuses.contains(status) {
                throw APIError(.badRequest, "invalid_parameter", "parameter 'status' must be one of \(statuses.joined(separator: ", "))")
            }
            let since = query["since"].map(String.init)
            if let since, parseISO8601(since) == nil {
                throw APIError(.badRequest, "invalid_parameter", "parameter 'since' must be an ISO 8601 UTC time like 2026-11-25T00:00:00Z")
            }
            let cursor = try query["cursor"].map { text -> Int64 in
                guard text.hasPrefix("r"), let value = Int64(text.dropFirst()), value > 0 else {
                    throw APIError(.badRequest, "invalid_parameter", "parameter 'cursor' is not a cursor this server gave")
                }
                return value
            }
            let rows = try state.runs.list(pipeline: query["pipeline"].map(String.init), status: status, since: since,
                                           limit: limit + 1, before: cursor)
            let page = rows.prefix(limit)
            let next: Any = rows.count > limit ? "r\(page.last?.rowID ?? 0)" : NSNull()
            return jsonResponse(["items": page.map { $0.json(includeReport: false) }, "next_cursor": next])
        }
        router.get("/api/runs/:id") { request, context in
            _ = try await state.require(.viewer, request)
            return jsonResponse(try run(context, state).json(includeReport: true))
        }
        router.get("/api/runs/:id/rejects") { request, context in
            _ = try await state.require(.viewer, request)
            return try rowsPage(request, run: try run(context, state), file: "rejects", state: state)
        }
        router.get("/api/runs/:id/findings") { request, context in
            _ = try await state.require(.viewer, request)
            return try rowsPage(request, run: try run(context, state), file: "findings", state: state)
        }
        router.get("/api/runs/:id/log") { request, context in
            _ = try await state.require(.viewer, request)
            let row = try run(context, state)
            guard let path = state.starter.logPath(runID: row.record.runID) else {
                throw APIError.notFound("no log kept for run \(row.record.runID): only runs started by this server keep one")
            }
            return try await state.files.response(path: path, name: "\(row.record.runID).log", request: request, context: context, inline: true)
        }
        router.get("/api/runs/:id/artifacts") { request, context in
            _ = try await state.require(.viewer, request)
            let row = try run(context, state)
            let items: [[String: Any]] = try artifacts(of: row, state: state).map { name in
                ["name": name, "url": "/api/runs/\(row.record.runID)/artifacts/\(name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name)",
                 "content_type": ArtifactFiles.contentType(name)]
            }
            return jsonResponse(["items": items])
        }
        router.get("/api/runs/:id/artifacts/:artifact") { request, context in
            _ = try await state.require(.viewer, request)
            let row = try run(context, state)
            let name = try PipelineRoutes.artifactName(context)
            let path = try artifactPath(row, name: name, state: state)
            return try await state.files.response(path: path, name: name, request: request, context: context)
        }
        router.get("/api/runs/:id/wait") { request, context in
            _ = try await state.require(.viewer, request)
            let timeout = try intParameter(request.uri.queryParameters["timeout"].map(String.init), "timeout", default: 30, range: 0...600)
            let id = try run(context, state).record.runID
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while true {
                guard let row = try state.runs.run(id: id) else { throw APIError.notFound("no run '\(id)'") }
                if row.record.status != "running" || Date() >= deadline { return jsonResponse(row.json(includeReport: true)) }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        router.post("/api/runs/:id/cancel") { request, context in
            _ = try await state.require(.operator, request)
            let row = try run(context, state)
            guard row.record.status == "running" else {
                throw APIError(.conflict, "run_finished", "run \(row.record.runID) is not running (\(row.record.status))")
            }
            if !state.starter.cancel(runID: row.record.runID) {
                // Started elsewhere: signalled only when its process is proven to be that run.
                let file = state.catalog.entry(named: row.record.pipeline)?.file
                if let refusal = ForeignRun.cancel(row, pipelineFile: file, stateFolder: state.starter.stateFolder) {
                    throw APIError(.conflict, "not_cancellable", "run \(row.record.runID) cannot be stopped from here: \(refusal)")
                }
                state.logger.notice("SIGTERM sent to a run not started by this server", metadata: ["run_id": "\(row.record.runID)", "pid": "\(row.record.pid)"])
            }
            return jsonResponse(["id": row.record.runID, "status": "cancelling"], status: .accepted)
        }
    }

    /// The run named in the path; 404 when unknown.
    static func run(_ context: ServerContext, _ state: ServerState) throws -> RunRow {
        let id = context.parameters.get("id") ?? ""
        guard let row = try state.runs.run(id: id) else { throw APIError.notFound("no run '\(id)'") }
        return row
    }

    /// The files of a run still in its output folder: its committed outputs that no later run
    /// replaced, and its rejects and findings while it is the folder's newest run.
    /// The table (which later run replaced which output) is kept until the history changes; each
    /// file is still looked for and resolved on every call.
    static func artifacts(of row: RunRow, state: ServerState) throws -> [String] {
        let folder = row.record.outputDirectory
        let names = try state.runs.remembered("artifacts\u{0}" + row.record.runID) { () throws -> [String] in
            var names = try row.outputs.filter { try state.runs.newestWriter(folder: folder, output: $0)?.record.runID == row.record.runID }
            if try state.runs.newestWriter(folder: folder, output: nil)?.record.runID == row.record.runID {
                names += ["rejects.csv", "findings.csv", "run.json"]
            }
            return names
        }
        return names.filter { state.files.resolve(folder: folder, name: $0) != nil }
    }

    /// The real path of one artifact of a run; 404 for any name not among its artifacts or
    /// resolving outside the output folder.
    static func artifactPath(_ row: RunRow, name: String, state: ServerState) throws -> String {
        guard ArtifactFiles.isSafeRelativeName(name), try artifacts(of: row, state: state).contains(name),
              let path = state.files.resolve(folder: row.record.outputDirectory, name: name) else {
            throw APIError.notFound("run \(row.record.runID) has no artifact by that name")
        }
        return path
    }

    /// A page of rows of the run's rejects or findings file: `{columns, items, next_cursor}`.
    static func rowsPage(_ request: Request, run row: RunRow, file: String, state: ServerState) throws -> Response {
        let query = request.uri.queryParameters
        let limit = try intParameter(query["limit"].map(String.init), "limit", default: 100, range: 1...1000)
        let offset = try intParameter(query["cursor"].map(String.init), "cursor", default: 0, range: 0...Int(Int32.max))
        guard let path = try? artifactPath(row, name: file + ".csv", state: state),
              let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw APIError.notFound("the \(file) of run \(row.record.runID) are no longer in its output folder (a later run replaced them)")
        }
        let records = CSVRows.parse(text)
        let columns = records.first ?? []
        let body = records.dropFirst()
        let page = body.dropFirst(offset).prefix(limit)
        let items = page.map { values in
            Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0 < values.count ? values[$0] : "") })
        }
        let next: Any = offset + page.count < body.count ? String(offset + page.count) : NSNull()
        return jsonResponse(["columns": columns, "items": items, "total": body.count, "next_cursor": next])
    }

    /// An integer query parameter within `range`; 400 naming it otherwise.
    static func intParameter(_ text: String?, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError(.badRequest, "invalid_parameter", "parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// RFC 4180 records (the rejects and findings files stockflow writes).
enum CSVRows {
    static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": quoted = true
            case ",": record.append(field); field = ""
            case "\r": break
            case "\n":
                record.append(field)
                records.append(record)
                record = []
                field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}
