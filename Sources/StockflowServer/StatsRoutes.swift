import Foundation
import Hummingbird
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
                return jsonResponse(bytes: try state.stats.answer(endpoint.path, pipeline: pipeline, catalog: state.catalog),
                                    headers: [.cacheControl: "private, max-age=0"])
            }
            router.get(RouterPath("/api/stats/\(endpoint.path)/"), use: handler)
        }
    }
}

/// The encoded stats answers per pipeline, valid while its latest successful run is the same.
final class StatsCache: @unchecked Sendable {
    private struct Entry {
        var checked: Date
        var runID: String
        var answers: [String: Data]
    }

    private let runs: RunQueries
    private let files: ArtifactFiles
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var defaultPipeline: (checked: Date, name: String?)?
    /// How long an answer is served before the history is asked again for a newer run.
    private let recheck: TimeInterval = 1

    init(runs: RunQueries, files: ArtifactFiles) {
        self.runs = runs
        self.files = files
    }

    /// The JSON of `endpoint` for `pipeline` (by default the first pipeline whose latest successful
    /// run has report data).
    func answer(_ endpoint: String, pipeline: String?, catalog: PipelineCatalog) throws -> Data {
        let now = Date()
        let name: String
        if let pipeline {
            name = pipeline
        } else if let cached = lock.withLock({ defaultPipeline }), now.timeIntervalSince(cached.checked) < recheck, let cachedName = cached.name {
            name = cachedName
        } else {
            let found = catalog.all().first { (try? reportData(pipeline: $0.name)) != nil }?.name
            lock.withLock { defaultPipeline = (now, found) }
            guard let found else { throw APIError.notFound("no pipeline has a successful run with report data yet") }
            name = found
        }
        if let entry = lock.withLock({ entries[name] }), now.timeIntervalSince(entry.checked) < recheck, let data = entry.answers[endpoint] {
            return data
        }
        guard let found = try reportData(pipeline: name) else {
            throw APIError.notFound("pipeline '\(name)' has no successful run with report data")
        }
        let (runID, document) = found
        if let entry = lock.withLock({ entries[name] }), entry.runID == runID, let data = entry.answers[endpoint] {
            lock.withLock { entries[name]?.checked = now }
            return data
        }
        let charts = (document["charts"] as? [[String: Any]]) ?? []
        var answers: [String: Data] = [:]
        for (path, wanted) in StatsRoutes.endpoints {
            let chart = wanted.lazy.compactMap { kind in charts.first { $0["kind"] as? String == kind } }.first
            let object: [String: Any] = [
                "pipeline": name, "run_id": runID, "as_of": document["as_of"] ?? NSNull(),
                "currency": document["currency"] ?? NSNull(), "kpis": document["kpis"] ?? [], "chart": chart ?? NSNull(),
            ]
            answers[path] = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        }
        lock.withLock { entries[name] = Entry(checked: now, runID: runID, answers: answers) }
        guard let data = answers[endpoint] else { throw APIError.notFound("no such statistics") }
        return data
    }

    /// The report data of the latest successful run of `pipeline`, with the run's id.
    private func reportData(pipeline: String) throws -> (String, [String: Any])? {
        guard let row = try runs.latest(pipeline: pipeline, status: "succeeded") else { return nil }
        guard let name = row.outputs.first(where: { $0.hasSuffix(".json") && row.outputs.contains(String($0.dropLast(5)) + ".html") }),
              let path = files.resolve(folder: row.record.outputDirectory, name: name),
              let data = FileManager.default.contents(atPath: path),
              let document = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return (row.record.runID, document)
    }
}
