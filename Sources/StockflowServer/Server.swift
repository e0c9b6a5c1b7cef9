import Foundation
import Hummingbird
import Logging
import NIOCore
import StockflowCore

/// How `stockflow serve` was started.
public struct ServerOptions: Sendable {
    /// Folder of pipeline files.
    public var pipelinesDirectory: String
    /// Output folder: each pipeline's runs write into `<out>/<pipeline>`; nothing outside it is served.
    public var outputRoot: String
    /// The state database (run history, users, keys, refresh tokens).
    public var statePath: String
    /// The HMAC-SHA256 signing key (at least 32 bytes).
    public var secret: [UInt8]
    /// Access token lifetime, seconds.
    public var accessLifetime: TimeInterval = 15 * 60
    /// Refresh token lifetime, seconds.
    public var refreshLifetime: TimeInterval = 7 * 24 * 3600
    /// Portal session lifetime, seconds.
    public var sessionLifetime: TimeInterval = 8 * 3600
    /// Origins allowed by CORS; none by default (CORS closed).
    public var corsOrigins: [String] = []
    /// The executable that runs pipelines (`stockflow`), and arguments added to each `run` (the
    /// state database's among them).
    public var runExecutable: String
    public var runArguments: [String]
    /// Mark the session cookie Secure (the server is behind TLS).
    public var secureCookies = false
    /// The OpenAPI file served at /api/openapi.yaml.
    public var openAPIPath: String?

    public init(pipelinesDirectory: String, outputRoot: String, statePath: String, secret: [UInt8], runExecutable: String) {
        self.pipelinesDirectory = pipelinesDirectory
        self.outputRoot = outputRoot
        self.statePath = statePath
        self.secret = secret
        self.runExecutable = runExecutable
        runArguments = ["--state", statePath]
    }

    /// The smallest signing key accepted.
    public static let minimumSecretBytes = 32
}

/// Everything the handlers share.
final class ServerState: Sendable {
    let options: ServerOptions
    let auth: AuthStore
    let signer: TokenSigner
    /// Failed logins per user name (5 in 5 minutes lock it for a minute) and per client address
    /// (20: an office behind one address has several people).
    let userThrottle = LoginThrottle(limit: 5)
    let clientThrottle = LoginThrottle(limit: 20)
    let catalog: PipelineCatalog
    let runs: RunQueries
    let starter: RunStarter
    let files: ArtifactFiles
    let stats: StatsCache
    let metrics = RequestMetrics()
    let logger: Logger

    init(options: ServerOptions, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        self.options = options
        self.logger = logger
        auth = try AuthStore(path: options.statePath, environment: environment)
        signer = await TokenSigner(secret: options.secret, accessLifetime: options.accessLifetime)
        catalog = PipelineCatalog(directory: options.pipelinesDirectory)
        runs = try RunQueries(path: options.statePath)
        files = ArtifactFiles(outputRoot: options.outputRoot)
        starter = RunStarter(options: options, runs: runs, logger: logger)
        stats = StatsCache(runs: runs, files: files)
    }

    /// The principal of a request bearing `Authorization: Bearer <JWT or API key>`, or nil.
    func principal(bearer token: String, type: String = "access") async -> Principal? {
        do {
            if token.hasPrefix("sfk_") {
                guard let key = try auth.currentKey(token, now: Date()) else { return nil }
                return Principal(name: key.name, role: key.role, kind: .key, family: nil)
            }
            guard let claims = try? await signer.verify(token, type: type) else { return nil }
            // The user must still exist with the same password, and the family must not be logged out.
            guard let user = try auth.currentUser(named: claims.sub.value, version: claims.ver, family: claims.fam) else { return nil }
            return Principal(name: user.name, role: user.role, kind: .user, family: claims.fam)
        } catch {
            // The state database failing is no reason to let a request in, nor to hide why it was refused.
            logger.error("cannot check credentials in the state database: \(error)")
            return nil
        }
    }

    /// The request's principal with at least `role`; 401 without credentials, 403 with too few rights.
    func require(_ role: Role, _ request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              let principal = await principal(bearer: String(header.dropFirst(7).trimmingBlanks())) else {
            throw APIError.unauthorized
        }
        guard principal.role >= role else { throw APIError.forbidden(role) }
        return principal
    }
}

/// Builds the HTTP application of `stockflow serve`.
public enum StockflowServer {
    /// The application serving the API and the portal at `host:port`.
    public static func application(options: ServerOptions, host: String, port: Int, logger: Logger,
                                   onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> some ApplicationProtocol {
        let state = try await ServerState(options: options, logger: logger)
        return Application(
            router: router(state),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "stockflow"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The router, for tests that drive it without a socket.
    static func router(_ state: ServerState) -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: ErrorShapeMiddleware(metrics: state.metrics))
        router.add(middleware: SecurityHeadersMiddleware(corsOrigins: state.options.corsOrigins))
        router.get("/healthz") { _, _ in jsonResponse(["status": "ok"]) }
        router.get("/metrics") { _, _ in
            // The run figures come from the history itself, so they need no --metrics-file.
            let latest = try state.runs.latestReports()
            let text = RunMetrics.text(latest: latest.reports, lastSuccess: latest.lastSuccess) + state.metrics.text()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/api/openapi.yaml") { _, _ in
            guard let path = state.options.openAPIPath, let data = FileManager.default.contents(atPath: path) else {
                throw APIError.notFound("the OpenAPI file is not installed beside this server")
            }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        AuthRoutes.add(to: router, state: state)
        PipelineRoutes.add(to: router, state: state)
        RunRoutes.add(to: router, state: state)
        StatsRoutes.add(to: router, state: state)
        Portal.add(to: router, state: state)
        return router
    }
}

/// Security headers on every response; CORS only for the configured origins (closed by default).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let corsOrigins: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        let allowed = origin.map { corsOrigins.contains($0) } ?? false
        if request.method == .options, origin != nil {
            guard allowed, let origin else {
                return jsonResponse(["error": ["code": "cors_refused", "message": "cross-origin requests are not allowed from this origin"]], status: .forbidden)
            }
            return Response(status: .noContent, headers: [
                .accessControlAllowOrigin: origin, .accessControlAllowMethods: "GET, POST",
                .accessControlAllowHeaders: "Authorization, Content-Type", .accessControlMaxAge: "600", .vary: "Origin",
            ])
        }
        var response = try await next(request, context)
        if allowed, let origin {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.xFrameOptions] == nil { response.headers[.xFrameOptions] = "DENY" }
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }
}

/// The request body as a JSON object; 400 when it is not one, 413 when over the limit.
func jsonBody(_ request: Request, context: ServerContext) async throws -> [String: Any] {
    let buffer = try await request.body.collect(upTo: context.maxUploadSize)
    if buffer.readableBytes == 0 { return [:] }
    guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) else {
        throw APIError(.badRequest, "malformed_json", "the request body is not valid JSON")
    }
    guard let fields = object as? [String: Any] else {
        throw APIError(.badRequest, "malformed_json", "the request body must be a JSON object")
    }
    return fields
}

/// A string field of a JSON body: 400 naming the field when it is missing (and required) or not a string.
func stringField(_ body: [String: Any], _ name: String, required: Bool = true) throws -> String? {
    guard let value = body[name], !(value is NSNull) else {
        if required { throw APIError(.badRequest, "invalid_field", "field '\(name)' is required") }
        return nil
    }
    guard let text = value as? String else {
        throw APIError(.badRequest, "invalid_field", "field '\(name)' must be a string")
    }
    guard text.utf8.count <= 4096 else { throw APIError(.badRequest, "invalid_field", "field '\(name)' is too long") }
    return text
}
