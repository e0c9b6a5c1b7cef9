import Foundation

/// Translates SQLite SQL text (a CHECK or DEFAULT expression, a view's SELECT) into PostgreSQL.
///
/// Token by token, so text that already reads the same on both databases comes out byte for byte
/// as it went in: `[a]` and `` `a` `` become `"a"`, `==` becomes `=`, `GLOB 'p'` a regular
/// expression match, `LIKE` (ASCII case-insensitive in SQLite) `ILIKE`, `a IS b` `IS NOT DISTINCT
/// FROM`, `ifnull`/`instr`/`group_concat` their PostgreSQL names, `datetime('now')` and
/// `date('now')` `CURRENT_TIMESTAMP`/`CURRENT_DATE`, `X'..'` a bytea literal, `0`/`1` compared with a
/// boolean column `false`/`true`, and unquoted mixed-case names are quoted (SQLite keeps their case).
/// A function or construct with no faithful PostgreSQL spelling (`typeof`, `strftime`, `COLLATE
/// NOCASE`...) makes the translation fail with the reason.
struct SQLiteExpression {
    /// Column names whose PostgreSQL type is boolean (for `flag = 1`).
    var booleanColumns: Set<String> = []
    /// Source identifiers renamed on PostgreSQL (`--shorten-identifiers`).
    var renamed: [String: String] = [:]
    /// The names a double-quoted token may be (a table's columns); SQLite reads any other `"x"` as the string 'x'.
    var columns: Set<String>?

    /// Why a text cannot be translated.
    struct Untranslatable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    enum Kind: Equatable { case word, quoted, string, blob, number, symbol, space, parameter }

    struct Token {
        var kind: Kind
        var text: String
        /// For words and quoted identifiers, the identifier itself.
        var name: String { kind == .quoted ? Self.unquote(text) : text }

        static func unquote(_ text: String) -> String {
            guard let first = text.first, text.count >= 2 else { return text }
            let inner = String(text.dropFirst().dropLast())
            switch first {
            case "[": return inner
            case "`": return inner.replacingOccurrences(of: "``", with: "`")
            default: return inner.replacingOccurrences(of: "\"\"", with: "\"")
            }
        }
    }

    /// Splits SQL into tokens, whitespace and comments included (they are copied as they are).
    static func tokens(_ sql: String) throws -> [Token] {
        let characters = Array(sql)
        var result: [Token] = []
        var index = 0
        func take(_ kind: Kind, _ end: Int) {
            result.append(Token(kind: kind, text: String(characters[index..<end])))
            index = end
        }
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                var end = index
                while end < characters.count, characters[end].isWhitespace { end += 1 }
                take(.space, end)
            } else if character == "-", index + 1 < characters.count, characters[index + 1] == "-" {
                var end = index
                while end < characters.count, characters[end] != "\n" { end += 1 }
                take(.space, end)
            } else if character == "/", index + 1 < characters.count, characters[index + 1] == "*" {
                var end = index + 2
                while end + 1 < characters.count, !(characters[end] == "*" && characters[end + 1] == "/") { end += 1 }
                take(.space, min(end + 2, characters.count))
            } else if character == "'" || character == "\"" || character == "`" || character == "[" {
                let close: Character = character == "[" ? "]" : character
                var end = index + 1
                while true {
                    guard end < characters.count else { throw Untranslatable(reason: "unterminated \(character) in \(sql.prefix(80))") }
                    if characters[end] == close {
                        if close != "]", end + 1 < characters.count, characters[end + 1] == close { end += 2; continue }
                        break
                    }
                    end += 1
                }
                let isBlob = character == "'" && (result.last.map { $0.kind == .word && $0.text.uppercased() == "X" } ?? false)
                if isBlob { result.removeLast(); index -= 1 }
                take(isBlob ? .blob : (character == "'" ? .string : .quoted), end + 1)
            } else if character.isNumber || (character == "." && index + 1 < characters.count && characters[index + 1].isNumber) {
                var end = index
                while end < characters.count, characters[end].isNumber || characters[end] == "." || characters[end].isLetter
                        || ((characters[end] == "+" || characters[end] == "-") && "eE".contains(characters[end - 1])) { end += 1 }
                take(.number, end)
            } else if character.isLetter || character == "_" {
                var end = index
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" || characters[end] == "$" { end += 1 }
                take(.word, end)
            } else if character == "?" || character == ":" || character == "@" || (character == "$" && index + 1 < characters.count && characters[index + 1].isLetter) {
                var end = index + 1
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" { end += 1 }
                take(.parameter, end)
            } else {
                let two = index + 1 < characters.count ? String(characters[index...index + 1]) : ""
                if ["==", "!=", "<>", "<=", ">=", "||", "<<", ">>"].contains(two) { take(.symbol, index + 2) } else { take(.symbol, index + 1) }
            }
        }
        return result
    }

    /// Words that are SQL, not names (kept as written).
    static let keywords: Set<String> = [
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "NULL", "IS", "IN", "AS", "ON", "JOIN", "LEFT", "RIGHT", "FULL", "INNER",
        "OUTER", "CROSS", "NATURAL", "USING", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "CASE", "WHEN", "THEN", "ELSE",
        "END", "DISTINCT", "ALL", "UNION", "EXCEPT", "INTERSECT", "BETWEEN", "LIKE", "ILIKE", "ESCAPE", "EXISTS", "CAST", "ASC",
        "DESC", "TRUE", "FALSE", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "WITH", "RECURSIVE", "FILTER", "OVER",
        "PARTITION", "ROWS", "RANGE", "PRECEDING", "FOLLOWING", "UNBOUNDED", "CURRENT", "ROW", "NULLS", "FIRST", "LAST",
        "INTEGER", "INT", "BIGINT", "SMALLINT", "TEXT", "REAL", "NUMERIC", "DECIMAL", "VARCHAR", "CHAR", "BOOLEAN", "DATE",
        "VALUES", "ANY", "SOME", "WINDOW",
    ]

    /// SQLite functions PostgreSQL has under the same name and meaning.
    static let sameFunctions: Set<String> = [
        "COUNT", "SUM", "AVG", "MIN", "MAX", "LOWER", "UPPER", "LENGTH", "ABS", "COALESCE", "NULLIF", "TRIM", "LTRIM", "RTRIM",
        "REPLACE", "SUBSTR", "SUBSTRING", "ROUND", "RANDOM", "ROW_NUMBER", "RANK", "DENSE_RANK", "LAG", "LEAD", "CHAR_LENGTH",
    ]

    /// PostgreSQL text for SQLite `sql`, or `Untranslatable` with the reason.
    func translate(_ sql: String) throws -> String {
        let tokens = try Self.tokens(sql)
        var out: [Token] = []
        /// The last token that is not a space.
        func previous(_ back: Int = 1) -> Token? {
            var seen = 0
            for token in out.reversed() where token.kind != .space {
                seen += 1
                if seen == back { return token }
            }
            return nil
        }
        func nextSignificant(after position: Int) -> Int? {
            var next = position + 1
            while next < tokens.count, tokens[next].kind == .space { next += 1 }
            return next < tokens.count ? next : nil
        }
        var index = 0
        var depth = 0
        // Inside `flag IN (0, 1)` of a boolean column: the depth of its list.
        var booleanList: Int?
        while index < tokens.count {
            var token = tokens[index]
            let upper = token.text.uppercased()
            if token.text == "(" {
                depth += 1
                if booleanList == nil, previous()?.text.uppercased() == "IN", let column = previous(2), booleanColumns.contains(column.name) { booleanList = depth }
            }
            if token.text == ")" { if booleanList == depth { booleanList = nil }; depth -= 1 }
            switch token.kind {
            case .parameter:
                throw Untranslatable(reason: "parameter \(token.text)")
            case .blob:
                token = Token(kind: .string, text: "'\\x" + token.text.dropFirst(2).dropLast() + "'::bytea")
            case .quoted:
                if token.text.first == "\"", let columns, !columns.contains(token.name) {
                    token = Token(kind: .string, text: PostgresConnection.literal(token.name))
                } else {
                    token.text = quoteIdentifier(renamed[token.name] ?? token.name)
                }
            case .symbol where token.text == "==":
                token.text = "="
            case .number where (token.text == "0" || token.text == "1"):
                if booleanList == depth, let last = previous(), last.text == "(" || last.text == "," {
                    token = Token(kind: .word, text: token.text == "1" ? "true" : "false")
                } else if let operatorToken = previous(), ["=", "==", "!=", "<>"].contains(operatorToken.text),
                   let column = previous(2), column.kind == .word || column.kind == .quoted, booleanColumns.contains(column.name) {
                    token = Token(kind: .word, text: token.text == "1" ? "true" : "false")
                }
            case .word:
                let next = nextSignificant(after: index)
                let isCall = next.map { tokens[$0].text == "(" } ?? false
                if isCall && !Self.keywords.contains(upper) {
                    token.text = try function(upper, token.text, tokens, at: index, next: next ?? index, skip: &index)
                    break
                }
                switch upper {
                case "GLOB", "REGEXP":
                    guard let patternIndex = next, tokens[patternIndex].kind == .string else {
                        throw Untranslatable(reason: "\(token.text) with a pattern that is not a literal")
                    }
                    let negated = previous()?.text.uppercased() == "NOT"
                    if negated, let last = out.lastIndex(where: { $0.kind != .space }) { out.removeSubrange(last...) ; while out.last?.kind == .space { out.removeLast() }; out.append(Token(kind: .space, text: " ")) }
                    let pattern = Token.unquote(tokens[patternIndex].text).replacingOccurrences(of: "''", with: "'")
                    let regex = upper == "GLOB" ? Self.regex(fromGlob: pattern) : pattern
                    out.append(Token(kind: .symbol, text: negated ? "!~" : "~"))
                    out.append(Token(kind: .space, text: " "))
                    out.append(Token(kind: .string, text: PostgresConnection.literal(regex)))
                    index = patternIndex + 1
                    continue
                case "LIKE":
                    token.text = "ILIKE"
                case "IS":
                    // `a IS b` compares values NULL-safely; PostgreSQL spells it IS NOT DISTINCT FROM.
                    var look = next
                    var negated = false
                    if let position = look, tokens[position].text.uppercased() == "NOT" { negated = true; look = nextSignificant(after: position) }
                    if let position = look, !["NULL", "TRUE", "FALSE", "DISTINCT"].contains(tokens[position].text.uppercased()) {
                        token.text = negated ? "IS DISTINCT FROM" : "IS NOT DISTINCT FROM"
                        out.append(token)
                        index = negated ? (next ?? index) + 1 : index + 1
                        continue
                    }
                case "COLLATE":
                    throw Untranslatable(reason: "COLLATE \(next.map { tokens[$0].text } ?? "") has no PostgreSQL equivalent")
                case "BLOB":
                    token.text = "bytea"
                case "MATCH":
                    throw Untranslatable(reason: "MATCH")
                default:
                    if !Self.keywords.contains(upper) {
                        // A name: PostgreSQL folds unquoted names to lower case, SQLite keeps them.
                        let target = renamed[token.text] ?? token.text
                        if target != target.lowercased() || target != token.text { token.text = quoteIdentifier(target) }
                    }
                }
            default:
                break
            }
            out.append(token)
            index += 1
        }
        return out.map(\.text).joined()
    }

    /// The PostgreSQL spelling of a call to SQLite function `upper` (`original` as written).
    private func function(_ upper: String, _ original: String, _ tokens: [Token], at index: Int, next open: Int, skip index_: inout Int) throws -> String {
        // Arguments as text, for the calls that only make sense with a literal.
        var depth = 0
        var close = open
        var arguments: [String] = [""]
        for position in open..<tokens.count {
            let text = tokens[position].text
            if text == "(" { depth += 1; if depth == 1 { continue } }
            if text == ")" { depth -= 1; if depth == 0 { close = position; break } }
            if text == "," && depth == 1 { arguments.append(""); continue }
            if tokens[position].kind != .space { arguments[arguments.count - 1] += text }
        }
        let literalNow = arguments.count == 1 && arguments[0].lowercased() == "'now'"
        switch upper {
        case _ where Self.sameFunctions.contains(upper):
            if (upper == "MIN" || upper == "MAX") && arguments.count > 1 { return upper == "MIN" ? "least" : "greatest" }
            return original
        case "IFNULL": return "coalesce"
        case "INSTR": return "strpos"
        case "TOTAL": return "sum"
        case "GROUP_CONCAT":
            if arguments.count == 1 {
                // string_agg needs its separator: SQLite's default is a comma.
                index_ = close  // the closing parenthesis is emitted by the caller's loop
                let inner = try translate(tokens[(open + 1)..<close].map(\.text).joined())
                return "string_agg((\(inner))::text, ',')"
            }
            return "string_agg"
        case "DATETIME" where literalNow:
            index_ = close
            return "CURRENT_TIMESTAMP"
        case "DATE" where literalNow:
            index_ = close
            return "CURRENT_DATE"
        case "TIME" where literalNow:
            index_ = close
            return "LOCALTIME(0)"
        default:
            throw Untranslatable(reason: "function \(original)() has no PostgreSQL equivalent stockflow knows")
        }
    }

    /// A POSIX regular expression matching what an SQLite GLOB pattern matches (anchored, case-sensitive).
    static func regex(fromGlob glob: String) -> String {
        var out = "^"
        var inClass = false
        for character in glob {
            if inClass {
                out.append(character)
                if character == "]" { inClass = false }
                continue
            }
            switch character {
            case "*": out += ".*"
            case "?": out += "."
            case "[": out += "["; inClass = true
            case ".", "+", "(", ")", "{", "}", "^", "$", "|", "\\": out += "\\\(character)"
            default: out.append(character)
            }
        }
        return out + "$"
    }
}
