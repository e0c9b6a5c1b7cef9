/// A column declared under an extract's `columns:`: its type and how to read it.
public struct ColumnDeclaration: Sendable {
    /// The column's name in the stage output.
    public var name: String
    /// The name in the source (header or table column), when it differs (`from:`).
    public var sourceName: String
    /// The value type.
    public var type: ColumnType
    /// Whether an empty or null-marker value is allowed.
    public var nullable: Bool
    /// Decimal places: values are checked (CSV) or rounded (SQLite REAL) to it.
    public var scale: Int?
    /// Date or datetime pattern.
    public var format: DateFormat?
    /// CSV only: whether spaces around an unquoted field are dropped (`trim:`); nil takes the stage's rule.
    public var trim: Bool? = nil

    /// The output column.
    public var column: Column { Column(name, type, scale: scale) }

    /// Reads `columns:` — a mapping of name to a type (`int`) or to `{type, from, nullable, scale, format}`
    /// (and `trim` when `allowsTrim`, for CSV files).
    static func read(_ node: ConfigNode, config: StageConfig, defaultNullable: Bool, allowsTrim: Bool = false) -> [ColumnDeclaration] {
        guard let entries = node.entries else {
            config.error("'columns' of stage '\(config.id)' maps column names to types (int, decimal, text, bool, date, datetime), found \(node.shapeName)", at: node.position)
            return []
        }
        let typeNames = ColumnType.allCases.map(\.rawValue)
        var result: [ColumnDeclaration] = []
        for entry in entries {
            var declaration = ColumnDeclaration(name: entry.key, sourceName: entry.key, type: .text,
                                                nullable: defaultNullable, scale: nil, format: nil)
            var typeNode: ConfigNode? = entry.value
            if let fields = entry.value.entries {
                let allowed = ["type", "from", "nullable", "scale", "format"] + (allowsTrim ? ["trim"] : [])
                for field in fields where !allowed.contains(field.key) {
                    config.error("unknown key '\(field.key)' in column '\(entry.key)' of stage '\(config.id)'\(didYouMean(field.key, allowed))", at: field.keyPosition)
                }
                typeNode = entry.value["type"]
                if let from = entry.value["from"]?.scalar { declaration.sourceName = from }
                for flag in ["nullable", "trim"] {
                    guard let flagNode = entry.value[flag], allowed.contains(flag) else { continue }
                    guard let value = flagNode.scalar.flatMap(parseBool) else {
                        config.error("'\(flag)' of column '\(entry.key)' must be true or false, found \(flagNode.shapeName)", at: flagNode.position)
                        continue
                    }
                    if flag == "nullable" { declaration.nullable = value } else { declaration.trim = value }
                }
                if let scale = entry.value["scale"] {
                    if let value = scale.scalar.flatMap({ Int($0) }), (0...Money.maxScale).contains(value) {
                        declaration.scale = value
                    } else {
                        config.error("'scale' of column '\(entry.key)' must be a number of decimal places from 0 to 18, found \(scale.shapeName)", at: scale.position)
                    }
                }
                if let format = entry.value["format"] {
                    if let pattern = format.scalar, let compiled = DateFormat(pattern) {
                        declaration.format = compiled
                    } else {
                        config.error("'format' of column '\(entry.key)' must be a date pattern with dd, MM and yyyy (like dd/MM/yyyy or yyyy-MM-dd HH:mm:ss), found \(format.shapeName)", at: format.position)
                    }
                }
            }
            guard let typeNode, let typeName = typeNode.scalar else {
                config.error("column '\(entry.key)' of stage '\(config.id)' needs a type: one of \(typeNames.joined(separator: ", "))", at: entry.value.position)
                continue
            }
            guard let type = ColumnType.named(typeName) else {
                config.error("unknown column type '\(typeName)' for column '\(entry.key)'; use one of \(typeNames.joined(separator: ", "))\(didYouMean(typeName, typeNames))", at: typeNode.position)
                continue
            }
            declaration.type = type
            if declaration.format != nil && type != .date && type != .datetime {
                config.error("column '\(entry.key)' has a 'format' but is \(type.rawValue); formats apply to date and datetime columns", at: entry.value.position)
            }
            if type == .datetime, let format = declaration.format, !format.hasTime {
                config.error("column '\(entry.key)' is a datetime but its format '\(format.pattern)' has no time (HH:mm)", at: entry.value.position)
            }
            result.append(declaration)
        }
        return result
    }
}
