import Crypto
import Foundation
import HummingbirdBcrypt
import StockflowCore

/// What a user or key may do: each role includes the ones before it.
public enum Role: String, Sendable, CaseIterable, Comparable, Codable {
    /// Read and download.
    case viewer
    /// Also trigger and cancel runs.
    case `operator`
    /// Also manage users and keys.
    case admin

    private var rank: Int { Role.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// A person who logs in.
public struct UserRecord: Sendable {
    public var name: String
    public var role: Role
    /// Bumped by a password change: every token issued before is refused.
    public var tokenVersion: Int64
    public var created: String
}

/// A machine's API key, as listed (the key itself is never stored).
public struct APIKeyRecord: Sendable {
    public var name: String
    public var role: Role
    public var created: String
    /// Empty when the key never expires.
    public var expires: String
}

/// A problem with a users or keys command, said to the person who typed it.
public struct AuthStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Users, API keys and refresh-token families, in the state database beside the run history.
/// Passwords are kept as bcrypt hashes, keys and refresh tokens as SHA-256 digests.
public final class AuthStore: @unchecked Sendable {
    let database: StateDatabase
    /// bcrypt's cost for new password hashes.
    public let bcryptCost: UInt8

    /// The smallest cost accepted outside tests.
    public static let minimumBcryptCost: UInt8 = 12

    /// Opens the store in the state database at `path`; `bcryptCost` below 12 is refused unless
    /// `STOCKFLOW_TEST_INSECURE_BCRYPT_COST` (tests only) asks for it.
    public init(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var cost = AuthStore.minimumBcryptCost
        if let text = environment["STOCKFLOW_TEST_INSECURE_BCRYPT_COST"], let lowered = UInt8(text), lowered >= 4 {
            cost = lowered
        }
        bcryptCost = cost
        do {
            database = try StateDatabase(path: path)
            try database.execute("""
                CREATE TABLE IF NOT EXISTS users (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
                    token_version INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS api_keys (
                    name TEXT PRIMARY KEY, role TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
                    created TEXT NOT NULL, expires TEXT NOT NULL DEFAULT '');
                CREATE TABLE IF NOT EXISTS refresh_tokens (
                    token_hash TEXT PRIMARY KEY, family TEXT NOT NULL, username TEXT NOT NULL,
                    token_version INTEGER NOT NULL, expires TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family);
                CREATE TABLE IF NOT EXISTS revoked_families (family TEXT PRIMARY KEY, revoked TEXT NOT NULL);
                """)
        } catch let error as SQLiteError {
            throw AuthStoreError("state database \(path): \(error.message)")
        }
        memo = DatabaseMemo(database: database)
    }

    // MARK: Users

    /// Adds a user; fails when the name is taken or the password too short.
    public func addUser(name: String, role: Role, password: String) throws {
        try AuthStore.checkName(name)
        try AuthStore.checkPassword(password)
        guard try user(named: name) == nil else { throw AuthStoreError("user '\(name)' already exists (use `users passwd`)") }
        let hash = Bcrypt.hash(password, cost: bcryptCost)
        try write {
            try database.run("INSERT INTO users (name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                             [.text(name), .text(role.rawValue), .text(hash), .text(isoText(Date()))])
        }
    }

    /// Sets a new password; every token the user holds stops working at once.
    public func changePassword(name: String, password: String) throws {
        try AuthStore.checkPassword(password)
        guard try user(named: name) != nil else { throw AuthStoreError("no user '\(name)'") }
        let hash = Bcrypt.hash(password, cost: bcryptCost)
        try write {
            try database.run("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE name = ?",
                             [.text(hash), .text(name)])
            try database.run("DELETE FROM refresh_tokens WHERE username = ?", [.text(name)])
        }
    }

    /// Removes a user and their refresh tokens.
    public func removeUser(name: String) throws {
        guard try user(named: name) != nil else { throw AuthStoreError("no user '\(name)'") }
        try write {
            try database.run("DELETE FROM users WHERE name = ?", [.text(name)])
            try database.run("DELETE FROM refresh_tokens WHERE username = ?", [.text(name)])
        }
    }

    /// Every user, by name.
    public func users() throws -> [UserRecord] {
        try database.query("SELECT name, role, token_version, created FROM users ORDER BY name") { row in
            UserRecord(name: row.text(0), role: Role(rawValue: row.text(1)) ?? .viewer, tokenVersion: row.int64(2), created: row.text(3))
        }
    }

    /// The user called `name`, if any.
    public func user(named name: String) throws -> UserRecord? {
        try database.query("SELECT name, role, token_version, created FROM users WHERE name = ?", [.text(name)]) { row in
            UserRecord(name: row.text(0), role: Role(rawValue: row.text(1)) ?? .viewer, tokenVersion: row.int64(2), created: row.text(3))
        }.first
    }

    /// The user when `password` is theirs. An unknown name still costs one bcrypt check, so that
    /// timing does not tell which names exist.
    public func authenticate(name: String, password: String) throws -> UserRecord? {
        let hashes = try database.query("SELECT password_hash FROM users WHERE name = ?", [.text(name)]) { $0.text(0) }
        guard let hash = hashes.first else {
            _ = Bcrypt.verify(password, hash: decoyHash)
            return nil
        }
        guard Bcrypt.verify(password, hash: hash) else { return nil }
        return try user(named: name)
    }

    /// A hash of the store's cost that no password matches, checked for unknown names.
    private var decoyHash: String {
        decoyLock.withLock {
            if let decoy { return decoy }
            let made = Bcrypt.hash(randomToken(), cost: bcryptCost)
            decoy = made
            return made
        }
    }
    private var decoy: String?
    private let decoyLock = NSLock()

    // MARK: API keys

    /// Creates a key and returns it: the only time it is ever shown.
    public func createKey(name: String, role: Role, expires: Date?) throws -> String {
        try AuthStore.checkName(name)
        let existing = try database.query("SELECT name FROM api_keys WHERE name = ?", [.text(name)]) { $0.text(0) }
        guard existing.isEmpty else { throw AuthStoreError("key '\(name)' already exists (revoke it first)") }
        let key = "sfk_" + randomToken()
        try write {
            try database.run("INSERT INTO api_keys (name, role, key_hash, created, expires) VALUES (?, ?, ?, ?, ?)",
                             [.text(name), .text(role.rawValue), .text(digest(key)), .text(isoText(Date())),
                              .text(expires.map(isoText) ?? "")])
        }
        return key
    }

    /// Every key, by name.
    public func keys() throws -> [APIKeyRecord] {
        try database.query("SELECT name, role, created, expires FROM api_keys ORDER BY name") { row in
            APIKeyRecord(name: row.text(0), role: Role(rawValue: row.text(1)) ?? .viewer, created: row.text(2), expires: row.text(3))
        }
    }

    /// Deletes a key; requests bearing it are refused from then on.
    public func revokeKey(name: String) throws {
        let existing = try database.query("SELECT name FROM api_keys WHERE name = ?", [.text(name)]) { $0.text(0) }
        guard !existing.isEmpty else { throw AuthStoreError("no key '\(name)'") }
        try write { try database.run("DELETE FROM api_keys WHERE name = ?", [.text(name)]) }
    }

    /// The key's record when `key` is a key (expired or not).
    private func lookUpKey(_ key: String) throws -> APIKeyRecord? {
        try database.query("SELECT name, role, created, expires FROM api_keys WHERE key_hash = ?", [.text(digest(key))]) { row in
            APIKeyRecord(name: row.text(0), role: Role(rawValue: row.text(1)) ?? .viewer, created: row.text(2), expires: row.text(3))
        }.first
    }

    // MARK: Refresh tokens

    /// Issues a refresh token in `family` (a new family at login), valid until `expires`.
    func issueRefresh(username: String, tokenVersion: Int64, family: String, expires: Date) throws -> String {
        let token = randomToken()
        try database.run("INSERT INTO refresh_tokens (token_hash, family, username, token_version, expires) VALUES (?, ?, ?, ?, ?)",
                         [.text(digest(token)), .text(family), .text(username), .integer(tokenVersion), .text(isoText(expires))])
        return token
    }

    /// What presenting a refresh token led to.
    enum RefreshOutcome {
        /// The token was live and is now spent: issue the next one in the same family.
        case rotated(username: String, tokenVersion: Int64, family: String)
        /// The token had already been used: its whole family is now revoked.
        case reused
        /// Unknown, expired or revoked.
        case invalid
    }

    /// Spends a refresh token. The spend is one UPDATE, so of two concurrent refreshes with the same
    /// token exactly one wins; the other sees it spent and revokes the family.
    func consumeRefresh(_ token: String, now: Date) throws -> RefreshOutcome {
        let hash = digest(token)
        let won = try database.query("""
            UPDATE refresh_tokens SET used = 1 WHERE token_hash = ? AND used = 0
              AND family NOT IN (SELECT family FROM revoked_families)
            RETURNING username, token_version, family, expires
            """, [.text(hash)]) { row in (row.text(0), row.int64(1), row.text(2), row.text(3)) }
        if let winner = won.first {
            guard let end = parseISO8601(winner.3), end > now else { return .invalid }
            return .rotated(username: winner.0, tokenVersion: winner.1, family: winner.2)
        }
        let spent = try database.query("SELECT family FROM refresh_tokens WHERE token_hash = ? AND used = 1", [.text(hash)]) { $0.text(0) }
        if let family = spent.first {
            try revokeFamily(family: family)
            return .reused
        }
        return .invalid
    }

    /// Revokes the family of a refresh token (logout); false when the token is unknown.
    func revokeFamily(ofRefresh token: String) throws -> Bool {
        let families = try database.query("SELECT family FROM refresh_tokens WHERE token_hash = ?", [.text(digest(token))]) { $0.text(0) }
        guard let family = families.first else { return false }
        try revokeFamily(family: family)
        return true
    }

    /// True when the family was revoked (logout or reuse); access tokens carry their family.
    func isRevoked(family: String) throws -> Bool {
        !(try database.query("SELECT 1 FROM revoked_families WHERE family = ?", [.text(family)]) { _ in 1 }).isEmpty
    }

    func revokeFamily(family: String) throws {
        try write {
            try database.run("INSERT INTO revoked_families (family, revoked) VALUES (?, ?) ON CONFLICT DO NOTHING",
                             [.text(family), .text(isoText(Date()))])
            try database.run("UPDATE refresh_tokens SET used = 1 WHERE family = ?", [.text(family)])
        }
    }

    // MARK: The per-request checks, from memory

    /// What the checks of each request read (users, revocations, keys), kept while the database is
    /// unchanged: `users passwd`, `users remove`, `keys revoke` or another server's logout in another
    /// process change its data_version; this connection's own writes forget it in `write`.
    private let memo: DatabaseMemo

    /// A write to users, keys or revocations: one transaction, and what is remembered is forgotten
    /// before the connection's lock is released, so no request reads the old answer after the commit.
    private func write(_ body: () throws -> Void) throws {
        try database.transaction {
            try body()
            memo.forget()
        }
    }

    /// The user called `name` if they still hold token version `version` and `family` is not revoked:
    /// the check of every request bearing an access token or a session.
    func currentUser(named name: String, version: Int64, family: String) throws -> UserRecord? {
        let user = try memo.value("user\u{0}" + name) { try self.user(named: name) }
        guard let user, user.tokenVersion == version else { return nil }
        return try memo.value("family\u{0}" + family) { try isRevoked(family: family) } ? nil : user
    }

    /// The record of a live API key (expiry checked at `now`), from memory when possible.
    func currentKey(_ key: String, now: Date) throws -> APIKeyRecord? {
        guard let record = try memo.value("key\u{0}" + key, { try lookUpKey(key) }) else { return nil }
        if !record.expires.isEmpty, let end = parseISO8601(record.expires), end <= now { return nil }
        return record
    }

    // MARK: Checks

    static func checkName(_ name: String) throws {
        let allowed = name.allSatisfy { $0.isLetter || $0.isNumber || "._-@".contains($0) }
        guard !name.isEmpty, name.count <= 64, allowed else {
            throw AuthStoreError("a name is 1 to 64 letters, digits, '.', '_', '-' or '@'; found '\(name)'")
        }
    }

    static func checkPassword(_ password: String) throws {
        guard password.count >= 8 else { throw AuthStoreError("the password must have at least 8 characters") }
        // bcrypt reads only the first 72 bytes: a longer password would be silently cut.
        guard password.utf8.count <= 72 else { throw AuthStoreError("the password must be at most 72 bytes (bcrypt ignores the rest)") }
    }
}

/// 32 random bytes as base64url text.
func randomToken() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    return base64URL(Data(bytes))
}

/// SHA-256 of `text` in hex: how keys and refresh tokens are stored.
func digest(_ text: String) -> String {
    hex(SHA256.hash(data: Data(text.utf8)))
}

/// Lowercase hex of `bytes` (String(format:) per byte showed in profiles).
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
}

/// Base64url without padding.
func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
