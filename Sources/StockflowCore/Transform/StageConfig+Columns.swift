/// Columns a transform needs from its inputs, looked up by name with a diagnostic naming what was expected.
extension StageConfig {
    /// The index of column `name` in `schema` (arriving on input `input`); reports a missing column or
    /// one of another type than `types`, at option `option` (else at `inputs`).
    func requireColumn(_ name: String, in schema: Schema, input: String, option: String,
                       types: [ColumnType]? = nil) -> Int? {
        let position = node[option]?.position ?? node["inputs"]?.position
        guard let index = schema.index(of: name) else {
            error("stage '\(id)' needs column '\(name)' in input '\(input)' (columns: \(schema.names.joined(separator: ", ")))\(didYouMean(name, schema.names)); set '\(option)' if it has another name",
                  at: position)
            return nil
        }
        let type = schema.columns[index].type
        if let types, !types.contains(type) {
            error("column '\(name)' of input '\(input)' is \(type.rawValue); stage '\(id)' needs \(types.map(\.rawValue).joined(separator: " or "))",
                  at: position)
            return nil
        }
        return index
    }

    /// The column named by option `option` (or its spec's default) in `schema`, arriving on input `input`.
    func requireColumn(named option: String, in schema: Schema, input: String, types: [ColumnType]? = nil) -> Int? {
        requireColumn(text(option), in: schema, input: input, option: option, types: types)
    }
}
