/// Rule 4 (`transform: returns`) as SQL.
///
/// In-process a return is checked against the quantities and refunds already accepted for its invoice,
/// in input order, and a rejected return adds nothing: whether a return passes depends on which earlier
/// ones did, so a running `sum() OVER (...)` of every earlier return would reject the small return that
/// follows a too large one. The returns of each invoice are therefore walked in order by a recursive
/// query carrying what was accepted so far (`WITH RECURSIVE`, one step per return of an invoice: as
/// many steps as the most returned invoice has returns). The rejected ones are selected with the state
/// they met and replayed through the stage's own code, which words them as in-process.
extension PushdownPlanner {
    static func returnsRelation(_ returns: Returns, name: String, input: PushedRelation,
                                make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let schema = returns.inputSchema
        let keyType = schema.columns[returns.invoice].type
        guard keyType == .int || keyType == .text else {
            throw PushdownRefusal("its invoice key is \(keyType.rawValue); only int and text keys are pushed (in-process keys compare as stockflow values)")
        }
        func c(_ index: Int) -> String { "c\(index + 1)" }
        func numeric(_ index: Int) -> String { schema.columns[index].type == .int ? "\(c(index))::numeric" : c(index) }
        let stem = String(name.dropFirst(3).dropLast())
        let checked = quoteIdentifier("s_\(stem)__checked")
        let (quantity, ordered, reason) = (c(returns.quantity), c(returns.ordered), c(returns.reason))
        let reasons = ReturnReason.allCases.map { PostgresConnection.literal($0.rawValue) }.joined(separator: ", ")
        // The checks that read the row alone (unknown invoice, quantity, reason), in the stage's order.
        let alone = "CASE WHEN \(ordered) IS NULL OR \(c(returns.unitPrice)) IS NULL THEN 1 WHEN \(quantity) IS NULL OR \(quantity) < 1 THEN 2 "
            + "WHEN \(reason) IS NULL OR \(reason) NOT IN (\(reasons)) THEN 3 END"
        // Then the ones that read what the invoice's earlier returns left: 0 when accepted.
        func verdict(units: String, refunds: String) -> String {
            "CASE WHEN p.__alone IS NOT NULL THEN p.__alone WHEN \(units) + p.\(quantity) > p.\(ordered) THEN 4 WHEN p.__amount < 0 THEN 5 "
                + "WHEN \(refunds) + p.__amount > p.__gross THEN 6 ELSE 0 END"
        }
        let accepted = "w.__verdict = 0"
        let walk = "WITH RECURSIVE __pre AS MATERIALIZED (SELECT i.*, \(alone) AS __alone, "
            + "round(\(numeric(returns.unitPrice)) * \(ordered), 2) AS __gross, "
            + "coalesce(round(\(numeric(returns.refund)), 2), round(\(numeric(returns.unitPrice)) * \(quantity), 2)) AS __amount, "
            + "row_number() OVER (PARTITION BY \(c(returns.invoice)) ORDER BY __seq) AS __rn, "
            + "min(__seq) OVER (PARTITION BY \(c(returns.invoice))) AS __grp FROM \(input.name) AS i),\n"
            + "__walk (__grp, __rn, __units, __refunds, __verdict, __quantity, __amount) AS (\n"
            + "SELECT p.__grp, p.__rn, 0::int8, 0.00::numeric, \(verdict(units: "0", refunds: "0.00")), p.\(quantity)::int8, p.__amount "
            + "FROM __pre AS p WHERE p.__rn = 1\n"
            + "UNION ALL SELECT p.__grp, p.__rn, u.units, u.refunds, \(verdict(units: "u.units", refunds: "u.refunds")), p.\(quantity)::int8, p.__amount "
            + "FROM __walk AS w JOIN __pre AS p ON p.__grp = w.__grp AND p.__rn = w.__rn + 1 "
            + "CROSS JOIN LATERAL (SELECT w.__units + CASE WHEN \(accepted) THEN w.__quantity ELSE 0 END AS units, "
            + "w.__refunds + CASE WHEN \(accepted) THEN w.__amount ELSE 0 END AS refunds) AS u)\n"
            + "SELECT p.*, w.__units, w.__refunds, w.__verdict FROM __pre AS p JOIN __walk AS w ON w.__grp = p.__grp AND w.__rn = p.__rn"
        let width = schema.columns.count
        var columns = columnNames(width)
        columns[returns.refund] = "__amount"
        func units(_ effect: ReturnReason) -> String {
            "CASE WHEN \(reason) = \(PostgresConnection.literal(effect.rawValue)) THEN \(quantity) ELSE 0 END::int8"
        }
        let effect = "CASE " + ReturnReason.allCases.map { "WHEN \(reason) = \(PostgresConnection.literal($0.rawValue)) THEN \(PostgresConnection.literal($0.stockEffect))" }
            .joined(separator: " ") + " END"
        columns += ["\(c(returns.refund)) IS NULL", effect, units(.insatisfaction), units(.defaut)]
        let named = columns.enumerated().map { "\($1) AS c\($0 + 1)" } + ["__src", "__ord", "__seq"]
        let rowsIn = RowCount.emitted(input.id), rowsOut = RowCount.count(checked, where: "__verdict = 0")
        var relation = make("SELECT \(named.joined(separator: ", ")) FROM \(checked) WHERE __verdict = 0", (rowsIn, rowsOut, .zero, rowsOut), input.database)
        relation.helpers = [(checked, walk)]
        relation.orderedInputs = [0]
        relation.issues = [PushedIssues(
            select: "SELECT \((columnNames(width) + ["__units", "__refunds", "__src", "__ord"]).joined(separator: ", ")) FROM \(checked) WHERE __verdict <> 0 ORDER BY __seq",
            schema: Schema(schema.columns + [Column("__units", .int), Column("__refunds", .decimal, scale: 2)]),
            replay: { row, origin, context in
                // The stage itself, holding what the invoice's earlier returns left, checks the row again.
                let line = Array(row.prefix(width))
                guard case .int(let units) = row[width], let refunds = row[width + 1].asMoney else { return }
                let replay = Returns(invoice: returns.invoice, quantity: returns.quantity, reason: returns.reason, refund: returns.refund,
                                     ordered: returns.ordered, unitPrice: returns.unitPrice, inputSchema: schema)
                replay.invoices = Returns.InvoiceStates(line[returns.invoice], Returns.InvoiceState(units: units, refunds: refunds))
                var batch = Batch(capacity: 1)
                batch.append(line, origin: origin)
                try replay.receive(batch, port: 0, context: context, emit: { accepted in
                    if accepted.count > 0 { throw StageError("pushdown: the returns stage accepts a return PostgreSQL rejected (\(origin)); run with 'pushdown: off'") }
                })
            })]
        return relation
    }
}
