import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import StockflowServer

@Suite struct AuthTests {
    @Test func tokenLifeObtainUseRefreshRotateReuseRevoke() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        try await fixture.test { client in
            let first = try await obtain(client, "claire")
            #expect(!first.access.isEmpty && !first.refresh.isEmpty)
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(first.access)) { response in
                #expect(response.status == .ok)
                #expect(json(response)["name"] as? String == "claire")
            }
            let second = try await client.execute(uri: "/api/token/refresh/", method: .post, body: jsonBody(["refresh": first.refresh])) { response -> (access: String, refresh: String) in
                #expect(response.status == .ok)
                return (json(response)["access"] as? String ?? "", json(response)["refresh"] as? String ?? "")
            }
            #expect(second.refresh != first.refresh)
            // The spent token again: refused, and the whole family with it.
            try await client.execute(uri: "/api/token/refresh/", method: .post, body: jsonBody(["refresh": first.refresh])) { response in
                #expect(response.status == .unauthorized)
                #expect(errorCode(response) == "token_reused")
            }
            try await client.execute(uri: "/api/token/refresh/", method: .post, body: jsonBody(["refresh": second.refresh])) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(second.access)) { response in
                #expect(response.status == .unauthorized)
            }
            // A new login, then logout: its access token stops working.
            let third = try await obtain(client, "claire")
            try await client.execute(uri: "/api/token/revoke/", method: .post, body: jsonBody(["refresh": third.refresh])) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(third.access)) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func concurrentRefreshesWithOneTokenHaveOneWinner() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        let user = try #require(try fixture.state.auth.user(named: "claire"))
        // The token must outlive the test: with 60 s, a run of the suite on a loaded machine (64 s once,
        // its tasks waiting for a thread) saw the one winner find its token expired, and 0 winners.
        let token = try fixture.state.auth.issueRefresh(username: "claire", tokenVersion: user.tokenVersion, family: "f1", expires: Date().addingTimeInterval(24 * 3600))
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    // An error (SQLITE_BUSY...) fails the test with its message instead of counting as a loss.
                    switch try fixture.state.auth.consumeRefresh(token, now: Date()) {
                    case .rotated: return "rotated"
                    case .reused: return "reused"
                    case .invalid: return "invalid"
                    }
                }
            }
            var seen: [String] = []
            for try await outcome in group { seen.append(outcome) }
            return seen.sorted()
        }
        #expect(outcomes == ["reused", "reused", "reused", "reused", "reused", "reused", "reused", "rotated"])
        #expect(try fixture.state.auth.isRevoked(family: "f1"))
    }

    @Test func passwordChangeAndRemovalEndTokensAtOnce() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        try fixture.addUser("marc", role: .viewer)
        try await fixture.test { client in
            let claire = try await obtain(client, "claire")
            let marc = try await obtain(client, "marc")
            // Used once first, so that the server remembers both users.
            for token in [claire.access, marc.access] {
                try await client.execute(uri: "/api/me", method: .get, headers: bearer(token)) { response in
                    #expect(response.status == .ok)
                }
            }
            try fixture.state.auth.changePassword(name: "claire", password: "another long password")
            try fixture.state.auth.removeUser(name: "marc")
            for token in [claire.access, marc.access] {
                try await client.execute(uri: "/api/me", method: .get, headers: bearer(token)) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            try await client.execute(uri: "/api/token/refresh/", method: .post, body: jsonBody(["refresh": claire.refresh])) { response in
                #expect(response.status == .unauthorized)
            }
            let fresh = try await obtain(client, "claire", "another long password")
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(fresh.access)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    /// `stockflow users passwd`, `users remove`, `keys revoke` and a logout by another server are other
    /// connections to the state database: the server's remembered checks must see each at once.
    @Test func changesByAnotherProcessEndTokensAtOnce() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        try fixture.addUser("marc", role: .viewer)
        try fixture.addUser("lea", role: .viewer)
        let key = try fixture.state.auth.createKey(name: "ci", role: .operator, expires: nil)
        let other = try AuthStore(path: fixture.options.statePath, environment: ["STOCKFLOW_TEST_INSECURE_BCRYPT_COST": "4"])
        try await fixture.test { client in
            let claire = try await obtain(client, "claire")
            let marc = try await obtain(client, "marc")
            let lea = try await obtain(client, "lea")
            func status(_ token: String) async throws -> HTTPResponse.Status {
                try await client.execute(uri: "/api/me", method: .get, headers: bearer(token)) { $0.status }
            }
            for token in [claire.access, marc.access, lea.access, key] {
                #expect(try await status(token) == .ok)
                #expect(try await status(token) == .ok)
            }
            try other.changePassword(name: "claire", password: "another long password")
            #expect(try await status(claire.access) == .unauthorized)
            #expect(try await status(marc.access) == .ok)
            try other.removeUser(name: "marc")
            #expect(try await status(marc.access) == .unauthorized)
            try other.revokeKey(name: "ci")
            #expect(try await status(key) == .unauthorized)
            #expect(try other.revokeFamily(ofRefresh: lea.refresh))
            #expect(try await status(lea.access) == .unauthorized)
            // A user added elsewhere after a failed look-up is found at once too.
            try other.addUser(name: "zoe", role: .viewer, password: "correct horse battery")
            let zoe = try await obtain(client, "zoe")
            #expect(try await status(zoe.access) == .ok)
        }
    }

    /// Tokens that must never be accepted, each built differently.
    enum BadToken: String, CaseIterable { case tampered, expired, notYetValid, wrongKey, algNone, algHS512, refreshAsAccess, garbage }

    @Test(arguments: BadToken.allCases)
    func badTokensAreRefused(_ kind: BadToken) async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .admin)
        let user = try #require(try fixture.state.auth.user(named: "claire"))
        let signer = fixture.state.signer
        let good = try await signer.sign(user: user, family: "fam")
        let parts = good.split(separator: ".").map(String.init)
        let token: String
        switch kind {
        case .tampered:
            var claims = try #require(TokenSigner.decodeSegment(Substring(parts[1])).flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
            claims["sub"] = "someone-else"
            token = [parts[0], base64URL(try JSONSerialization.data(withJSONObject: claims)), parts[2]].joined(separator: ".")
        case .expired:
            token = try await signer.sign(user: user, family: "fam", lifetime: 60, now: Date().addingTimeInterval(-3600))
        case .notYetValid:
            // A day ahead: no pause of the test process (a benchmark SIGSTOPs test runners) makes it valid.
            token = try await signer.sign(user: user, family: "fam", now: Date().addingTimeInterval(24 * 3600))
        case .wrongKey:
            let other = await TokenSigner(secret: Array("another key that is also thirty-two bytes long".utf8), accessLifetime: 900)
            token = try await other.sign(user: user, family: "fam")
        case .algNone:
            token = [base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8)), parts[1], ""].joined(separator: ".")
        case .algHS512:
            token = [base64URL(Data(#"{"alg":"HS512","typ":"JWT"}"#.utf8)), parts[1], parts[2]].joined(separator: ".")
        case .refreshAsAccess:
            token = try await signer.sign(user: user, family: "fam", type: "session")
        case .garbage:
            token = "not-a-token"
        }
        try await fixture.test { client in
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(good)) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/pipelines", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .unauthorized)
                #expect(errorCode(response) == "unauthorized")
                #expect(response.headers[.wwwAuthenticate] != nil)
            }
        }
    }

    @Test func aVerifiedTokenIsRefusedOnceItExpiresOrUsedAsAnotherType() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        let user = try #require(try fixture.state.auth.user(named: "claire"))
        let signer = fixture.state.signer
        let token = try await signer.sign(user: user, family: "fam", lifetime: 1)
        // Verified twice (the second time from the cache of verified tokens), then its time is up.
        #expect(try await signer.verify(token).sub.value == "claire")
        #expect(try await signer.verify(token).sub.value == "claire")
        await #expect(throws: TokenRefused.self) { try await signer.verify(token, type: "session") }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        await #expect(throws: TokenRefused.self) { try await signer.verify(token) }
    }

    @Test func loginIsThrottledWithRetryAfter() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        try await fixture.test { client in
            for _ in 0..<5 {
                try await client.execute(uri: "/api/token/", method: .post, body: jsonBody(["username": "claire", "password": "wrong password"])) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            // Even the right password waits now.
            try await client.execute(uri: "/api/token/", method: .post, body: jsonBody(["username": "claire", "password": "correct horse battery"])) { response in
                #expect(response.status == .tooManyRequests)
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
        }
    }

    @Test func apiKeysAreBearerCredentialsStoredAsDigests() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        let key = try fixture.state.auth.createKey(name: "ci", role: .operator, expires: nil)
        let expired = try fixture.state.auth.createKey(name: "old", role: .operator, expires: Date().addingTimeInterval(-1))
        let stored = try fixture.state.auth.database.query("SELECT key_hash FROM api_keys", []) { $0.text(0) }
        #expect(!stored.contains(key))
        #expect(stored.contains(digest(key)))
        try await fixture.test { client in
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(key)) { response in
                #expect(json(response)["role"] as? String == "operator")
                #expect(!String(buffer: response.body).contains(key))
            }
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(expired)) { response in
                #expect(response.status == .unauthorized)
            }
            try fixture.state.auth.revokeKey(name: "ci")
            try await client.execute(uri: "/api/me", method: .get, headers: bearer(key)) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func passwordsAreBcryptHashedAndNeverAnswered() async throws {
        let fixture = try await ServerFixture()
        defer { fixture.remove() }
        try fixture.addUser("claire", role: .viewer)
        let hashes = try fixture.state.auth.database.query("SELECT password_hash FROM users", []) { $0.text(0) }
        #expect(hashes.first?.hasPrefix("$2") == true)
        #expect(hashes.first?.contains("correct horse") == false)
        #expect(throws: AuthStoreError.self) { try fixture.state.auth.addUser(name: "short", role: .viewer, password: "short") }
        #expect(try AuthStore(path: fixture.options.statePath, environment: [:]).bcryptCost >= 12)
        try await fixture.test { client in
            try await client.execute(uri: "/api/token/", method: .post, body: jsonBody(["username": "claire", "password": "correct horse battery"])) { response in
                #expect(!String(buffer: response.body).contains("correct horse"))
            }
        }
    }
}
