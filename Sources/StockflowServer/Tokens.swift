import Foundation
import JWTKit

/// The claims of an access token (and of a portal session, which is one with `typ: session`).
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var role: String
    /// The user's token version when issued: a password change bumps it.
    var ver: Int64
    /// The refresh family the token came with: a logout revokes it.
    var fam: String
    var typ: String
    var iss: IssuerClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim
    var iat: IssuedAtClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try verifyTimeLimits()
        try aud.verifyIntendedAudience(includes: TokenSigner.audience)
        guard iss.value == TokenSigner.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "wrong issuer") }
    }

    /// `exp` and `nbf` against the clock: the checks that can change between two uses of one token.
    func verifyTimeLimits() throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

/// The claims of tokens already verified, by their exact text (header, payload and signature): a token
/// presented again skips the parsing and the HMAC, and only its time limits are checked again. The
/// user and family checks of each request are not cached, so a logout or a password change still
/// refuses the token at once.
final class VerifiedTokens: @unchecked Sendable {
    private var claims: [String: AccessClaims] = [:]
    private let lock = NSLock()
    /// Past this many tokens the cache starts over (a few MB at most).
    private let capacity = 4096

    func claims(of token: String) -> AccessClaims? {
        lock.withLock { claims[token] }
    }

    func remember(_ token: String, _ value: AccessClaims) {
        lock.withLock {
            if claims.count >= capacity { claims.removeAll(keepingCapacity: true) }
            claims[token] = value
        }
    }
}

/// Why a bearer token was refused (said only in the server's own debug log, never to the client).
struct TokenRefused: Error {
    var reason: String
}

/// Signs and checks access tokens with one HMAC-SHA256 key. Only `HS256` is accepted: a token
/// whose header names any other algorithm (`none` included) is refused before its signature is read.
struct TokenSigner: Sendable {
    static let issuer = "stockflow"
    static let audience = "stockflow-api"
    static let algorithm = "HS256"

    private let keys: JWTKeyCollection
    private let verified = VerifiedTokens()
    /// How long an access token lives.
    let accessLifetime: TimeInterval

    init(secret: [UInt8], accessLifetime: TimeInterval) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.accessLifetime = accessLifetime
    }

    /// A signed token for `user`, valid from now for `lifetime` (the access lifetime by default).
    func sign(user: UserRecord, family: String, type: String = "access", lifetime: TimeInterval? = nil, now: Date = Date()) async throws -> String {
        let claims = AccessClaims(
            sub: SubjectClaim(value: user.name), role: user.role.rawValue, ver: user.tokenVersion, fam: family, typ: type,
            iss: IssuerClaim(value: TokenSigner.issuer), aud: AudienceClaim(value: [TokenSigner.audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(lifetime ?? accessLifetime)),
            nbf: NotBeforeClaim(value: now.addingTimeInterval(-1)), iat: IssuedAtClaim(value: now))
        return try await keys.sign(claims)
    }

    /// The claims of a valid token of `type`; throws `TokenRefused` otherwise.
    func verify(_ token: String, type: String = "access") async throws -> AccessClaims {
        if let known = verified.claims(of: token) {
            do { try known.verifyTimeLimits() } catch { throw TokenRefused(reason: "\(error)") }
            guard known.typ == type else { throw TokenRefused(reason: "a \(known.typ) token where a \(type) token was expected") }
            return known
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = TokenSigner.decodeSegment(parts[0]),
              let fields = (try? JSONSerialization.jsonObject(with: header)) as? [String: Any] else {
            throw TokenRefused(reason: "not a JWT")
        }
        guard fields["alg"] as? String == TokenSigner.algorithm else {
            throw TokenRefused(reason: "algorithm \(fields["alg"] ?? "missing") is not \(TokenSigner.algorithm)")
        }
        guard fields["crit"] == nil else { throw TokenRefused(reason: "critical header extensions are not supported") }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw TokenRefused(reason: "\(error)")
        }
        verified.remember(token, claims)
        guard claims.typ == type else { throw TokenRefused(reason: "a \(claims.typ) token where a \(type) token was expected") }
        return claims
    }

    static func decodeSegment(_ segment: Substring) -> Data? {
        var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }
}

/// Failed logins per user and per client address: after `limit` failures within `window`
/// seconds, further attempts are refused for `lockout` seconds (429 with Retry-After).
final class LoginThrottle: @unchecked Sendable {
    private var failures: [String: [Date]] = [:]
    private var lockedUntil: [String: Date] = [:]
    private let lock = NSLock()
    let limit: Int
    let window: TimeInterval
    let lockout: TimeInterval

    init(limit: Int = 5, window: TimeInterval = 300, lockout: TimeInterval = 60) {
        self.limit = limit
        self.window = window
        self.lockout = lockout
    }

    /// Seconds to wait when any of `keys` is locked out, else nil.
    func retryAfter(_ keys: [String], now: Date = Date()) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        let waits = keys.compactMap { lockedUntil[$0] }.filter { $0 > now }.map { Int($0.timeIntervalSince(now).rounded(.up)) }
        return waits.max().map { max($0, 1) }
    }

    /// Counts a failed attempt against each of `keys`.
    func fail(_ keys: [String], now: Date = Date()) {
        lock.lock()
        defer { lock.unlock() }
        if failures.count > 10_000 { failures.removeAll() }
        for key in keys {
            var recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
            recent.append(now)
            failures[key] = recent
            if recent.count >= limit { lockedUntil[key] = now.addingTimeInterval(lockout) }
        }
    }

    /// Clears a user's failures after a successful login.
    func succeed(_ key: String) {
        lock.lock()
        defer { lock.unlock() }
        failures[key] = nil
        lockedUntil[key] = nil
    }
}
