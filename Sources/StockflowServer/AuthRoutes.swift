import Foundation
import Hummingbird
import NIOPosix
import StockflowCore

/// `POST /api/token/`, `/api/token/refresh/`, `/api/token/revoke/`: the plan's JWT shapes.
enum AuthRoutes {
    static func add(to router: Router<ServerContext>, state: ServerState) {
        router.post("/api/token/") { request, context in
            let body = try await jsonBody(request, context: context)
            let username = try stringField(body, "username") ?? ""
            let password = try stringField(body, "password") ?? ""
            let user = try await login(state, username: username, password: password, client: context.clientAddress)
            return jsonResponse(try await issuePair(state, user: user, family: UUID().uuidString))
        }
        router.post("/api/token/refresh/") { request, context in
            let body = try await jsonBody(request, context: context)
            let refresh = try stringField(body, "refresh") ?? ""
            switch try state.auth.consumeRefresh(refresh, now: Date()) {
            case .rotated(let username, let version, let family):
                guard let user = try state.auth.user(named: username), user.tokenVersion == version else {
                    throw APIError(.unauthorized, "token_invalid", "the refresh token is no longer valid")
                }
                return jsonResponse(try await issuePair(state, user: user, family: family))
            case .reused:
                state.logger.warning("a spent refresh token was presented again: its family is revoked")
                throw APIError(.unauthorized, "token_reused", "this refresh token was already used; every token of its login is now revoked")
            case .invalid:
                throw APIError(.unauthorized, "token_invalid", "the refresh token is unknown, expired or revoked")
            }
        }
        router.post("/api/token/revoke/") { request, context in
            let body = try await jsonBody(request, context: context)
            let refresh = try stringField(body, "refresh") ?? ""
            guard try state.auth.revokeFamily(ofRefresh: refresh) else {
                throw APIError(.unauthorized, "token_invalid", "the refresh token is unknown")
            }
            return jsonResponse(["revoked": true])
        }
        router.get("/api/me") { request, _ in
            let principal = try await state.require(.viewer, request)
            return jsonResponse(["name": principal.name, "role": principal.role.rawValue, "kind": principal.kind.rawValue])
        }
    }

    /// The user when the password is right; 401 otherwise, 429 while throttled (per name and per address).
    static func login(_ state: ServerState, username: String, password: String, client: String) async throws -> UserRecord {
        let wait = [state.userThrottle.retryAfter([username]), state.clientThrottle.retryAfter([client])].compactMap { $0 }.max()
        if let wait {
            throw APIError(.tooManyRequests, "throttled", "too many failed logins; retry in \(wait) s",
                           headers: [.retryAfter: String(wait)])
        }
        // bcrypt takes a quarter of a second at cost 12: on NIO's blocking pool, not on one of the few
        // threads of Swift's cooperative pool that answer every other request.
        let auth = state.auth
        guard let user = try await NIOThreadPool.singleton.runIfActive({ try auth.authenticate(name: username, password: password) }) else {
            state.userThrottle.fail([username])
            state.clientThrottle.fail([client])
            throw APIError(.unauthorized, "bad_credentials", "wrong user name or password")
        }
        state.userThrottle.succeed(username)
        return user
    }

    /// A new access token and refresh token in `family`.
    static func issuePair(_ state: ServerState, user: UserRecord, family: String) async throws -> [String: Any] {
        let access = try await state.signer.sign(user: user, family: family)
        let refresh = try state.auth.issueRefresh(username: user.name, tokenVersion: user.tokenVersion, family: family,
                                                  expires: Date().addingTimeInterval(state.options.refreshLifetime))
        return ["access": access, "refresh": refresh, "token_type": "Bearer", "expires_in": Int(state.options.accessLifetime)]
    }
}
