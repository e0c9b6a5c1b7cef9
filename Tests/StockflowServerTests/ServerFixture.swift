import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StockflowCore
@testable import StockflowServer

/// A server over a temporary state database and output folder, driven without a socket.
struct ServerFixture {
    let folder: URL
    let options: ServerOptions
    let state: ServerState

    static let secret = Array("a test signing key of at least thirty-two bytes".utf8)

    init(pipelines: String? = nil) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("stockflow-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("out"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("pipelines"), withIntermediateDirectories: true)
        var options = ServerOptions(pipelinesDirectory: pipelines ?? folder.appendingPathComponent("pipelines").path,
                                    outputRoot: folder.appendingPathComponent("out").path,
                                    statePath: folder.appendingPathComponent("state/state.sqlite").path,
                                    secret: ServerFixture.secret, runExecutable: "/bin/false")
        options.openAPIPath = nil
        self.options = options
        // bcrypt at cost 4 only here, through the explicit test-only setting.
        state = try await ServerState(options: options, logger: Logger(label: "test"),
                                      environment: ["STOCKFLOW_TEST_INSECURE_BCRYPT_COST": "4"])
    }

    /// Runs `body` against the router.
    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: StockflowServer.router(state))
        try await application.test(.router) { client in try await body(client) }
    }

    /// Adds a user and returns a fresh access/refresh pair for them.
    func addUser(_ name: String, role: Role, password: String = "correct horse battery") throws {
        try state.auth.addUser(name: name, role: role, password: password)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// A JSON request body.
func jsonBody(_ object: [String: Any]) -> ByteBuffer {
    ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
}

/// A response body as a JSON object.
func json(_ response: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
}

/// The error code of a JSON error response.
func errorCode(_ response: TestResponse) -> String? {
    (json(response)["error"] as? [String: Any])?["code"] as? String
}

/// Obtains a token pair over the API.
func obtain(_ client: any TestClientProtocol, _ name: String, _ password: String = "correct horse battery") async throws -> (access: String, refresh: String) {
    try await client.execute(uri: "/api/token/", method: .post, headers: [.contentType: "application/json"],
                             body: jsonBody(["username": name, "password": password])) { response in
        let object = json(response)
        return (object["access"] as? String ?? "", object["refresh"] as? String ?? "")
    }
}

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }
