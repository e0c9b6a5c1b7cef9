import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import StockflowCore
import Testing
@testable import StockflowServer

/// Records a finished run in the real state database, with outputs written into `out/<folder>`.
func recordRun(_ fixture: ServerFixture, id: String, pipeline: String = "nightly-inventory", folder: String = "nightly-inventory",
               files: [String: String], links: [String: URL] = [:], status: String = "succeeded") throws -> URL {
    let directory = fixture.folder.appendingPathComponent("out").appendingPathComponent(folder)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (name, content) in files { try Data(content.utf8).write(to: directory.appendingPathComponent(name)) }
    for (name, target) in links {
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent(name).path, withDestinationPath: target.path)
    }
    let history = try RunHistory(path: fixture.options.statePath)
    try history.begin(RunRecord(runID: id, pipeline: pipeline, asOf: "2026-11-25", started: "2026-11-25T01:30:00Z", trigger: "manual",
                                scheduledFor: nil, pid: 1, outputDirectory: directory.path))
    let outputs = (Array(files.keys) + Array(links.keys)).filter { !["rejects.csv", "findings.csv"].contains($0) }.sorted().map { directory.appendingPathComponent($0).path }
    let report: [String: Any] = [
        "pipeline": pipeline, "as_of": "2026-11-25", "started": "2026-11-25T01:30:00Z", "finished": "2026-11-25T01:30:05Z",
        "status": status, "exit_code": status == "succeeded" ? 0 : 1, "stages": [], "outputs": outputs, "rejects": 1, "findings": 0,
        "rejects_file": directory.appendingPathComponent("rejects.csv").path, "findings_file": directory.appendingPathComponent("findings.csv").path,
    ]
    let decoded = try JSONDecoder().decode(RunReport.self, from: JSONSerialization.data(withJSONObject: report))
    try history.finish(runID: id, report: decoded)
    return directory
}

@Suite struct APITests {
    static let pipelineYAML = """
        version: 1
        name: tiny
        description: Petit traitement
        schedule: {cron: "30 2 * * *", timezone: Europe/Paris}
        stages:
          rows: {extract: csv, path: rows.csv, columns: {a: int}}
          out: {load: csv, input: rows, path: "rows-{as_of}.csv"}
        """

    /// The stats answers and the latest workbook link are kept in memory, and a new successful run
    /// (another connection writing the history, as `stockflow run` does) replaces them at once.
    /// A server whose catalog holds the tiny pipeline, and the viewer claire.
    static func fixtureWithTinyPipeline() async throws -> ServerFixture {
        let fixture = try await ServerFixture()
        try Data(pipelineYAML.utf8).write(to: fixture.folder.appendingPathComponent("pipelines/tiny.yml"))
        try Data("a\n1\n".utf8).write(to: fixture.folder.appendingPathComponent("pipelines/rows.csv"))
        try fixture.addUser("claire", role: .viewer)
        return fixture
    }

    @Test func statsAndLatestLinkFollowANewRunAtOnceWithETags() async throws {
        let fixture = try await APITests.fixtureWithTinyPipeline()
        defer { fixture.remove() }
        @Sendable func report(_ value: String) -> String {
            #"{"as_of": "2026-11-25", "currency": "EUR", "kpis": [], "charts": [{"kind": "bar", "items": [{"label": "Vis", "values": ["\#(value)"]}]}]}"#
        }
        _ = try recordRun(fixture, id: "run-1", pipeline: "tiny", folder: "tiny",
                          files: ["rapport.json": report("12"), "rapport.html": "<p>1</p>", "book-1.xlsx": "first"])
        try await fixture.test { client in
            let token = try await obtain(client, "claire").access
            func stats(_ headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, String, String) {
                var fields = bearer(token)
                for field in headers { fields.append(field) }
                return try await client.execute(uri: "/api/stats/stock/?pipeline=tiny", method: .get, headers: fields) { response in
                    (response.status, String(buffer: response.body), response.headers[.eTag] ?? "")
                }
            }
            let (status, body, etag) = try await stats()
            #expect(status == .ok)
            #expect(body.contains("\"run_id\":\"run-1\"") && body.contains("\"12\""))
            #expect(etag.hasPrefix("\"") && etag.count == 34)
            let (again, _, sameTag) = try await stats()
            #expect(again == .ok && sameTag == etag)
            let (notModified, empty, _) = try await stats([.ifNoneMatch: etag])
            #expect(notModified == .notModified && empty.isEmpty)
            try await client.execute(uri: "/api/pipelines/tiny/latest/book-1.xlsx", method: .get, headers: bearer(token)) { response in
                #expect(String(buffer: response.body) == "first")
            }

            _ = try recordRun(fixture, id: "run-2", pipeline: "tiny", folder: "tiny",
                              files: ["rapport.json": report("13"), "rapport.html": "<p>2</p>", "book-2.xlsx": "second"])
            let (changed, newBody, newTag) = try await stats([.ifNoneMatch: etag])
            #expect(changed == .ok)
            #expect(newBody.contains("\"run_id\":\"run-2\"") && newBody.contains("\"13\""))
            #expect(newTag != etag)
            try await client.execute(uri: "/api/pipelines/tiny/latest/book-2.xlsx", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "second")
            }
            try await client.execute(uri: "/api/pipelines/tiny/latest/book-1.xlsx", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func artifactDownloadHasETagConditionalAndRange() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        _ = try recordRun(fixture, id: "run-1", files: ["inventaire-2026-11-25.xlsx": "0123456789", "rejects.csv": "stage,rule\norders,bad\n"])
        try await fixture.test { client in
            let token = try await obtain(client, "claire").access
            let etag = try await client.execute(uri: "/api/runs/run-1/artifacts/inventaire-2026-11-25.xlsx", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "0123456789")
                #expect(response.headers[.contentType] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                #expect(response.headers[.contentDisposition]?.contains("attachment; filename=\"inventaire-2026-11-25.xlsx\"") == true)
                return response.headers[.eTag] ?? ""
            }
            #expect(etag.hasPrefix("\""))
            var conditional = bearer(token)
            conditional[.ifNoneMatch] = etag
            try await client.execute(uri: "/api/pipelines/nightly-inventory/latest/inventaire-2026-11-25.xlsx", method: .get, headers: conditional) { response in
                // The pipeline file is not in the catalog folder: unknown pipeline.
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/runs/run-1/artifacts/inventaire-2026-11-25.xlsx", method: .get, headers: conditional) { response in
                #expect(response.status == .notModified)
                #expect(response.body.readableBytes == 0)
            }
            var ranged = bearer(token)
            ranged[.range] = "bytes=2-4"
            try await client.execute(uri: "/api/runs/run-1/artifacts/inventaire-2026-11-25.xlsx", method: .get, headers: ranged) { response in
                #expect(response.status == .partialContent)
                #expect(String(buffer: response.body) == "234")
                #expect(response.headers[.contentRange] == "bytes 2-4/10")
            }
            ranged[.range] = "bytes=50-60"
            try await client.execute(uri: "/api/runs/run-1/artifacts/inventaire-2026-11-25.xlsx", method: .get, headers: ranged) { response in
                #expect(response.status == .rangeNotSatisfiable)
            }
            // The bytes kept in memory follow the file: rewritten, it is served anew with a new ETag.
            try Data("abcdefghijklmnop".utf8).write(to: fixture.folder.appendingPathComponent("out/nightly-inventory/inventaire-2026-11-25.xlsx"))
            try await client.execute(uri: "/api/runs/run-1/artifacts/inventaire-2026-11-25.xlsx", method: .get, headers: conditional) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "abcdefghijklmnop")
                #expect(response.headers[.eTag] != etag)
            }
            try await client.execute(uri: "/api/runs/run-1/rejects", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .ok)
                #expect((json(response)["items"] as? [[String: String]])?.first?["rule"] == "bad")
            }
        }
    }

    @Test(arguments: ["..", "..%2F..%2Fstate%2Fstate.sqlite", "%2e%2e%2f%2e%2e%2fsecret.txt", "%2Fetc%2Fpasswd", "escape.txt", ".hidden", "sub%2F..%2F..%2Fsecret.txt"])
    func artifactNamesLeavingTheOutputFolderAre404(_ name: String) async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        try Data("secret".utf8).write(to: fixture.folder.appendingPathComponent("out/secret.txt"))
        try Data("outside".utf8).write(to: fixture.folder.appendingPathComponent("outside.txt"))
        // A symlink inside the run's folder leading out of the output folder, listed as an output.
        let directory = try recordRun(fixture, id: "run-1", files: ["report.html": "<p>ok</p>"],
                                      links: ["escape.txt": fixture.folder.appendingPathComponent("outside.txt")])
        try await fixture.test { client in
            let token = try await obtain(client, "claire").access
            try await client.execute(uri: "/api/runs/run-1/artifacts/\(name)", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .notFound)
                let text = String(buffer: response.body)
                #expect(!text.contains("outside") && !text.contains("secret") || text.contains("error"))
                #expect(!text.contains("root:"))
            }
        }
        #expect(fixture.state.files.resolve(folder: directory.path, name: "escape.txt") == nil)
        #expect(fixture.state.files.resolve(folder: directory.path, name: "report.html") != nil)
    }

    @Test func viewerCannotTriggerAndUnknownThingsAre404() async throws {
        let fixture = try await APITests.fixtureWithTinyPipeline()
        defer { fixture.remove() }
        try await fixture.test { client in
            let token = try await obtain(client, "claire").access
            try await client.execute(uri: "/api/pipelines/tiny/runs", method: .post, headers: bearer(token), body: jsonBody([:])) { response in
                #expect(response.status == .forbidden)
                #expect(errorCode(response) == "forbidden")
            }
            try await client.execute(uri: "/api/pipelines/tiny", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .ok)
                #expect((json(response)["next_runs"] as? [String])?.count == 3)
            }
            for uri in ["/api/pipelines/nope", "/api/runs/nope", "/api/runs/nope/artifacts", "/api/runs/nope/wait?timeout=0", "/api/nothing-here"] {
                try await client.execute(uri: uri, method: .get, headers: bearer(token)) { response in
                    #expect(response.status == .notFound, "\(uri)")
                    #expect(errorCode(response) == "not_found", "\(uri)")
                }
            }
        }
    }

    @Test func bodiesOverTheLimitAre413AndBadJSONIs400NamingTheField() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try await fixture.test { client in
            let big = ByteBuffer(string: "{\"username\": \"" + String(repeating: "x", count: 64 * 1024) + "\"}")
            try await client.execute(uri: "/api/token/", method: .post, body: big) { response in
                #expect(response.status == .contentTooLarge)
                #expect(errorCode(response) == "body_too_large")
            }
            try await client.execute(uri: "/api/token/", method: .post, body: ByteBuffer(string: "{\"username\": ")) { response in
                #expect(response.status == .badRequest)
                #expect(errorCode(response) == "malformed_json")
            }
            try await client.execute(uri: "/api/token/", method: .post, body: jsonBody(["username": 42, "password": "x"])) { response in
                #expect(response.status == .badRequest)
                #expect((json(response)["error"] as? [String: Any])?["message"] as? String == "field 'username' must be a string")
            }
            try await client.execute(uri: "/api/token/", method: .post, body: jsonBody(["username": "a"])) { response in
                #expect(response.status == .badRequest)
                #expect(((json(response)["error"] as? [String: Any])?["message"] as? String)?.contains("'password'") == true)
            }
        }
    }

    @Test func corsIsClosedUnlessConfigured() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try await fixture.test { client in
            try await client.execute(uri: "/api/token/", method: .options, headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/healthz", method: .get, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }

    @Test func runsListPagesWithACursor() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        for index in 1...3 { _ = try recordRun(fixture, id: "run-\(index)", files: ["a.csv": "x"]) }
        try await fixture.test { client in
            let token = try await obtain(client, "claire").access
            let cursor = try await client.execute(uri: "/api/runs?limit=2", method: .get, headers: bearer(token)) { response in
                let object = json(response)
                #expect((object["items"] as? [[String: Any]])?.map { $0["id"] as? String ?? "" } == ["run-3", "run-2"])
                return object["next_cursor"] as? String ?? ""
            }
            try await client.execute(uri: "/api/runs?limit=2&cursor=\(cursor)", method: .get, headers: bearer(token)) { response in
                let object = json(response)
                #expect((object["items"] as? [[String: Any]])?.map { $0["id"] as? String ?? "" } == ["run-1"])
                #expect(object["next_cursor"] is NSNull)
            }
            try await client.execute(uri: "/api/runs?limit=0", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/runs/run-1/artifacts", method: .get, headers: bearer(token)) { response in
                // run-3 wrote a.csv later into the same folder: run-1's copy is gone.
                #expect((json(response)["items"] as? [[String: Any]])?.isEmpty == true)
            }
        }
    }
}
