/// Why a stage stays in-process under `pushdown:`: the reason `plan` prints and `pushdown: required` reports.
public struct PushdownRefusal: Error, CustomStringConvertible, Sendable {
    /// What cannot be compiled and why, in a sentence.
    public var reason: String

    /// Makes a refusal.
    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// Compiles a row expression (Transform/Expression.swift) to PostgreSQL with the same result for every
/// row: comparisons with null are false (not null), `and`/`or` read null as false, arithmetic is exact
/// `numeric` (integers as bigint, which overflows with an error like in-process), text compares byte for
/// byte (`COLLATE "C"`, as Swift compares code points), and the calendar functions read instants in the
/// pipeline's time zone (`AT TIME ZONE`). What has no equivalent is refused with the reason.
public struct ExpressionSQL {
    /// The SQL of each input column, by position (e.g. `t.c3`).
    public var columns: [String]
    /// The input's schema, for the types of sub-expressions.
    public var schema: Schema
    /// The pipeline's IANA time zone.
    public var timezone: String

    /// Makes a compiler for expressions over `schema`, whose columns are written as `columns`.
    public init(columns: [String], schema: Schema, timezone: String) {
        self.columns = columns
        self.schema = schema
        self.timezone = timezone
    }

    /// The SQL of `expression`, or a refusal naming the part that has no PostgreSQL equivalent.
    public func compile(_ expression: Expression) throws -> String {
        switch expression {
        case .column(let index, _):
            guard columns.indices.contains(index) else { throw PushdownRefusal("column \(index) is outside the input") }
            return columns[index]
        case .literal(let value):
            return try Self.literal(value)
        case .unary(let op, let operand):
            let type = operand.resultType(schema)
            if op == "not" {
                guard type == .bool || operand.isNullLiteral else {
                    throw PushdownRefusal("'not' applies to a \(type.rawValue) in '\(expression)' (in-process that is null)")
                }
                return "(NOT \(try compile(operand)))"
            }
            guard type == .int || type == .decimal else {
                throw PushdownRefusal("'-' applies to a \(type.rawValue) in '\(expression)' (in-process that is null)")
            }
            return "(-\(try compile(operand)))"
        case .binary(let op, let left, let right):
            return try binary(op, left, right, whole: expression)
        case .call(let name, let arguments):
            return try call(name, arguments, whole: expression)
        }
    }

    private func binary(_ op: String, _ left: Expression, _ right: Expression, whole: Expression) throws -> String {
        let leftType = left.resultType(schema), rightType = right.resultType(schema)
        switch op {
        case "and", "or":
            for (side, type) in [(left, leftType), (right, rightType)] where type != .bool && !side.isNullLiteral {
                throw PushdownRefusal("'\(op)' reads a \(type.rawValue) ('\(side)') in '\(whole)'; only conditions are pushed")
            }
            // In-process a null operand counts as false and the result is never null.
            return "(coalesce(\(try compile(left)), false) \(op.uppercased()) coalesce(\(try compile(right)), false))"
        case "+", "-", "*":
            for (side, type) in [(left, leftType), (right, rightType)] where type != .int && type != .decimal && !side.isNullLiteral {
                throw PushdownRefusal("'\(op)' reads a \(type.rawValue) ('\(side)') in '\(whole)' (in-process that is null)")
            }
            return "(\(try compile(left)) \(op) \(try compile(right)))"
        default:
            let sqlOp = op == "!=" ? "<>" : op
            let (lhs, rhs) = try comparable(left, leftType, right, rightType)
            // Comparisons with null are false, never null.
            return "coalesce(\(lhs) \(sqlOp) \(rhs), false)"
        }
    }

    /// Both sides of a comparison in a form PostgreSQL orders as `Value.compare` does.
    private func comparable(_ left: Expression, _ leftType: ColumnType, _ right: Expression,
                            _ rightType: ColumnType) throws -> (String, String) {
        let lhs = try compile(left), rhs = try compile(right)
        if left.isNullLiteral || right.isNullLiteral { return (lhs, rhs) }
        let numeric: Set<ColumnType> = [.int, .decimal], calendar: Set<ColumnType> = [.date, .datetime]
        if leftType == rightType {
            return leftType == .text ? ("(\(lhs) COLLATE \"C\")", "(\(rhs) COLLATE \"C\")") : (lhs, rhs)
        }
        if numeric.contains(leftType) && numeric.contains(rightType) { return (lhs, rhs) }
        if calendar.contains(leftType) && calendar.contains(rightType) {
            // In-process a datetime compares with a date by its UTC day.
            return (leftType == .datetime ? Self.utcDay(lhs) : lhs, rightType == .datetime ? Self.utcDay(rhs) : rhs)
        }
        // Other mixes compare their plain texts (a date with '2026-01-01'), byte for byte.
        return ("(\(try Self.plainText(lhs, leftType)) COLLATE \"C\")", "(\(try Self.plainText(rhs, rightType)) COLLATE \"C\")")
    }

    private func call(_ name: String, _ arguments: [Expression], whole: Expression) throws -> String {
        let compiled = try arguments.map(compile)
        switch name {
        case "is_null": return "(\(compiled[0]) IS NULL)"
        case "coalesce":
            let types = arguments.filter { !$0.isNullLiteral }.map { $0.resultType(schema) }
            guard Set(types).count <= 1 else {
                throw PushdownRefusal("coalesce mixes \(types.map(\.rawValue).joined(separator: " and ")) in '\(whole)'; in-process each row keeps its own type")
            }
            return "coalesce(\(compiled[0]), \(compiled[1]))"
        default:
            let type = arguments[0].resultType(schema)
            guard type == .date || type == .datetime else {
                throw PushdownRefusal("\(name) reads a \(type.rawValue) in '\(whole)' (in-process that is null)")
            }
            // The day in the pipeline's time zone: an instant is read there, a date is its own day.
            let day = type == .datetime ? "(\(compiled[0]) AT TIME ZONE \(PostgresConnection.literal(timezone)))::date" : compiled[0]
            switch name {
            case "month": return "to_char(\(day), 'YYYY-MM')"
            case "year": return "(extract(year FROM \(day)))::int8"
            case "day": return "(\(day))::date"
            case "iso_week": return "to_char(\(day), 'IYYY-\"W\"IW')"
            default: throw PushdownRefusal("function \(name) has no PostgreSQL translation")
            }
        }
    }

    /// A literal as PostgreSQL reads it, with its stockflow type (decimals keep their scale).
    static func literal(_ value: Value) throws -> String {
        switch value {
        case .null: return "NULL"
        case .int(let integer): return "\(integer)::int8"
        case .decimal(let decimal): return "\(decimal)::numeric"
        case .bool(let flag): return flag ? "true" : "false"
        case .text(let text): return "\(PostgresConnection.literal(text))::text"
        case .date(let date): return "'\(date)'::date"
        case .datetime(let stamp): return "'\(stamp)'::timestamptz"
        }
    }

    /// The UTC day of an instant.
    static func utcDay(_ sql: String) -> String { "((\(sql)) AT TIME ZONE 'UTC')::date" }

    /// The text `Value.description` gives, for comparisons of mixed types.
    static func plainText(_ sql: String, _ type: ColumnType) throws -> String {
        switch type {
        case .text: return sql
        case .int, .decimal: return "(\(sql))::text"
        case .bool: return "(CASE WHEN \(sql) THEN 'true' ELSE 'false' END)"
        case .date: return "to_char(\(sql), 'YYYY-MM-DD')"
        case .datetime:
            // `2026-11-24T14:05:00Z`, with microseconds only when there are some.
            let utc = "((\(sql)) AT TIME ZONE 'UTC')"
            return "(to_char(\(utc), 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds FROM \(utc))::int8 % 1000000 = 0 THEN '' ELSE '.' || to_char(\(utc), 'US') END || 'Z')"
        }
    }
}

extension Expression {
    /// True for the literal `null`, which takes the type of what it meets.
    var isNullLiteral: Bool {
        if case .literal(.null) = self { return true }
        return false
    }
}
