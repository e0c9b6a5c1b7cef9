import Foundation
import Hummingbird
import NIOCore

/// Who is making a request, once authenticated.
struct Principal: Sendable {
    enum Kind: String, Sendable { case user, key }
    var name: String
    var role: Role
    var kind: Kind
    /// The refresh family of a user's token (nil for keys).
    var family: String?
}

/// The request context: Hummingbird's core storage and the client's address.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's IP address, for the login throttle.
    var clientAddress: String
    /// Request bodies are small JSON documents or forms: larger ones get 413.
    var maxUploadSize: Int { 16 * 1024 }

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// An error answered as `{"error": {"code", "message"}}` with its status.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = jsonResponse(["error": ["code": code, "message": message]], status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid access token or API key is required",
                                       headers: [.wwwAuthenticate: "Bearer realm=\"stockflow\""])
    static func forbidden(_ needed: Role) -> APIError {
        APIError(.forbidden, "forbidden", "this needs the \(needed.rawValue) role")
    }
}

/// A JSON response of `object` (dictionaries, arrays, strings, numbers, NSNull), keys sorted.
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return jsonResponse(bytes: data, status: status, headers: headers)
}

/// A JSON response of already encoded bytes.
func jsonResponse(bytes: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    jsonResponse(bytes: ByteBuffer(bytes: bytes), status: status, headers: headers)
}

/// A JSON response of a buffer kept in memory (shared, not copied).
func jsonResponse(bytes: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    if fields[.cacheControl] == nil { fields[.cacheControl] = "no-store" }
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: bytes))
}

/// Turns every error into the JSON error shape: Hummingbird's own (404 route, 413 body) keep their
/// status; anything else is a 500 that says nothing of its cause (which goes to the server's log).
struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RequestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var status: HTTPResponse.Status = .internalServerError
        defer {
            let elapsed = ContinuousClock.now - start
            metrics.record(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status.code, elapsed: elapsed)
        }
        do {
            let response = try await next(request, context)
            status = response.status
            return response
        } catch let error as APIError {
            status = error.status
            return try error.response(from: request, context: context)
        } catch let error as HTTPResponseError {
            status = error.status
            let code = error.status == .contentTooLarge ? "body_too_large" : error.status == .notFound ? "not_found" : "http_\(error.status.code)"
            let message = error.status == .contentTooLarge ? "the request body is over the size limit"
                : error.status == .notFound ? "no such resource" : error.status.reasonPhrase
            return try APIError(error.status, code, message).response(from: request, context: context)
        } catch {
            context.logger.error("internal error on \(request.method) \(request.uri.path): \(String(reflecting: type(of: error)))")
            status = .internalServerError
            return try APIError(.internalServerError, "internal", "internal server error").response(from: request, context: context)
        }
    }
}

/// Request counts and latencies per route, for /metrics.
final class RequestMetrics: @unchecked Sendable {
    struct Key: Hashable { var route: String; var method: String; var status: Int }
    private var counts: [Key: Int] = [:]
    private var seconds: [Key: Double] = [:]
    private let lock = NSLock()

    func record(route: String, method: String, status: Int, elapsed: Duration) {
        let key = Key(route: route, method: method, status: status)
        let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        lock.lock()
        defer { lock.unlock() }
        counts[key, default: 0] += 1
        seconds[key, default: 0] += value
    }

    /// Prometheus text of the counters.
    func text() -> String {
        lock.lock()
        defer { lock.unlock() }
        var lines = ["# HELP stockflow_http_requests_total HTTP requests answered, by route, method and status.",
                     "# TYPE stockflow_http_requests_total counter"]
        let keys = counts.keys.sorted { ($0.route, $0.method, $0.status) < ($1.route, $1.method, $1.status) }
        for key in keys {
            lines.append("stockflow_http_requests_total{route=\"\(escapeLabel(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(counts[key] ?? 0)")
        }
        lines += ["# HELP stockflow_http_request_seconds_total Seconds spent answering, by route, method and status.",
                  "# TYPE stockflow_http_request_seconds_total counter"]
        for key in keys {
            lines.append("stockflow_http_request_seconds_total{route=\"\(escapeLabel(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(seconds[key] ?? 0)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
