/// Rule 6's supplier shares (`transform: suppliers`) as SQL.
///
/// The stock values and the sales amounts are summed per supplier of their product (the last product
/// row of its key; an unknown product or one without a supplier counts under no supplier), and each
/// share is divided exactly at 5 places then rounded half away from zero to 4, as `Suppliers.share`
/// does: `round(div(part * 100000, whole) / 100000, 4)` (`div` truncates toward zero, as Swift's
/// integer division). The rows are those of the in-process stage in its order: every supplier row in
/// input order (with the first name of its key), then the suppliers no row names, by key, then the
/// figures of no supplier.
extension PushdownPlanner {
    static func suppliersRelation(_ suppliers: Suppliers, name: String, inputs: [PushedRelation], schemas: [Schema],
                                  make: (String, (RowCount, RowCount, RowCount, RowCount), String) -> PushedRelation) throws -> PushedRelation {
        let (sales, stock, products, known) = (inputs[0], inputs[1], inputs[2], inputs[3])
        guard Set(inputs.map(\.database)).count == 1 else { throw PushdownRefusal("its inputs come from different PostgreSQL databases") }
        let (salesSchema, stockSchema, productsSchema, suppliersSchema) = (schemas[0], schemas[1], schemas[2], schemas[3])
        let productType = productsSchema.columns[suppliers.productKey].type
        guard salesSchema.columns[suppliers.salesProduct].type == productType, stockSchema.columns[suppliers.stockProduct].type == productType else {
            throw PushdownRefusal("its sales', stock's and products' product keys differ in type, which in-process never match")
        }
        guard productsSchema.columns[suppliers.productSupplier].type == .int, suppliersSchema.columns[suppliers.supplierKey].type == .int else {
            throw PushdownRefusal("its supplier keys are not int (the suppliers no row names are sorted by key in-process)")
        }
        guard suppliersSchema.columns[suppliers.supplierName].type == .text else { throw PushdownRefusal("its suppliers' nom column is not text") }
        func c(_ index: Int) -> String { "c\(index + 1)" }
        let stem = String(name.dropFirst(3).dropLast())
        let lastProduct = quoteIdentifier("s_\(stem)__product"), figures = quoteIdentifier("s_\(stem)__figures")
        let firstName = quoteIdentifier("s_\(stem)__name"), totals = quoteIdentifier("s_\(stem)__totals")
        let productKey = c(suppliers.productKey), key = c(suppliers.supplierKey)
        let amount = salesSchema.columns[suppliers.amount].type == .int ? "\(c(suppliers.amount))::numeric" : c(suppliers.amount)
        let helpers = [
            (lastProduct, rowOfEachKey(products.name, key: productKey, alias: "p", last: true)),
            // A key has figures once a stock value or a sale of its products is not null.
            (figures, "SELECT lp.\(c(suppliers.productSupplier)) AS key, sum(x.stock) AS stock, sum(x.sales) AS sales FROM ("
                + "SELECT \(c(suppliers.stockProduct)) AS product, \(c(suppliers.stockValue)) AS stock, NULL::numeric AS sales FROM \(stock.name) "
                + "WHERE \(c(suppliers.stockValue)) IS NOT NULL UNION ALL SELECT \(c(suppliers.salesProduct)), NULL::numeric, \(amount) FROM \(sales.name) "
                + "WHERE \(c(suppliers.amount)) IS NOT NULL) AS x LEFT JOIN \(lastProduct) AS lp ON \(sameKey("x.product", "lp.\(productKey)", productType)) GROUP BY 1"),
            (totals, "SELECT coalesce(sum(stock), 0) AS stock, coalesce(sum(sales), 0) AS sales FROM \(figures)"),
            (firstName, "SELECT DISTINCT ON (s.\(key)) s.\(key) AS key, s.\(c(suppliers.supplierName)) AS name FROM \(known.name) AS s ORDER BY s.\(key), s.__seq"),
        ]
        func share(_ part: String) -> String {
            "CASE WHEN t.\(part) = 0 THEN 0.0000 ELSE round(div(coalesce(f.\(part), 0) * 100000, t.\(part)) / 100000, 4) END"
        }
        let measures = "coalesce(f.stock, 0) + 0.00 AS c3, \(share("stock")) AS c4, coalesce(f.sales, 0) + 0.00 AS c5, \(share("sales")) AS c6"
        let same = sameKey("f.key", "n.key", .int)
        let rows = "SELECT s.\(key) AS c1, n.name AS c2, \(measures), 1 AS __part, s.__seq AS __rank FROM \(known.name) AS s "
            + "JOIN \(firstName) AS n ON \(sameKey("s.\(key)", "n.key", .int)) LEFT JOIN \(figures) AS f ON \(sameKey("f.key", "s.\(key)", .int)) CROSS JOIN \(totals) AS t\n"
            + "UNION ALL SELECT f.key, '(fournisseur inconnu ' || f.key::text || ')', \(measures), 2, f.key FROM \(figures) AS f CROSS JOIN \(totals) AS t "
            + "WHERE f.key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \(firstName) AS n WHERE \(same))\n"
            + "UNION ALL SELECT NULL, coalesce((SELECT n.name FROM \(firstName) AS n WHERE n.key IS NULL), '(sans fournisseur)'), \(measures), 3, 0 "
            + "FROM \(figures) AS f CROSS JOIN \(totals) AS t WHERE f.key IS NULL"
        let body = "SELECT c1, c2, c3, c4, c5, c6, NULL::int AS __src, NULL::int8 AS __ord, row_number() OVER (ORDER BY __part, __rank) AS __seq "
            + "FROM (\(rows)) AS r"
        let rowsIn = RowCount.sum(.emitted(sales.id), .emitted(stock.id))
        var relation = make(body, (rowsIn, rowsIn, .zero, .count(name)), sales.database)
        relation.helpers = helpers
        relation.readsInputOrder = false
        relation.orderedInputs = [2, 3]
        return relation
    }
}
