import Foundation

/// One column of a source table, with the PostgreSQL type chosen for it.
public struct MigrationColumn: Sendable {
    /// The name on PostgreSQL (the source's, or its shortening with `--shorten-identifiers`).
    public var name: String
    /// The name in SQLite.
    public var sourceName: String
    /// The SQLite declared type (`varchar(100)`, `decimal`, `bool`...).
    public var declared: String
    public var notNull: Bool
    public var type: TargetType
    /// True for a lone `integer PRIMARY KEY` (the rowid): an identity column on PostgreSQL.
    public var isIdentity: Bool
    /// Where the type came from when it is not read off the declaration alone (`--type`, the data, a hint).
    public var typeSource: String?
    /// The PostgreSQL DEFAULT expression, when the source has one that translates.
    public var defaultSQL: String?
    /// True when the type was chosen from the declaration (not `--type`) and may widen to bigint for the data.
    public var widenable: Bool = false
}

/// A CHECK constraint as written in the SQLite DDL.
public struct MigrationCheck: Sendable {
    /// The constraint name on PostgreSQL (Django's, or `<table>_<column>_check` as PostgreSQL names inline checks).
    public var name: String
    /// The expression in PostgreSQL's SQL (translated from SQLite's).
    public var expression: String
    /// The expression as SQLite has it.
    public var sourceExpression: String
}

/// A foreign key from the source's `PRAGMA foreign_key_list`.
public struct MigrationForeignKey: Sendable {
    public var columns: [String]
    public var parent: String
    public var parentColumns: [String]
    /// `ON DELETE` / `ON UPDATE` actions other than NO ACTION (CASCADE, SET NULL, SET DEFAULT, RESTRICT).
    public var onDelete: String?
    public var onUpdate: String?
    /// `DEFERRABLE INITIALLY DEFERRED` or `DEFERRABLE` as the source's DDL declares it (Django writes the
    /// first), nil for SQLite's default: checked at each statement (`NOT DEFERRABLE` on PostgreSQL).
    public var deferral: String?
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
    /// The name on PostgreSQL.
    public var name: String
    /// The name in SQLite.
    public var sourceName: String
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

/// A view of the source, with its PostgreSQL translation or why there is none.
public struct MigrationView: Sendable {
    public var name: String
    /// SQLite's `CREATE VIEW` statement.
    public var sourceSQL: String
    /// `(columns) AS SELECT ...` in PostgreSQL's SQL, when it translates.
    public var body: String?
    /// Why it is not carried.
    public var problem: String?
}

/// A trigger of the source: not carried (its SQL is written out for a person to port).
public struct MigrationTrigger: Sendable {
    public var name: String
    public var table: String
    public var sql: String
}

/// Everything read from the source: tables, views, triggers, and what stops the migration.
public struct SourceSchema: Sendable {
    public var tables: [MigrationTable]
    public var views: [MigrationView]
    public var triggers: [MigrationTrigger]
    /// Problems that stop the migration before it touches the target (untranslatable CHECKs, long names).
    public var problems: [String]
    /// What was dropped or renamed on request (`--skip-check`, `--shorten-identifiers`), repeated in the summary.
    public var changes: [String]
}

/// Reads the schema of an SQLite database (sqlite_master, PRAGMA table_info/index_list/foreign_key_list).
enum SourceSchemaReader {
    /// Reads every user table (sqlite_* internals excluded), its views and triggers.
    static func read(_ database: SQLiteDatabase, options: MigrationOptions) throws -> SourceSchema {
        var sequences: [String: Int64] = [:]
        if let statement = try? database.prepare("SELECT name, seq FROM sqlite_sequence") {
            while try statement.step() { sequences[statement.text(0)] = statement.int64(1) }
        }
        let list = try database.prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
        var definitions: [(String, String)] = []
        var viewDefinitions: [(String, String)] = []
        var triggers: [MigrationTrigger] = []
        while try list.step() {
            switch list.text(0) {
            case "table": definitions.append((list.text(1), list.text(3)))
            case "view": viewDefinitions.append((list.text(1), list.text(3)))
            default: triggers.append(MigrationTrigger(name: list.text(1), table: list.text(2), sql: list.text(3)))
            }
        }
        var names = IdentifierNames(shorten: options.shortenIdentifiers)
        var tables: [MigrationTable] = []
        for (name, sql) in definitions {
            tables.append(try readTable(database, name: name, sql: sql, sequence: sequences[name] ?? 0, options: options, names: &names))
        }
        promoteReferencedKeys(&tables)
        // `REFERENCES parent` without columns means the parent's primary key.
        for tableIndex in tables.indices {
            for keyIndex in tables[tableIndex].foreignKeys.indices where tables[tableIndex].foreignKeys[keyIndex].parentColumns.contains("") {
                let parent = tables[tableIndex].foreignKeys[keyIndex].parent
                if let key = tables.first(where: { $0.name == parent })?.primaryKey, key.count == tables[tableIndex].foreignKeys[keyIndex].columns.count {
                    tables[tableIndex].foreignKeys[keyIndex].parentColumns = key
                }
            }
        }
        var problems = names.problems
        var changes = names.changes
        for table in tables {
            for note in table.notes where note.hasPrefix("STOP ") { problems.append(String(note.dropFirst(5))) }
            for note in table.notes where note.hasPrefix("CHANGE ") { changes.append(String(note.dropFirst(7))) }
        }
        for index in tables.indices { tables[index].notes.removeAll { $0.hasPrefix("STOP ") || $0.hasPrefix("CHANGE ") } }
        let booleans = Set(tables.flatMap { $0.columns.filter { $0.type == .boolean }.map(\.name) })
        let views = viewDefinitions.map { name, sql -> MigrationView in
            var view = MigrationView(name: names.target(name), sourceSQL: sql)
            do { view.body = try viewBody(sql, translator: SQLiteExpression(booleanColumns: booleans, renamed: names.renamed)) }
            catch { view.problem = "\(error)" }
            return view
        }
        return SourceSchema(tables: tables, views: views, triggers: triggers, problems: problems, changes: changes)
    }

    /// `(columns) AS SELECT ...` of a `CREATE VIEW` statement, translated.
    static func viewBody(_ sql: String, translator: SQLiteExpression) throws -> String {
        let tokens = try SQLiteExpression.tokens(sql)
        var depth = 0
        var columnsStart: Int?
        for (position, token) in tokens.enumerated() {
            if token.text == "(" { if depth == 0 && columnsStart == nil { columnsStart = position }; depth += 1 }
            if token.text == ")" { depth -= 1 }
            if depth == 0, token.kind == .word, token.text.uppercased() == "AS" {
                let columns = columnsStart.map { try? translator.translate(tokens[$0..<position].map(\.text).joined()) } ?? nil
                let select = try translator.translate(tokens[(position + 1)...].map(\.text).joined())
                return (columns.map { $0.trimmingCharacters(in: .whitespaces) + " " } ?? "") + "AS" + select
            }
        }
        throw SQLiteExpression.Untranslatable(reason: "no AS SELECT found")
    }

    private static func readTable(_ database: SQLiteDatabase, name: String, sql: String, sequence: Int64,
                                  options: MigrationOptions, names: inout IdentifierNames) throws -> MigrationTable {
        let quoted = quoteIdentifier(name)
        let target = names.target(name)
        var notes: [String] = []
        let info = try database.prepare("PRAGMA table_info(\(quoted))")
        var raw: [(name: String, declared: String, notNull: Bool, defaultValue: String?, pk: Int)] = []
        while try info.step() {
            raw.append((info.text(1), info.text(2), info.int64(3) != 0, info.storage(4) == .null ? nil : info.text(4), Int(info.int64(5))))
        }
        let sourceChecks = checkClauses(in: sql)
        let jsonColumns = Set(sourceChecks.filter { $0.expression.uppercased().contains("JSON_VALID(") }.compactMap(\.column))
        let primaryKey = raw.filter { $0.pk > 0 }.sorted { $0.pk < $1.pk }.map(\.name)
        let hints = options.decimalHints
        var columns: [MigrationColumn] = []
        for column in raw {
            let key = "\(name).\(column.name)"
            var type = TargetType.fromSQLite(declared: column.declared, isJSON: jsonColumns.contains(column.name))
            var source: String?
            var widenable = type == .integer || type == .smallint
            let isIdentity = primaryKey == [column.name] && column.declared.lowercased() == "integer"
            if let override = options.typeOverrides[key] {
                type = override
                source = "--type"
                widenable = false
            } else if isIdentity {
                // Django makes every key bigint unless its migrations say AutoField (DEFAULT_AUTO_FIELD since 3.2).
                if let hint = hints[key], hint.1 == -2 {
                    source = "AutoField in the Django migrations"
                } else {
                    type = .bigint
                    source = hints[key]?.1 == -1 ? "BigAutoField in the Django migrations" : "integer primary key not declared AutoField: bigint, as Django makes keys"
                }
                widenable = false
            } else if column.declared.trimmingCharacters(in: .whitespaces).isEmpty {
                type = try untypedColumn(database, table: quoted, column: quoteIdentifier(column.name))
                source = "untyped in SQLite; chosen from the data"
            } else if case .numeric(_, let scale) = type, scale < 0 {
                if let hint = hints[key], hint.1 >= 0 {
                    type = .numeric(precision: hint.0, scale: hint.1)
                    source = "hint"
                } else if column.declared.lowercased().hasPrefix("numeric") {
                    type = .decimal
                    source = "numeric without precision: any scale, exact"
                } else {
                    type = try inferDecimal(database, table: quoted, column: quoteIdentifier(column.name))
                    source = "inferred from the data"
                    notes.append("\(column.name): SQLite declares no precision; \(type) inferred from the data (give --decimal \(name).\(column.name)=P,S or --django-project to use the model's)")
                }
            }
            var defaultSQL: String?
            if let value = column.defaultValue, !isIdentity {
                switch defaultExpression(value, type: type) {
                case .success(let expression): defaultSQL = expression
                case .failure(let error): notes.append("\(column.name): DEFAULT \(value) not carried (\(error.reason)); the application must supply the value")
                }
            }
            columns.append(MigrationColumn(name: names.target(column.name), sourceName: column.name, declared: column.declared,
                                           notNull: column.notNull || primaryKey.contains(column.name), type: type, isIdentity: isIdentity,
                                           typeSource: source, defaultSQL: defaultSQL, widenable: widenable))
        }
        let columnNames = Set(raw.map(\.name))
        let translator = SQLiteExpression(booleanColumns: Set(columns.filter { $0.type == .boolean }.map(\.sourceName)), renamed: names.renamed, columns: columnNames)
        var checks: [MigrationCheck] = []
        var used = Set<String>()
        for check in sourceChecks where !check.expression.uppercased().contains("JSON_VALID(") {
            // Unnamed checks are named as PostgreSQL names them: <table>_<column>_check, <table>_check, then 1, 2...
            var constraintName = check.name.map { names.target($0) } ?? postgresName("\(target)_\(check.column.map { "\($0)_" } ?? "")check")
            if check.name == nil {
                let base = constraintName
                var counter = 0
                while used.contains(constraintName) { counter += 1; constraintName = postgresName("\(base)\(counter)") }
            }
            used.insert(constraintName)
            if options.skipChecks.contains(constraintName) || (check.name.map { options.skipChecks.contains($0) } ?? false) {
                notes.append("CHANGE CHECK \(constraintName) (\(check.expression)) on \(name) not carried (--skip-check)")
                continue
            }
            do {
                checks.append(MigrationCheck(name: constraintName, expression: try translator.translate(check.expression), sourceExpression: check.expression))
            } catch {
                notes.append("STOP CHECK \(constraintName) on \(name) (\(check.expression)) cannot be translated to PostgreSQL: \(error). Rewrite it, or give --skip-check \(constraintName) to migrate without it")
            }
        }
        var foreignKeys: [Int: MigrationForeignKey] = [:]
        var sourceKeys: [Int: (parent: String, columns: [String])] = [:]
        let fkList = try database.prepare("PRAGMA foreign_key_list(\(quoted))")
        while try fkList.step() {
            let id = Int(fkList.int64(0))
            func action(_ text: String) -> String? { text.uppercased() == "NO ACTION" || text.isEmpty ? nil : text.uppercased() }
            var key = foreignKeys[id] ?? MigrationForeignKey(columns: [], parent: names.target(fkList.text(2)), parentColumns: [],
                                                             onDelete: action(fkList.text(6)), onUpdate: action(fkList.text(5)))
            key.columns.append(names.target(fkList.text(3)))
            key.parentColumns.append(fkList.storage(4) == .null ? "" : names.target(fkList.text(4)))
            foreignKeys[id] = key
            sourceKeys[id, default: ("", [])].parent = fkList.text(2)
            sourceKeys[id, default: ("", [])].columns.append(fkList.text(3))
        }
        let deferrals = foreignKeyDeferrals(in: sql)
        for (id, source) in sourceKeys {
            foreignKeys[id]?.deferral = deferrals[foreignKeyIdentity(columns: source.columns, parent: source.parent)]
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
                if infoStatement.int64(1) < 0 { expression = true } else { indexColumns.append(names.target(infoStatement.text(2))) }
            }
            if expression || index.partial {
                notes.append("index \(index.name) has expressions or a WHERE clause; not recreated")
                continue
            }
            let isConstraint = index.origin == "u"
            let indexName = isConstraint ? postgresName("\(target)_\(indexColumns.joined(separator: "_"))_key") : names.target(index.name)
            indexes.append(MigrationIndex(name: indexName, columns: indexColumns, unique: index.unique, isConstraint: isConstraint))
        }
        let hasRowid = (try? database.prepare("SELECT rowid FROM \(quoted) LIMIT 0")) != nil
        let count = try database.prepare("SELECT count(*) FROM \(quoted)")
        _ = try count.step()
        return MigrationTable(name: target, sourceName: name, columns: columns, primaryKey: primaryKey.map { names.target($0) }, checks: checks,
                              foreignKeys: foreignKeys.keys.sorted().compactMap { foreignKeys[$0] }, indexes: indexes,
                              sequence: sequence, rowCount: count.int64(0), hasRowid: hasRowid, notes: notes)
    }

    /// The type of a column SQLite declares without one, from what it holds: blobs → bytea, only integers →
    /// bigint, integers and reals → exact numeric, anything else text.
    private static func untypedColumn(_ database: SQLiteDatabase, table: String, column: String) throws -> TargetType {
        let statement = try database.prepare("SELECT max(typeof(\(column)) = 'blob'), max(typeof(\(column)) = 'text'), max(typeof(\(column)) = 'real'), max(typeof(\(column)) = 'integer') FROM \(table)")
        _ = try statement.step()
        if statement.int64(0) == 1 { return .bytea }
        if statement.int64(1) == 1 { return .text }
        if statement.int64(2) == 1 { return .decimal }
        if statement.int64(3) == 1 { return .bigint }
        return .text
    }

    /// The PostgreSQL DEFAULT for SQLite's `dflt_value` text, checked against the column's type.
    static func defaultExpression(_ value: String, type: TargetType) -> Result<String?, SQLiteExpression.Untranslatable> {
        var text = value.trimmingCharacters(in: .whitespaces)
        while text.hasPrefix("("), text.hasSuffix(")"), (try? SQLiteExpression.tokens(String(text.dropFirst().dropLast()))) != nil,
              balanced(text.dropFirst().dropLast()) {
            text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
        }
        let upper = text.uppercased()
        if upper == "NULL" { return .success(nil) }
        let isNumber = Double(text) != nil && !upper.contains("INF") && !upper.contains("NAN")
        let literal: String? = text.count >= 2 && text.hasPrefix("'") && text.hasSuffix("'") ? String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'") : nil
        let now = ["CURRENT_TIMESTAMP", "DATETIME('NOW')", "DATETIME('NOW', 'UTC')", "DATETIME('NOW','UTC')"].contains(upper)
        switch type {
        case .boolean:
            switch (literal ?? text).lowercased() {
            case "1", "true", "t": return .success("true")
            case "0", "false", "f": return .success("false")
            default: return .failure(.init(reason: "not a boolean"))
            }
        case .smallint, .integer, .bigint, .numeric, .decimal, .double:
            if isNumber { return .success(text) }
            if let literal, Double(literal) != nil { return .success(PostgresConnection.literal(literal)) }
            return .failure(.init(reason: "not a number"))
        case .timestamptz:
            if now { return .success("CURRENT_TIMESTAMP") }
            if let literal, parseStoredDatetime(literal) != nil { return .success(PostgresConnection.literal(literal + (literal.contains("+") ? "" : "+00"))) }
        case .date:
            if now || upper == "CURRENT_DATE" || upper == "DATE('NOW')" { return .success("CURRENT_DATE") }
            if let literal, CivilDate(iso: literal) != nil { return .success(PostgresConnection.literal(literal)) }
        case .text, .varchar, .char:
            // SQLite writes its clock as text: keep that form in a text column.
            if now { return .success("to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')") }
            if upper == "CURRENT_DATE" || upper == "DATE('NOW')" { return .success("to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD')") }
            if let literal {
                if case .varchar(let limit) = type, literal.count > limit { return .failure(.init(reason: "longer than \(type)")) }
                return .success(PostgresConnection.literal(literal))
            }
            if isNumber { return .success(PostgresConnection.literal(text)) }
        case .jsonb:
            if let literal, let data = literal.data(using: .utf8), (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
                return .success(PostgresConnection.literal(literal))
            }
            return .failure(.init(reason: "not JSON"))
        case .bytea:
            if upper.hasPrefix("X'") { return (try? SQLiteExpression().translate(text)).map { .success($0) } ?? .failure(.init(reason: "not a blob")) }
        case .time:
            break
        }
        do { return .success(try SQLiteExpression().translate(text)) } catch let error as SQLiteExpression.Untranslatable { return .failure(error) } catch { return .failure(.init(reason: "\(error)")) }
    }

    private static func balanced(_ text: Substring) -> Bool {
        var depth = 0
        var quote: Character?
        for character in text {
            if let open = quote { if character == open { quote = nil }; continue }
            if character == "'" || character == "\"" { quote = character }
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1; if depth < 0 { return false } }
        }
        return depth == 0
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
        let scale = min(max(2, Int(statement.int64(0))), Money.maxScale)
        let integerDigits = Int(statement.int64(1))
        return .numeric(precision: max(12, integerDigits + scale), scale: scale)
    }

    /// CHECK clauses of a CREATE TABLE statement: name (when `CONSTRAINT "x"` precedes), the column
    /// it follows (inline checks), and the expression inside the parentheses.
    /// How a foreign key is known in `foreignKeyDeferrals`: its columns and parent as SQLite names them, case-folded.
    static func foreignKeyIdentity(columns: [String], parent: String) -> String {
        (columns + [parent]).map { $0.lowercased() }.joined(separator: "\u{0}")
    }

    /// The deferral each foreign key of a `CREATE TABLE` declares, by `foreignKeyIdentity`: `DEFERRABLE
    /// INITIALLY DEFERRED` or `DEFERRABLE` (initially immediate); absent for `NOT DEFERRABLE` or nothing
    /// (SQLite then checks it at each statement, as PostgreSQL does by default).
    static func foreignKeyDeferrals(in sql: String) -> [String: String] {
        guard let tokens = try? SQLiteExpression.tokens(sql).filter({ $0.kind != .space }) else { return [:] }
        // The column and constraint definitions: the tokens between the top-level commas of the outer parentheses.
        var definitions: [[SQLiteExpression.Token]] = []
        var depth = 0
        for token in tokens {
            if token.kind == .symbol && token.text == ")" {
                depth -= 1
                if depth == 0 { break }
            }
            if depth == 1 && token.kind == .symbol && token.text == "," {
                definitions.append([])
            } else if depth >= 1 {
                if definitions.isEmpty { definitions.append([]) }
                definitions[definitions.count - 1].append(token)
            }
            if token.kind == .symbol && token.text == "(" { depth += 1 }
        }
        func isWord(_ token: SQLiteExpression.Token?, _ word: String) -> Bool {
            token.map { $0.kind == .word && $0.text.uppercased() == word } ?? false
        }
        var result: [String: String] = [:]
        for definition in definitions where !definition.isEmpty {
            guard let references = definition.firstIndex(where: { isWord($0, "REFERENCES") }), references + 1 < definition.count else { continue }
            var columns: [String] = []
            if let foreign = definition.firstIndex(where: { isWord($0, "FOREIGN") }), foreign < references {
                columns = definition[foreign..<references].filter { $0.kind == .word || $0.kind == .quoted }.map(\.name).filter { $0.uppercased() != "FOREIGN" && $0.uppercased() != "KEY" }
            } else if definition[0].kind == .word || definition[0].kind == .quoted {
                columns = [definition[0].name]
            }
            let parent = definition[references + 1].name
            var deferral: String?
            for position in (references + 1)..<definition.count where isWord(definition[position], "DEFERRABLE") {
                guard !isWord(definition[position - 1], "NOT") else { break }
                let deferred = position + 2 < definition.count && isWord(definition[position + 1], "INITIALLY") && isWord(definition[position + 2], "DEFERRED")
                deferral = deferred ? "DEFERRABLE INITIALLY DEFERRED" : "DEFERRABLE"
                break
            }
            result[foreignKeyIdentity(columns: columns, parent: parent)] = deferral
        }
        return result
    }

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

/// The PostgreSQL names of source identifiers: the same when they fit in 63 bytes; longer ones are a
/// problem (PostgreSQL would cut them silently), or with `--shorten-identifiers` shortened
/// deterministically (`postgresName`) and reported.
struct IdentifierNames {
    let shorten: Bool
    private(set) var renamed: [String: String] = [:]
    private(set) var problems: [String] = []
    private(set) var changes: [String] = []

    init(shorten: Bool) { self.shorten = shorten }

    mutating func target(_ name: String) -> String {
        let bytes = name.utf8.count
        guard bytes > 63 else { return name }
        if let done = renamed[name] { return done }
        let short = postgresName(name)
        renamed[name] = short
        if shorten {
            changes.append("identifier \(name) (\(bytes) bytes) shortened to \(short) (--shorten-identifiers)")
        } else {
            var cut = ""
            for character in name where cut.utf8.count + character.utf8.count <= 63 { cut.append(character) }
            problems.append("identifier \(name) is \(bytes) bytes, longer than PostgreSQL's 63: it would be cut to \(cut). Rename it in the source, or give --shorten-identifiers (it becomes \(short))")
        }
        return short
    }
}
