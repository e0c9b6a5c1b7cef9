import Foundation
import Testing
@testable import StockflowCore

/// The private test server's URL (scripts/pg-test-server.sh, started by `make test`). Missing, the
/// PostgreSQL tests fail instead of passing silently.
func testServerURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["STOCKFLOW_TEST_PG_URL"], !url.isEmpty else {
        Issue.record("STOCKFLOW_TEST_PG_URL is not set: run `make test`, or `scripts/with-postgres.sh swift test`")
        throw TestServerMissing()
    }
    return url
}

struct TestServerMissing: Error {}

/// A fresh database on the test server for one test, dropped by `drop()`.
struct ScratchDatabase {
    let name: String
    let url: String
    private let serverURL: String

    init() throws {
        let server = try testServerURL()
        let database = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresConnection(PostgresConnectionOptions(server))
        try admin.execute("CREATE DATABASE \(quoteIdentifier(database))")
        let base = server.range(of: "/", options: .backwards).map { String(server[..<$0.lowerBound]) } ?? server
        serverURL = server
        name = database
        url = base + "/" + database
    }

    /// A connection to this database.
    func connect() throws -> PostgresConnection { try PostgresConnection(PostgresConnectionOptions(url)) }

    func drop() {
        if let admin = try? PostgresConnection(PostgresConnectionOptions(serverURL)) {
            try? admin.execute("DROP DATABASE IF EXISTS \(quoteIdentifier(name)) WITH (FORCE)")
        }
    }
}

extension Tag {
    /// Tests that need the private PostgreSQL server (`swift test --skip-tags postgres`-style runs leave them out).
    @Tag static var postgres: Self
}

/// An SQLite database built from `sql` in `scratch`, for a migration test.
func migrationSource(_ scratch: Scratch, _ sql: String, name: String = "app.sqlite3") throws -> String {
    let path = scratch.url.appendingPathComponent(name).path
    let database = try SQLiteDatabase(path: path, readOnly: false)
    try database.execute(sql)
    return path
}

/// Options migrating `source` into `target`, rejects in `scratch`, no connection retries.
func migrationOptions(_ source: String, _ target: ScratchDatabase, _ scratch: Scratch) -> MigrationOptions {
    var options = MigrationOptions(sqlitePath: source, connection: PostgresConnectionOptions(target.url, retries: 0))
    options.rejectsPath = scratch.url.appendingPathComponent("rejects.csv").path
    return options
}
