import Foundation
import Hummingbird
import StockflowCore

/// `GET /api/pipelines`, `GET /api/pipelines/{name}`, the latest artifact link and triggering.
enum PipelineRoutes {
    static func add(to router: Router<ServerContext>, state: ServerState) {
        router.get("/api/pipelines") { request, _ in
            _ = try await state.require(.viewer, request)
            return jsonResponse(["items": try state.catalog.all().map { try summary($0, state: state) }])
        }
        router.get("/api/pipelines/:name") { request, context in
            _ = try await state.require(.viewer, request)
            return jsonResponse(try summary(try pipeline(context, state), state: state))
        }
        router.get("/api/pipelines/:name/latest/:artifact") { request, context in
            _ = try await state.require(.viewer, request)
            let entry = try pipeline(context, state)
            let name = try artifactName(context)
            let latest = try state.runs.remembered("latest-success\u{0}" + entry.name) { try state.runs.latest(pipeline: entry.name, status: "succeeded") }
            guard let run = latest else {
                throw APIError.notFound("pipeline '\(entry.name)' has no successful run yet")
            }
            let path = try RunRoutes.artifactPath(run, name: name, state: state)
            return try await state.files.response(path: path, name: name, request: request, context: context)
        }
        router.post("/api/pipelines/:name/runs") { request, context in
            _ = try await state.require(.operator, request)
            let entry = try pipeline(context, state)
            let body = try await jsonBody(request, context: context)
            let asOf = try stringField(body, "as_of", required: false)
            if let asOf, CivilDate(iso: asOf) == nil {
                throw APIError(.badRequest, "invalid_field", "field 'as_of' must be a date like 2026-11-25")
            }
            let key = try stringField(body, "idempotency_key", required: false)
            let runID = try await state.starter.start(entry, asOf: asOf, idempotencyKey: key)
            let location = "/api/runs/\(runID)"
            return jsonResponse(["id": runID, "status": "running", "location": location], status: .accepted,
                                headers: [.location: location])
        }
    }

    /// The pipeline named in the path; 404 when unknown.
    static func pipeline(_ context: ServerContext, _ state: ServerState) throws -> PipelineEntry {
        let name = context.parameters.get("name") ?? ""
        guard let entry = state.catalog.entry(named: name) else { throw APIError.notFound("no pipeline '\(name)'") }
        return entry
    }

    /// The artifact name in the path, percent-decoded.
    static func artifactName(_ context: ServerContext) throws -> String {
        let raw = context.parameters.get("artifact") ?? context.parameters.get("name") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    static func summary(_ entry: PipelineEntry, state: ServerState) throws -> [String: Any] {
        var object: [String: Any] = ["name": entry.name, "description": entry.description ?? NSNull(), "locale": entry.locale]
        if let schedule = entry.schedule {
            var fires: [String] = []
            var cursor = Date()
            for _ in 0..<3 {
                guard let next = schedule.nextFire(after: cursor) else { break }
                fires.append(isoText(next))
                cursor = next
            }
            object["schedule"] = ["cron": schedule.cron.text, "timezone": schedule.timeZone.identifier]
            object["next_runs"] = fires
        } else {
            object["schedule"] = NSNull()
            object["next_runs"] = []
        }
        object["last_run"] = try state.runs.latest(pipeline: entry.name).map { $0.json(includeReport: false) } ?? NSNull()
        object["last_success"] = try state.runs.latest(pipeline: entry.name, status: "succeeded").map { $0.json(includeReport: false) } ?? NSNull()
        return object
    }
}
