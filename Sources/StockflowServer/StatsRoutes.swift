import Foundation
import Hummingbird
import NIOCore
import StockflowCore

/// The dashboard's endpoints, answered from the JSON a successful run's report left beside its
/// outputs (the nightly run is the cache): no source is read, and the encoded answer is kept in
/// memory until a newer successful run appears.
enum StatsRoutes {
    /// Endpoint → the chart kinds it serves, in order of preference.
    static let endpoints: [(path: String, kinds: [String])] = [
        ("stock", ["bar"]), ("orders", ["line"]), ("suppliers", ["donut", "pie"]), ("stock-value", ["gauge"]),
    ]

    static func add(to router: Router<ServerContext>, state: ServerState) {
        for endpoint in endpoints {
            let handler: @Sendable (Request, ServerContext) async throws -> Response = { request, _ in
                _ = try await state.require(.viewer, request)
                let pipeline = request.uri.queryParameters["pipeline"].map(String.init)
                let answer = try state.stats.answer(endpoint.path, pipeline: pipeline, catalog: state.catalog)
                let headers: HTTPFields = [.cacheControl: "private, no-cache", .eTag: answer.etag]
                if ArtifactFiles.matches(request, etag: answer.etag) {
                    return Response(status: .notModified, headers: headers)
                }
                return jsonResponse(bytes: answer.bytes, headers: headers)
            }
            router.get(RouterPath("/api/stats/\(endpoint.path)/"), use: handler)
        }
    }
}

/// One encoded stats answer and its strong ETag.
struct StatsAnswer: Sendable {
    var bytes: ByteBuffer
    var etag: String
}

/// The encoded stats answers per pipeline, built once per successful run and kept until the state
/// database changes (a new run landing); then kept again at once when the latest successful run is
/// still the same.
final class StatsCache: @unchecked Sendable {
    private let runs: RunQueries
    private let files: ArtifactFiles
    private let lock = NSLock()
    /// The answers built, by pipeline: reused while its latest successful run is the same.
    private var built: [String: (runID: String, answers: [String: StatsAnswer])] = [:]
    private var defaultPipeline: (checked: Date, name: String?)?
    /// How long the default pipeline is kept before the catalog (files, not history) is asked again.
    private let recheck: TimeInterval = 5

    init(runs: RunQueries, files: ArtifactFiles) {
        self.runs = runs
        self.files = files
    }

    /// The answer of `endpoint` for `pipeline` (by default the first pipeline whose latest successful
    /// run has report data).
    func answer(_ endpoint: String, pipeline: String?, catalog: PipelineCatalog) throws -> StatsAnswer {
        let name: String
        if let pipeline {
            name = pipeline
        } else {
            let now = Date()
            if let cached = lock.withLock({ defaultPipeline }), now.timeIntervalSince(cached.checked) < recheck,
               let cachedName = cached.name, try answers(pipeline: cachedName) != nil {
                name = cachedName
            } else {
                let found = try catalog.all().first { try answers(pipeline: $0.name) != nil }?.name
                lock.withLock { defaultPipeline = (now, found) }
                guard let found else { throw APIError.notFound("no pipeline has a successful run with report data yet") }
                name = found
            }
        }
        guard let answers = try answers(pipeline: name) else {
            throw APIError.notFound("pipeline '\(name)' has no successful run with report data")
        }
        guard let answer = answers[endpoint] else { throw APIError.notFound("no such statistics") }
        return answer
    }

    /// Every endpoint's answer for `pipeline`, nil when it has no successful run with report data.
    private func answers(pipeline name: String) throws -> [String: StatsAnswer]? {
        try runs.remembered("stats\u{0}" + name) { () throws -> [String: StatsAnswer]? in
            guard let row = try runs.latest(pipeline: name, status: "succeeded") else { return nil }
            let runID = row.record.runID
            if let known = lock.withLock({ built[name] }), known.runID == runID { return known.answers }
            guard let document = reportData(row) else { return nil }
            let charts = (document["charts"] as? [[String: Any]]) ?? []
            var answers: [String: StatsAnswer] = [:]
            for (path, wanted) in StatsRoutes.endpoints {
                let chart = wanted.lazy.compactMap { kind in charts.first { $0["kind"] as? String == kind } }.first
                let object: [String: Any] = [
                    "pipeline": name, "run_id": runID, "as_of": document["as_of"] ?? NSNull(),
                    "currency": document["currency"] ?? NSNull(), "kpis": document["kpis"] ?? [], "chart": chart ?? NSNull(),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                answers[path] = StatsAnswer(bytes: ByteBuffer(bytes: data), etag: ArtifactFiles.etag(of: data))
            }
            lock.withLock { built[name] = (runID, answers) }
            return answers
        }
    }

    /// The report data of a successful run: the JSON beside its HTML report.
    private func reportData(_ row: RunRow) -> [String: Any]? {
        guard let name = row.outputs.first(where: { $0.hasSuffix(".json") && row.outputs.contains(String($0.dropLast(5)) + ".html") }),
              let path = files.resolve(folder: row.record.outputDirectory, name: name),
              let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
