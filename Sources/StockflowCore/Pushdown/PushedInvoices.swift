/// Rule 3 (`transform: invoices`) as SQL.
///
/// Each order with the last product row of its key (rules 1 and 2, priced as `order_totals` is: the
/// unit price at least to the cent, the gross `round(quantity × unit price, 2)`, half away from zero)
/// and the refunds of its invoice's valid returns (a `GROUP BY` of the returns input); an order without
/// an invoice gets one dated on the order. Invoices without an order and orders breaking rules 1–2 are
/// rejected, generated invoices and stored totals off by more than 0.01 are findings: those rows are
/// selected in order and replayed through the stage's own code, which words them as in-process.
extension PushdownPlanner {
    static func invoicesRelation(_ invoices: Invoices, name: String, inputs: [PushedRelation], productsSchema: Schema, returnsSchema: Schema,
                                 make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let (orders, products, returns) = (inputs[0], inputs[1], inputs[2])
        guard Set(inputs.map(\.database)).count == 1 else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let schema = invoices.inputSchema, k = invoices.columns
        let productType = schema.columns[k.product].type, productsKeyType = productsSchema.columns[k.productKey].type
        guard productType == productsKeyType else {
            throw PushdownRefusal("its product keys are \(productType.rawValue) and \(productsKeyType.rawValue), which in-process never match")
        }
        let invoiceType = schema.columns[k.invoice].type
        guard invoiceType == returnsSchema.columns[k.returnInvoice].type, invoiceType == .int || invoiceType == .text else {
            throw PushdownRefusal("its invoice keys are not both int or both text")
        }
        guard schema.columns[k.orderDate].type == schema.columns[k.invoiceDate].type else {
            throw PushdownRefusal("its order and invoice dates differ in type (a generated invoice is dated on its order)")
        }
        func c(_ index: Int) -> String { "c\(index + 1)" }
        func numeric(_ sql: String, _ type: ColumnType) -> String { type == .int ? "\(sql)::numeric" : sql }
        let stem = String(name.dropFirst(3).dropLast())
        let lastProduct = quoteIdentifier("s_\(stem)__product"), refunds = quoteIdentifier("s_\(stem)__refunds")
        let checked = quoteIdentifier("s_\(stem)__checked")
        let quantity = "o.\(c(k.quantity))"
        let lookup = ProductLookupSQL(products: products, lastProduct: lastProduct, key: c(k.productKey), orderKey: "o.\(c(k.product))",
                                      price: c(k.price), priceType: productsSchema.columns[k.price].type)
        func product(_ column: String) -> String { lookup.product(column) }
        let rawPrice = lookup.rawPrice, price = lookup.price
        let broken = "CASE WHEN o.\(c(k.order)) IS NULL THEN 0 WHEN \(product("__seq")) IS NULL THEN 1 WHEN \(quantity) IS NULL OR \(quantity) < 1 THEN 2 "
            + "WHEN \(rawPrice) IS NULL THEN 3 END"
        let total = "round(\(price) * \(quantity), 2)"
        let stored = numeric("o.\(c(k.invoiceTotal))", schema.columns[k.invoiceTotal].type)
        let finding = "o.\(c(k.invoice)) IS NULL OR (\(stored) IS NOT NULL AND abs(\(stored) - \(total)) > 0.01)"
        let helpers = [
            (lastProduct, lookup.lastProductBody),
            (refunds, "SELECT \(c(k.returnInvoice)) AS key, sum(\(c(k.returnRefund))) AS refunds FROM \(returns.name) "
                + "WHERE \(c(k.returnInvoice)) IS NOT NULL AND \(c(k.returnRefund)) IS NOT NULL GROUP BY 1"),
            (checked, "SELECT o.*, \(broken) AS __broken, \(product("__seq")) IS NOT NULL AS __matched, \(rawPrice) AS __raw_price, "
                + "\(price) AS __price, \(total) AS __total, coalesce(\(finding), false) AS __finding, "
                + "CASE WHEN o.\(c(k.invoice)) IS NULL THEN 0.00 ELSE coalesce(r.refunds, 0.00) END AS __refunds "
                + "FROM \(orders.name) AS o \(lookup.joins) LEFT JOIN \(refunds) AS r ON r.key = o.\(c(k.invoice))"),
        ]
        let columns = [c(k.order), c(k.product), c(k.customer), c(k.orderDate), c(k.invoice),
                       "CASE WHEN \(c(k.invoice)) IS NULL THEN \(c(k.orderDate)) ELSE \(c(k.invoiceDate)) END", "\(c(k.invoice)) IS NULL",
                       "\(c(k.quantity))::int8", "__price", "__total", "__refunds", "__total - __refunds"]
        let named = columns.enumerated().map { "\($1) AS c\($0 + 1)" } + ["__src", "__ord", "__seq"]
        // Spelt out rather than `__broken IS NULL`, which PostgreSQL estimates at a few rows.
        let priced = "\(c(k.order)) IS NOT NULL AND __matched AND \(c(k.quantity)) >= 1 AND __raw_price IS NOT NULL"
        let rowsIn = RowCount.emitted(orders.id), rowsOut = RowCount.count(checked, where: priced)
        var relation = make("SELECT \(named.joined(separator: ", ")) FROM \(checked) WHERE \(priced)", (rowsIn, rowsOut, .zero, rowsOut), orders.database)
        relation.helpers = helpers
        relation.orderedInputs = [1]
        let width = schema.columns.count, productsWidth = productsSchema.columns.count
        relation.issues = [PushedIssues(
            select: "SELECT \((columnNames(width) + ["__raw_price", "__matched", "__broken IS NULL", "__src", "__ord"]).joined(separator: ", ")) "
                + "FROM \(checked) WHERE __broken IS NOT NULL OR __finding ORDER BY __seq",
            schema: Schema(schema.columns + [productsSchema.columns[k.price], Column("__matched", .bool), Column("__priced", .bool)]),
            replay: { row, origin, context in
                // The stage itself, knowing only this order's product, prices and checks the row again.
                let order = Array(row.prefix(width))
                let replay = Invoices(columns: k, inputSchema: schema, outputSchema: invoices.outputSchema)
                if row[width + 1] == .bool(true) {
                    var productRow = Row(repeating: .null, count: productsWidth)
                    productRow[k.productKey] = order[k.product]
                    productRow[k.price] = row[width]
                    var batch = Batch(capacity: 1)
                    batch.append(productRow, origin: .derived)
                    try replay.receive(batch, port: 1, context: context, emit: { _ in })
                }
                var batch = Batch(capacity: 1)
                batch.append(order, origin: origin)
                let expected = row[width + 2] == .bool(true) ? 1 : 0
                try replay.receive(batch, port: 0, context: context, emit: { emitted in
                    if emitted.count != expected {
                        throw StageError("pushdown: the invoices stage and PostgreSQL disagree on the order at \(origin); run with 'pushdown: off'")
                    }
                })
            })]
        return relation
    }
}
