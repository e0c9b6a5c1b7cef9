extension StageConfig {
    /// Parses the expression under option `name` against `schema`, reporting errors at their place.
    func expression(_ name: String, schema: Schema) -> Expression? {
        guard let node = node[name], let text = node.scalar else { return nil }
        return expression(text: text, at: textStart(of: node), schema: schema)
    }

    /// Where a scalar's text begins: one column after the opening quote of a quoted scalar.
    func textStart(of node: ConfigNode) -> SourcePosition {
        var position = node.position
        if node.isQuoted { position.column += 1 }
        return position
    }

    /// Parses an expression written at `position`.
    func expression(text: String, at position: SourcePosition, schema: Schema) -> Expression? {
        do {
            return try Expression.parse(text, schema: schema)
        } catch let error as Expression.ParseError {
            var place = position
            place.column += error.offset
            self.error("in stage '\(id)': \(error.message)", at: place)
        } catch {
            self.error("in stage '\(id)': \(error)", at: position)
        }
        return nil
    }
}
