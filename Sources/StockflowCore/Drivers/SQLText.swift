/// Quotes an SQL identifier for SQLite and PostgreSQL.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
