import Foundation

/// A `query:` that is a plain FULL JOIN of two tables on the left one's INTEGER PRIMARY KEY,
///
///     SELECT a.x, b.y AS z, ... FROM left_table a FULL [OUTER] JOIN right_table b ON b.key = a.id
///
/// read as two scans merged in key order instead of SQLite's index probe per left row: the left
/// table by rowid (its key order), the right one through an index on its key. Memory stays flat:
/// only the rowids of right rows without a match are kept, and emitted last in rowid order. The rows
/// come out exactly as SQLite's FULL JOIN gives them (left rows in rowid order, each with its
/// matches in rowid order or with nulls, then the unmatched right rows in rowid order); any other
/// query, or a table this cannot be sure about, runs in SQLite as written.
struct SQLiteFullJoin {
    /// One column of the query's result: which table it comes from, its name there, its name in the result.
    struct Item {
        var right: Bool
        var column: String
        var name: String
    }

    var leftTable: String
    var rightTable: String
    var leftKey: String
    var rightKey: String
    var items: [Item]

    /// Recognizes the query's shape (nothing else: no WHERE, no expression, no comment), or nil.
    static func parse(_ sql: String) -> SQLiteFullJoin? {
        guard var tokens = SQLTokens(sql) else { return nil }
        guard tokens.keyword("SELECT") else { return nil }
        var references: [(alias: String, column: String, name: String)] = []
        repeat {
            guard let alias = tokens.identifier(), tokens.symbol("."), let column = tokens.identifier() else { return nil }
            var name = column
            if tokens.keyword("AS") {
                guard let given = tokens.identifier() else { return nil }
                name = given
            }
            references.append((alias, column, name))
        } while tokens.symbol(",")
        guard tokens.keyword("FROM"), let leftTable = tokens.identifier() else { return nil }
        _ = tokens.keyword("AS")
        guard let leftAlias = tokens.identifier(), tokens.keyword("FULL") else { return nil }
        _ = tokens.keyword("OUTER")
        guard tokens.keyword("JOIN"), let rightTable = tokens.identifier() else { return nil }
        _ = tokens.keyword("AS")
        guard let rightAlias = tokens.identifier(), tokens.keyword("ON"),
              let firstAlias = tokens.identifier(), tokens.symbol("."), let firstColumn = tokens.identifier(), tokens.symbol("="),
              let secondAlias = tokens.identifier(), tokens.symbol("."), let secondColumn = tokens.identifier() else { return nil }
        while tokens.symbol(";") {}
        guard tokens.atEnd, leftAlias.lowercased() != rightAlias.lowercased() else { return nil }
        let sides = [(firstAlias.lowercased(), firstColumn), (secondAlias.lowercased(), secondColumn)]
        guard let leftKey = sides.first(where: { $0.0 == leftAlias.lowercased() })?.1,
              let rightKey = sides.first(where: { $0.0 == rightAlias.lowercased() })?.1 else { return nil }
        var items: [Item] = []
        for reference in references {
            let alias = reference.alias.lowercased()
            guard alias == leftAlias.lowercased() || alias == rightAlias.lowercased() else { return nil }
            items.append(Item(right: alias == rightAlias.lowercased(), column: reference.column, name: reference.name))
        }
        // Two result columns of one name are ambiguous to the outer SELECT: leave that to SQLite.
        guard Set(items.map { $0.name.lowercased() }).count == items.count else { return nil }
        return SQLiteFullJoin(leftTable: leftTable, rightTable: rightTable, leftKey: leftKey, rightKey: rightKey, items: items)
    }

    /// Whether the merge gives what SQLite gives for this database: the left key is the left table's
    /// INTEGER PRIMARY KEY (its rowid, so a rowid scan is in key order and every key an integer), the
    /// right key has integer affinity (only integers can equal it) and an index reads it in order, and
    /// SQLite's own plan scans the left table by rowid.
    func holds(in database: SQLiteDatabase, query: String) throws -> Bool {
        func tableInfo(_ table: String) throws -> [(name: String, type: String, pk: Int64)] {
            let info = try database.prepare("PRAGMA table_info(\(quoteIdentifier(table)))")
            var columns: [(String, String, Int64)] = []
            while try info.step() { columns.append((info.text(1), info.text(2), info.int64(5))) }
            return columns
        }
        let left = try tableInfo(leftTable), right = try tableInfo(rightTable)
        let keys = left.filter { $0.pk > 0 }
        guard keys.count == 1, let key = keys.first, key.name.lowercased() == leftKey.lowercased(), key.type.uppercased() == "INTEGER",
              (try? database.prepare("SELECT rowid FROM \(quoteIdentifier(leftTable)) LIMIT 0")) != nil,
              let rightKeyColumn = right.first(where: { $0.name.lowercased() == rightKey.lowercased() }),
              rightKeyColumn.type.uppercased().contains("INT"),
              (try? database.prepare("SELECT rowid FROM \(quoteIdentifier(rightTable)) LIMIT 0")) != nil else { return false }
        for item in items {
            let columns = item.right ? right : left
            guard columns.contains(where: { $0.name.lowercased() == item.column.lowercased() }) else { return false }
        }
        func plan(_ sql: String) throws -> [String] {
            let statement = try database.prepare("EXPLAIN QUERY PLAN \(sql)")
            var lines: [String] = []
            while try statement.step() { lines.append(statement.text(3)) }
            return lines
        }
        // SQLite's FULL JOIN: the left table scanned by rowid, the right one searched, then its unmatched rows.
        let joinPlan = try plan(query)
        guard let first = joinPlan.first, first.hasPrefix("SCAN "), !first.contains("INDEX"),
              joinPlan.contains(where: { $0.hasPrefix("RIGHT-JOIN") }) else { return false }
        // The right table in key order without sorting it in a temporary B-tree (an index walk).
        return try !plan(rightSQL).contains { $0.contains("TEMP B-TREE") }
    }

    /// The left table's columns the result needs, after its key.
    var leftColumns: [String] { items.filter { !$0.right }.map(\.column) }
    /// The right table's columns the result needs, after its key and rowid.
    var rightColumns: [String] { items.filter(\.right).map(\.column) }

    var leftSQL: String {
        "SELECT \(([leftKey] + leftColumns).map(quoteIdentifier).joined(separator: ", ")) FROM \(quoteIdentifier(leftTable)) ORDER BY rowid"
    }

    var rightSQL: String {
        let columns = ([rightKey, "rowid"] + rightColumns).map { $0 == "rowid" ? $0 : quoteIdentifier($0) }
        return "SELECT \(columns.joined(separator: ", ")) FROM \(quoteIdentifier(rightTable)) ORDER BY \(quoteIdentifier(rightKey)), rowid"
    }

    var rightByRowidSQL: String {
        let columns = ([rightKey, "rowid"] + rightColumns).map { $0 == "rowid" ? $0 : quoteIdentifier($0) }
        return "SELECT \(columns.joined(separator: ", ")) FROM \(quoteIdentifier(rightTable)) WHERE rowid = ?"
    }

    /// Where a result column is read: the statement (left or right) and its index there.
    func source(ofResultColumn name: String) -> (right: Bool, index: Int)? {
        guard let item = items.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        let position = items.filter { $0.right == item.right }.firstIndex { $0.name == item.name } ?? 0
        return (item.right, item.right ? position + 2 : position + 1)
    }

    /// The statements of one read, prepared (so that preparing fails before any row is read).
    func merge(in database: SQLiteDatabase, sources: [(right: Bool, index: Int)]) throws -> Merge {
        Merge(left: try database.prepare(leftSQL), right: try database.prepare(rightSQL),
              rightByRowid: try database.prepare(rightByRowidSQL), sources: sources)
    }

    /// One read of the join.
    struct Merge {
        let left: SQLiteStatement
        let right: SQLiteStatement
        let rightByRowid: SQLiteStatement
        /// Per result column of the extract: the statement (right or left) and its column there.
        let sources: [(right: Bool, index: Int)]

        /// Calls `row` once per result row, in SQLite's order, with the left and right statements on
        /// the row's tables (nil for a side that is null). `step` advances a statement.
        func run(step: (SQLiteStatement) throws -> Bool, row: (SQLiteStatement?, SQLiteStatement?) throws -> Void) throws {
            var unmatched: [Int64] = []
            var rightHasRow = try step(right)
            while try step(left) {
                let key = left.int64(0)
                // Right rows before this key, or with a key that is no integer (null, real, text): no left row has them.
                while rightHasRow, right.storage(0) != .integer || right.int64(0) < key {
                    unmatched.append(right.int64(1))
                    rightHasRow = try step(right)
                }
                var matched = false
                while rightHasRow, right.storage(0) == .integer, right.int64(0) == key {
                    try row(left, right)
                    matched = true
                    rightHasRow = try step(right)
                }
                if !matched { try row(left, nil) }
            }
            while rightHasRow {
                unmatched.append(right.int64(1))
                rightHasRow = try step(right)
            }
            for rowid in unmatched.sorted() {
                rightByRowid.reset()
                try rightByRowid.bind(rowid, at: 1)
                if try step(rightByRowid) { try row(nil, rightByRowid) }
            }
        }
    }
}

/// The tokens of a small SQL text: identifiers (bare, "quoted", `quoted` or [quoted]) and the
/// symbols `.`, `,`, `=`, `;`. Anything else (a comment, a string, an operator) stops the parse.
struct SQLTokens {
    private enum Token: Equatable { case word(String), quoted(String), symbol(Character) }
    private var tokens: [Token] = []
    private var position = 0

    init?(_ sql: String) {
        var characters = Array(sql)[...]
        while let character = characters.first {
            if character.isWhitespace {
                characters.removeFirst()
            } else if ".,=;".contains(character) {
                tokens.append(.symbol(character))
                characters.removeFirst()
            } else if character == "_" || character.isLetter {
                let word = characters.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
                tokens.append(.word(String(word)))
                characters.removeFirst(word.count)
            } else if let close = SQLTokens.closingQuotes[character] {
                characters.removeFirst()
                guard let end = characters.firstIndex(of: close) else { return nil }
                let name = String(characters[..<end])
                // A doubled quote inside a quoted name: rare, leave it to SQLite.
                if characters.index(after: end) < characters.endIndex, characters[characters.index(after: end)] == close { return nil }
                tokens.append(.quoted(name))
                characters = characters[characters.index(after: end)...]
            } else {
                return nil
            }
        }
    }

    var atEnd: Bool { position == tokens.count }

    /// Takes a keyword (case-insensitive, unquoted).
    mutating func keyword(_ word: String) -> Bool {
        guard position < tokens.count, case .word(let found) = tokens[position], found.uppercased() == word else { return false }
        position += 1
        return true
    }

    /// Takes an identifier that is not one of the keywords above.
    mutating func identifier() -> String? {
        guard position < tokens.count else { return nil }
        switch tokens[position] {
        case .quoted(let name):
            position += 1
            return name
        case .word(let name) where !SQLTokens.reserved.contains(name.uppercased()):
            position += 1
            return name
        default:
            return nil
        }
    }

    mutating func symbol(_ character: Character) -> Bool {
        guard position < tokens.count, tokens[position] == .symbol(character) else { return false }
        position += 1
        return true
    }

    private static let closingQuotes: [Character: Character] = ["\"": "\"", "`": "`", "[": "]"]

    private static let reserved: Set<String> = ["SELECT", "FROM", "AS", "FULL", "OUTER", "JOIN", "ON", "WHERE", "LEFT", "RIGHT",
                                                "INNER", "CROSS", "NATURAL", "USING", "GROUP", "ORDER", "LIMIT", "UNION", "DISTINCT", "ALL"]
}
