import Foundation

/// One column of a source table, with the PostgreSQL type chosen for it.
public struct MigrationColumn: Sendable {
    public var name: String
    /// The SQLite declared type (`varchar(100)`, `decimal`, `bool`...).
    public var declared: String
    public var notNull: Bool
    public var type: TargetType
    /// True for a lone `integer PRIMARY KEY` (the rowid): an identity column on PostgreSQL.
    public var isIdentity: Bool
    /// Where a decimal's precision and scale came from (`declared`, `django migration`, `data`, `--decimal`).
    public var typeSource: String?
}

/// A CHECK constraint as written in the SQLite DDL.
public struct MigrationCheck: Sendable {
    /// The constraint name on PostgreSQL (Django's, or `<table>_<column>_check` as PostgreSQL names inline checks).
    public var name: String
    /// The expression, SQL that reads the same on both databases.
    public var expression: String
}

/// A foreign key from the source's `PRAGMA foreign_key_list`.
public struct MigrationForeignKey: Sendable {
    public var columns: [String]
    public var parent: String
    public var parentColumns: [String]
}

/// An index (or UNIQUE constraint) from the source's `PRAGMA index_list`.
public struct MigrationIndex: Sendable {
    public var name: String
    public var columns: [String]
    public var unique: Bool
    /// True for a `UNIQUE` written in the table's DDL (a constraint, not a named index).
    public var isConstraint: Bool
}

/// One source table and everything the migration recreates for it.
public struct MigrationTable: Sendable {
    public var name: String
    public var columns: [MigrationColumn]
    public var primaryKey: [String]
    public var checks: [MigrationCheck]
    public var foreignKeys: [MigrationForeignKey]
    public var indexes: [MigrationIndex]
    /// The highest id ever handed out (`sqlite_sequence`), so a deleted id is never reused.
    public var sequence: Int64
    /// Rows in the source when inspected.
    public var rowCount: Int64
    /// Whether rows have a rowid (all but WITHOUT ROWID tables).
    public var hasRowid: Bool
    /// Things the migration could not carry exactly, for the plan.
    public var notes: [String]

    /// The identity column, if any.
    public var identity: MigrationColumn? { columns.first { $0.isIdentity } }
    /// The column naming a row in rejects (lone primary key), else nil (rowid).
    public var keyColumn: String? { primaryKey.count == 1 ? primaryKey[0] : nil }
}

/// Reads the schema of an SQLite database (sqlite_master, PRAGMA table_info/index_list/foreign_key_list).
enum SourceSchemaReader {
    /// Reads every user table (sqlite_* internals excluded), parents before children.
    static func read(_ database: SQLiteDatabase, decimalHints: [String: (Int, Int)]) throws -> [MigrationTable] {
        var sequences: [String: Int64] = [:]
        if let statement = try? database.prepare("SELECT name, seq FROM sqlite_sequence") {
            while try statement.step() { sequences[statement.text(0)] = statement.int64(1) }
        }
        let list = try database.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
        var definitions: [(String, String)] = []
        while try list.step() { definitions.append((list.text(0), list.text(1))) }
        var tables: [MigrationTable] = []
        for (name, sql) in definitions {
            tables.append(try readTable(database, name: name, sql: sql, sequence: sequences[name] ?? 0, decimalHints: decimalHints))
        }
        promoteReferencedKeys(&tables)
        return tables
    }

    private static func readTable(_ database: SQLiteDatabase, name: String, sql: String, sequence: Int64,
                                  decimalHints: [String: (Int, Int)]) throws -> MigrationTable {
        let quoted = quoteIdentifier(name)
        var notes: [String] = []
        var checks: [MigrationCheck] = []
        var jsonColumns = Set<String>()
        for check in checkClauses(in: sql) {
            // Django's JSONField check: PostgreSQL's jsonb type enforces it.
            if check.expression.uppercased().contains("JSON_VALID(") {
                if let column = check.column { jsonColumns.insert(column) }
                continue
            }
            let constraintName = check.name ?? postgresName("\(name)_\(check.column ?? "")_check")
            checks.append(MigrationCheck(name: constraintName, expression: check.expression))
        }
        let info = try database.prepare("PRAGMA table_info(\(quoted))")
        var raw: [(name: String, declared: String, notNull: Bool, pk: Int)] = []
        while try info.step() { raw.append((info.text(1), info.text(2), info.int64(3) != 0, Int(info.int64(5)))) }
        let primaryKey = raw.filter { $0.pk > 0 }.sorted { $0.pk < $1.pk }.map(\.name)
        var columns: [MigrationColumn] = []
        for column in raw {
            var type = TargetType.fromSQLite(declared: column.declared, isJSON: jsonColumns.contains(column.name))
            var source: String?
            let isIdentity = primaryKey == [column.name] && column.declared.lowercased() == "integer"
            if isIdentity, let hint = decimalHints["\(name).\(column.name)"], hint.1 < 0 {
                type = .bigint  // a Django BigAutoField
                source = "BigAutoField in the Django migrations"
            }
            if case .numeric(_, let scale) = type {
                if let hint = decimalHints["\(name).\(column.name)"], hint.1 >= 0 {
                    type = .numeric(precision: hint.0, scale: hint.1)
                    source = "hint"
                } else if scale >= 0 {
                    source = "declared"
                } else {
                    type = try inferDecimal(database, table: quoted, column: quoteIdentifier(column.name))
                    source = "inferred from the data"
                    notes.append("\(column.name): SQLite declares no precision; \(type) inferred from the data (give --decimal \(name).\(column.name)=P,S or --django-project to use the model's)")
                }
            }
            columns.append(MigrationColumn(name: column.name, declared: column.declared, notNull: column.notNull || primaryKey.contains(column.name),
                                           type: type, isIdentity: isIdentity, typeSource: source))
        }
        var foreignKeys: [Int: MigrationForeignKey] = [:]
        let fkList = try database.prepare("PRAGMA foreign_key_list(\(quoted))")
        while try fkList.step() {
            let id = Int(fkList.int64(0))
            var key = foreignKeys[id] ?? MigrationForeignKey(columns: [], parent: fkList.text(2), parentColumns: [])
            key.columns.append(fkList.text(3))
            key.parentColumns.append(fkList.text(4))
            foreignKeys[id] = key
        }
        var indexes: [MigrationIndex] = []
        let indexList = try database.prepare("PRAGMA index_list(\(quoted))")
        var listed: [(name: String, unique: Bool, origin: String, partial: Bool)] = []
        while try indexList.step() { listed.append((indexList.text(1), indexList.int64(2) != 0, indexList.text(3), indexList.int64(4) != 0)) }
        for index in listed.reversed() where index.origin != "pk" {
            let infoStatement = try database.prepare("PRAGMA index_info(\(quoteIdentifier(index.name)))")
            var indexColumns: [String] = []
            var expression = false
            while try infoStatement.step() {
                if infoStatement.int64(1) < 0 { expression = true } else { indexColumns.append(infoStatement.text(2)) }
            }
            if expression || index.partial {
                notes.append("index \(index.name) has expressions or a WHERE clause; not recreated")
                continue
            }
            let isConstraint = index.origin == "u"
            let indexName = isConstraint ? postgresName("\(name)_\(indexColumns.joined(separator: "_"))_key") : index.name
            indexes.append(MigrationIndex(name: indexName, columns: indexColumns, unique: index.unique, isConstraint: isConstraint))
        }
        let hasRowid = (try? database.prepare("SELECT rowid FROM \(quoted) LIMIT 0")) != nil
        let count = try database.prepare("SELECT count(*) FROM \(quoted)")
        _ = try count.step()
        return MigrationTable(name: name, columns: columns, primaryKey: primaryKey, checks: checks,
                              foreignKeys: foreignKeys.keys.sorted().compactMap { foreignKeys[$0] }, indexes: indexes,
                              sequence: sequence, rowCount: count.int64(0), hasRowid: hasRowid, notes: notes)
    }

    /// A primary key referenced by a `bigint` foreign key is a BigAutoField: make it bigint too.
    private static func promoteReferencedKeys(_ tables: inout [MigrationTable]) {
        var bigKeys = Set<String>()
        for table in tables {
            for key in table.foreignKeys where key.columns.count == 1 {
                if table.columns.first(where: { $0.name == key.columns[0] })?.type == .bigint {
                    bigKeys.insert("\(key.parent).\(key.parentColumns[0])")
                }
            }
        }
        for tableIndex in tables.indices {
            for columnIndex in tables[tableIndex].columns.indices where tables[tableIndex].columns[columnIndex].isIdentity {
                if bigKeys.contains("\(tables[tableIndex].name).\(tables[tableIndex].columns[columnIndex].name)") {
                    tables[tableIndex].columns[columnIndex].type = .bigint
                }
            }
        }
    }

    /// Precision and scale of an undeclared decimal from its values: the most places seen (at least 2,
    /// Django's money convention) and the widest integer part (precision at least 12).
    private static func inferDecimal(_ database: SQLiteDatabase, table: String, column: String) throws -> TargetType {
        let text = "CAST(\(column) AS TEXT)"
        let statement = try database.prepare("""
            SELECT coalesce(max(CASE WHEN instr(\(text), '.') > 0 THEN length(\(text)) - instr(\(text), '.') ELSE 0 END), 0),
                   coalesce(max(length(CAST(abs(CAST(\(column) AS INTEGER)) AS TEXT))), 1)
            FROM \(table) WHERE \(column) IS NOT NULL AND typeof(\(column)) IN ('integer', 'real', 'text') AND \(text) NOT LIKE '%e%'
            """)
        _ = try statement.step()
        let scale = min(max(2, Int(statement.int64(0))), 10)
        let integerDigits = Int(statement.int64(1))
        return .numeric(precision: max(12, integerDigits + scale), scale: scale)
    }

    /// CHECK clauses of a CREATE TABLE statement: name (when `CONSTRAINT "x"` precedes), the column
    /// it follows (inline checks), and the expression inside the parentheses.
    static func checkClauses(in sql: String) -> [(name: String?, column: String?, expression: String)] {
        let characters = Array(sql)
        var results: [(String?, String?, String)] = []
        var index = 0
        var depth = 0
        var currentColumn: String?
        var expectColumn = false
        var lastConstraintName: String?
        var lastQuoted: String?
        while index < characters.count {
            let character = characters[index]
            if character == "\"" || character == "'" || character == "`" {
                var end = index + 1
                var value = ""
                while end < characters.count {
                    if characters[end] == character {
                        if end + 1 < characters.count && characters[end + 1] == character { value.append(character); end += 2; continue }
                        break
                    }
                    value.append(characters[end])
                    end += 1
                }
                if character != "'" {
                    if expectColumn && depth == 1 { currentColumn = value; expectColumn = false }
                    lastQuoted = value
                }
                index = end + 1
                continue
            }
            if character == "(" {
                depth += 1
                if depth == 1 { expectColumn = true }
                index += 1
                continue
            }
            if character == ")" { depth -= 1; index += 1; continue }
            if character == "," && depth == 1 { expectColumn = true; currentColumn = nil; lastConstraintName = nil; index += 1; continue }
            if depth == 1, character.isLetter {
                var end = index
                while end < characters.count, characters[end].isLetter || characters[end] == "_" { end += 1 }
                let word = String(characters[index..<end]).uppercased()
                if expectColumn {
                    if ["CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN"].contains(word) {
                        expectColumn = false
                        currentColumn = nil
                    } else {
                        currentColumn = String(characters[index..<end])
                        expectColumn = false
                    }
                }
                if word == "CONSTRAINT" {
                    // The next identifier is the name.
                    var next = end
                    while next < characters.count, characters[next] == " " { next += 1 }
                    if next < characters.count, characters[next] == "\"" {
                        var close = next + 1
                        var name = ""
                        while close < characters.count, characters[close] != "\"" { name.append(characters[close]); close += 1 }
                        lastConstraintName = name
                        index = close + 1
                        continue
                    }
                }
                if word == "CHECK" {
                    var open = end
                    while open < characters.count, characters[open] != "(" { open += 1 }
                    var close = open + 1
                    var level = 1
                    var quote: Character?
                    while close < characters.count, level > 0 {
                        let c = characters[close]
                        if let q = quote { if c == q { quote = nil } }
                        else if c == "'" || c == "\"" { quote = c }
                        else if c == "(" { level += 1 }
                        else if c == ")" { level -= 1 }
                        close += 1
                    }
                    let expression = String(characters[(open + 1)..<(close - 1)]).trimmingCharacters(in: .whitespaces)
                    results.append((lastConstraintName, currentColumn, expression))
                    lastConstraintName = nil
                    index = close
                    continue
                }
                index = end
                continue
            }
            _ = lastQuoted
            index += 1
        }
        return results
    }
}

/// A PostgreSQL identifier of at most 63 bytes (longer names would be cut silently by the server).
func postgresName(_ name: String) -> String {
    guard name.utf8.count > 63 else { return name }
    var hash: UInt32 = 2166136261
    for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16777619 }
    let suffix = "_" + String(hash, radix: 16)
    var prefix = ""
    for character in name where prefix.utf8.count + character.utf8.count + suffix.utf8.count <= 63 { prefix.append(character) }
    return prefix + suffix
}
