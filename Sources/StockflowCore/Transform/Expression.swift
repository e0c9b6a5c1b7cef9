/// A small row expression used by `filter` and `select`: column names, literals ('text', 12, 1.5,
/// true, false, null), comparisons (= != < <= > >=), `and`, `or`, `not`, `+ - *`, and the functions
/// month(d) "YYYY-MM", year(d), day(d), iso_week(d) "YYYY-Www" (datetimes read in the pipeline's
/// time zone), coalesce(a, b), is_null(a).
public indirect enum Expression: Sendable, CustomStringConvertible {
    case column(Int, String)
    case literal(Value)
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    case call(String, [Expression])

    /// A parse or binding problem, with its character offset in the expression text.
    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var offset: Int
        public var description: String { message }
    }

    static let functions: [String: Int] = ["month": 1, "year": 1, "day": 1, "iso_week": 1, "coalesce": 2, "is_null": 1]
    /// The functions of a date's calendar (`apply(calendarFunction:)`).
    static let calendarFunctions: Set<String> = ["month", "year", "day", "iso_week"]

    /// Parses `text`, binding column names to positions in `schema`.
    public static func parse(_ text: String, schema: Schema) throws -> Expression {
        var parser = ExpressionParser(text: text, schema: schema)
        let expression = try parser.parseOr()
        parser.skipSpaces()
        if parser.index < parser.bytes.count {
            throw ParseError(message: "unexpected '\(parser.rest)' in expression '\(text)'", offset: parser.index)
        }
        return expression
    }

    /// Evaluates against one row; comparisons with null are false, arithmetic with null is null.
    /// Calendar functions read datetimes as days of `calendar`'s time zone (UTC when nil).
    public func evaluate(_ row: Row, calendar: LocalCalendar? = nil) throws -> Value {
        switch self {
        case .column(let index, _): return row[index]
        case .literal(let value): return value
        case .unary(let op, let operand):
            return try Self.apply(unary: op, try operand.evaluate(row, calendar: calendar))
        case .binary(let op, let left, let right):
            if op == "and" || op == "or" {
                let leftTrue = try left.evaluate(row, calendar: calendar) == .bool(true)
                if op == "and" && !leftTrue { return .bool(false) }
                if op == "or" && leftTrue { return .bool(true) }
                return .bool(try right.evaluate(row, calendar: calendar) == .bool(true))
            }
            return try Self.apply(binary: op, try left.evaluate(row, calendar: calendar), try right.evaluate(row, calendar: calendar))
        case .call(let name, let arguments):
            let values = try arguments.map { try $0.evaluate(row, calendar: calendar) }
            switch name {
            case "coalesce": return values[0].isNull ? values[1] : values[0]
            case "is_null": return .bool(values[0].isNull)
            default: return Self.apply(calendarFunction: name, values[0], calendar: calendar)
            }
        }
    }

    /// One row's evaluation, decided once per stage instead of per row: the tree is walked when the
    /// stage is built, each node becomes a closure over its operands' closures, and a column or a
    /// literal is read directly. Gives exactly what `evaluate` gives (both share the operators below).
    public typealias Compiled = (Row) throws -> Value

    /// Compiles the expression for `calendar` (see `evaluate`).
    public func compiled(calendar: LocalCalendar? = nil) -> Compiled {
        switch self {
        case .column(let index, _): return { row in row[index] }
        case .literal(let value): return { _ in value }
        case .unary(let op, let operand):
            let inner = operand.compiled(calendar: calendar)
            return { row in try Self.apply(unary: op, try inner(row)) }
        case .binary(let op, let left, let right):
            let lhs = left.compiled(calendar: calendar), rhs = right.compiled(calendar: calendar)
            switch op {
            case "and": return { row in .bool(try lhs(row) == .bool(true) && (try rhs(row) == .bool(true))) }
            case "or": return { row in .bool(try lhs(row) == .bool(true) || (try rhs(row) == .bool(true))) }
            default: return { row in try Self.apply(binary: op, try lhs(row), try rhs(row)) }
            }
        case .call(let name, let arguments):
            let compiledArguments = arguments.map { $0.compiled(calendar: calendar) }
            switch name {
            case "coalesce":
                let first = compiledArguments[0], second = compiledArguments[1]
                return { row in
                    let value = try first(row)
                    return value.isNull ? try second(row) : value
                }
            case "is_null":
                let argument = compiledArguments[0]
                return { row in .bool(try argument(row).isNull) }
            default:
                // The function is chosen here, not per row, and the local days come from a table by hour.
                let argument = compiledArguments[0]
                let function = Self.calendarFunction(named: name)
                let days = calendar.map(LocalDays.init)
                func apply(_ value: Value) -> Value {
                    guard let date = days?.day(of: value) ?? value.asDate else { return .null }
                    return function(date)
                }
                if case .column(let index, _) = arguments[0] {
                    // month(column), the monthly grouping of most reports: no closure call for the argument.
                    return { row in apply(row[index]) }
                }
                return { row in apply(try argument(row)) }
            }
        }
    }

    /// `not` and the sign.
    static func apply(unary op: String, _ value: Value) throws -> Value {
        if op == "not" {
            guard case .bool(let flag) = value else { return .null }
            return .bool(!flag)
        }
        if case .int(let integer) = value {
            // Stays an integer, as `resultType` says, so keys and sums keep their type.
            let (negated, overflow) = Int64(0).subtractingReportingOverflow(integer)
            if overflow { throw MoneyError.overflow("-\(integer)") }
            return .int(negated)
        }
        guard let number = value.asMoney else { return .null }
        return .decimal(try Money(0).subtracting(number))
    }

    /// Comparisons and arithmetic (not `and`/`or`, which evaluate their right side only when needed).
    static func apply(binary op: String, _ lhs: Value, _ rhs: Value) throws -> Value {
        if lhs.isNull || rhs.isNull { return op == "+" || op == "-" || op == "*" ? .null : .bool(false) }
        switch op {
        case "+", "-", "*":
            guard let a = lhs.asMoney, let b = rhs.asMoney else { return .null }
            let result = op == "+" ? try a.adding(b) : (op == "-" ? try a.subtracting(b) : try a.multiplied(by: b))
            if case .int = lhs, case .int = rhs { return .int(result.units) }
            return .decimal(result)
        default:
            let order = Value.compare(lhs, rhs)
            switch op {
            case "=": return .bool(order == 0)
            case "!=": return .bool(order != 0)
            case "<": return .bool(order < 0)
            case "<=": return .bool(order <= 0)
            case ">": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        }
    }

    /// month, year, day and iso_week of a date or datetime (a datetime's day in `calendar`'s zone).
    static func apply(calendarFunction name: String, _ value: Value, calendar: LocalCalendar?) -> Value {
        guard let date = calendar?.day(of: value) ?? value.asDate else { return .null }
        return calendarFunction(named: name)(date)
    }

    /// What a calendar function makes of a day (`month`, `year`, `day`; anything else is `iso_week`).
    static func calendarFunction(named name: String) -> (CivilDate) -> Value {
        switch name {
        case "month":
            return { date in
                let (year, month, _) = date.components
                return .text(yearMonthText(year, month))
            }
        case "year": return { date in .int(Int64(date.components.year)) }
        case "day": return { date in .date(date) }
        default:
            return { date in
                let week = date.isoWeek
                return .text("\(pad(week.year, 4))-W\(pad(week.week, 2))")
            }
        }
    }

    /// The type the expression yields, for the output schema.
    public func resultType(_ schema: Schema) -> ColumnType {
        switch self {
        case .column(let index, _): return schema.columns[index].type
        case .literal(let value):
            switch value {
            case .int: return .int
            case .decimal: return .decimal
            case .bool: return .bool
            case .date: return .date
            case .datetime: return .datetime
            default: return .text
            }
        case .unary(let op, let operand): return op == "not" ? .bool : operand.resultType(schema)
        case .binary(let op, let left, let right):
            if ["+", "-", "*"].contains(op) {
                return left.resultType(schema) == .int && right.resultType(schema) == .int ? .int : .decimal
            }
            return .bool
        case .call(let name, let arguments):
            switch name {
            case "month", "iso_week": return .text
            case "year": return .int
            case "day": return .date
            case "is_null": return .bool
            default: return arguments[0].resultType(schema)
            }
        }
    }

    public var description: String {
        switch self {
        case .column(_, let name): return name
        case .literal(let value):
            if case .text(let text) = value { return "'\(text)'" }
            return value.isNull ? "null" : value.description
        case .unary(let op, let operand): return op == "not" ? "not \(operand)" : "-\(operand)"
        case .binary(let op, let left, let right): return "\(left) \(op) \(right)"
        case .call(let name, let arguments): return "\(name)(\(arguments.map(\.description).joined(separator: ", ")))"
        }
    }
}

private struct ExpressionParser {
    let text: String
    let bytes: [UInt8]
    let schema: Schema
    var index = 0
    /// Open parentheses, `not`s and signs around the current position; bounded, because parsing and
    /// evaluating recurse once per level and a hostile file must not overflow the stack.
    var depth = 0
    /// Operators read so far; bounded for the same reason (a chain `a + a + ...` nests one level each).
    var operators = 0
    static let maxDepth = 64
    static let maxOperators = 1_000

    init(text: String, schema: Schema) {
        self.text = text
        bytes = Array(text.utf8)
        self.schema = schema
    }

    var rest: String { String(decoding: bytes[index...], as: UTF8.self) }

    mutating func skipSpaces() {
        while index < bytes.count && (bytes[index] == 32 || bytes[index] == 9) { index += 1 }
    }

    mutating func keyword(_ word: String) -> Bool {
        skipSpaces()
        let wordBytes = Array(word.utf8)
        guard index + wordBytes.count <= bytes.count,
              Array(bytes[index..<(index + wordBytes.count)]).map({ $0 | 0x20 }) == wordBytes else { return false }
        let after = index + wordBytes.count
        if after < bytes.count && isIdentifierByte(bytes[after]) { return false }
        index = after
        return true
    }

    mutating func symbol(_ candidates: [String]) -> String? {
        skipSpaces()
        for candidate in candidates {
            let candidateBytes = Array(candidate.utf8)
            if index + candidateBytes.count <= bytes.count && Array(bytes[index..<(index + candidateBytes.count)]) == candidateBytes {
                index += candidateBytes.count
                return candidate
            }
        }
        return nil
    }

    func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95 || byte >= 0x80
    }

    /// Counts one more operator, refusing an expression with more than `maxOperators`.
    mutating func countOperator() throws {
        operators += 1
        guard operators <= Self.maxOperators else {
            throw Expression.ParseError(message: "expression has more than \(Self.maxOperators) operators; split it over several stages", offset: index)
        }
    }

    /// Parses `body` one nesting level deeper, refusing more than `maxDepth` levels.
    mutating func nested(_ body: (inout ExpressionParser) throws -> Expression) throws -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw Expression.ParseError(message: "expression nests more than \(Self.maxDepth) levels of parentheses, not or signs", offset: index)
        }
        return try body(&self)
    }

    mutating func parseOr() throws -> Expression {
        var left = try parseAnd()
        while keyword("or") {
            try countOperator()
            left = .binary("or", left, try parseAnd())
        }
        return left
    }

    mutating func parseAnd() throws -> Expression {
        var left = try parseNot()
        while keyword("and") {
            try countOperator()
            left = .binary("and", left, try parseNot())
        }
        return left
    }

    mutating func parseNot() throws -> Expression {
        if keyword("not") { return .unary("not", try nested { try $0.parseNot() }) }
        return try parseComparison()
    }

    mutating func parseComparison() throws -> Expression {
        let left = try parseSum()
        if let op = symbol(["<=", ">=", "!=", "<>", "==", "=", "<", ">"]) {
            try countOperator()
            let normalized = op == "<>" ? "!=" : (op == "==" ? "=" : op)
            return .binary(normalized, left, try parseSum())
        }
        return left
    }

    mutating func parseSum() throws -> Expression {
        var left = try parseProduct()
        while let op = symbol(["+", "-"]) {
            try countOperator()
            left = .binary(op, left, try parseProduct())
        }
        return left
    }

    mutating func parseProduct() throws -> Expression {
        var left = try parseUnary()
        while let op = symbol(["*"]) {
            try countOperator()
            left = .binary(op, left, try parseUnary())
        }
        return left
    }

    mutating func parseUnary() throws -> Expression {
        if symbol(["-"]) != nil { return .unary("-", try nested { try $0.parseUnary() }) }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws -> Expression {
        skipSpaces()
        guard index < bytes.count else {
            throw Expression.ParseError(message: "expression '\(text)' ends early; expected a value", offset: index)
        }
        let start = index
        let byte = bytes[index]
        if byte == UInt8(ascii: "(") {
            index += 1
            let inner = try nested { try $0.parseOr() }
            guard symbol([")"]) != nil else { throw Expression.ParseError(message: "missing ')' in '\(text)'", offset: index) }
            return inner
        }
        if byte == UInt8(ascii: "'") {
            index += 1
            var literal: [UInt8] = []
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "'") {
                    if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "'") {
                        literal.append(bytes[index])
                        index += 2
                        continue
                    }
                    index += 1
                    return .literal(.text(String(decoding: literal, as: UTF8.self)))
                }
                literal.append(bytes[index])
                index += 1
            }
            throw Expression.ParseError(message: "unterminated text literal in '\(text)'", offset: start)
        }
        if byte >= 48 && byte <= 57 {
            while index < bytes.count && ((bytes[index] >= 48 && bytes[index] <= 57) || bytes[index] == UInt8(ascii: ".")) { index += 1 }
            let number = bytes[start..<index]
            if let integer = parseInteger(number) { return .literal(.int(integer)) }
            if let decimal = Money.parse(number) { return .literal(.decimal(decimal)) }
            throw Expression.ParseError(message: "'\(String(decoding: number, as: UTF8.self))' is not a number", offset: start)
        }
        guard isIdentifierByte(byte) else {
            throw Expression.ParseError(message: "unexpected '\(rest)' in expression '\(text)'", offset: index)
        }
        while index < bytes.count && isIdentifierByte(bytes[index]) { index += 1 }
        let name = String(decoding: bytes[start..<index], as: UTF8.self)
        switch name.lowercased() {
        case "true": return .literal(.bool(true))
        case "false": return .literal(.bool(false))
        case "null": return .literal(.null)
        default: break
        }
        if symbol(["("]) != nil {
            guard let arity = Expression.functions[name] else {
                throw Expression.ParseError(message: "unknown function '\(name)'; known: \(Expression.functions.keys.sorted().joined(separator: ", "))\(didYouMean(name, Array(Expression.functions.keys)))", offset: start)
            }
            var arguments: [Expression] = []
            if symbol([")"]) == nil {
                repeat { arguments.append(try nested { try $0.parseOr() }) } while symbol([","]) != nil
                guard symbol([")"]) != nil else { throw Expression.ParseError(message: "missing ')' after the arguments of \(name)", offset: index) }
            }
            guard arguments.count == arity else {
                throw Expression.ParseError(message: "\(name) takes \(arity) argument\(arity == 1 ? "" : "s"), found \(arguments.count)", offset: start)
            }
            return .call(name, arguments)
        }
        guard let column = schema.index(of: name) else {
            throw Expression.ParseError(message: "unknown column '\(name)' (columns: \(schema.names.joined(separator: ", ")))\(didYouMean(name, schema.names))", offset: start)
        }
        return .column(column, name)
    }
}
