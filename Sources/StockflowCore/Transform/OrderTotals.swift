/// `transform: order_totals` — DOMAIN.md rules 1 and 2: each order's total is quantity × unit price.
public final class OrderTotals: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "order_totals", role: .transform,
        summary: "Rules 1 and 2 of DOMAIN.md. Each order's total is recomputed as quantity × the product's unit price, rounded half away from zero to 2 places. A stored total differing by more than the tolerance is kept as `montant_stocke` and listed as a finding (never overwritten silently). Orders for unknown products, with a quantity under 1, or whose product has no price are rejected. Orders for soft-deleted products are kept: they are still revenue.",
        options: [
            OptionSpec("product_key", .string, default: "code_prod", "Product column in orders (and key of products)."),
            OptionSpec("products_key", .string, defaultNote: "same as product_key", "Key column of products, when it differs."),
            OptionSpec("quantity", .string, default: "quantite_cmd", "Quantity column in orders."),
            OptionSpec("price", .string, default: "prix_unit", "Unit price column in products."),
            OptionSpec("total", .string, default: "montant_commande", "Name of the recomputed total; if orders carry a column of that name it is the stored total, compared and output as `montant_stocke`."),
            OptionSpec("tolerance", .decimal, default: "0.01", "Largest difference between stored and recomputed totals that is not a finding."),
            OptionSpec("product_columns", .list, defaultNote: "[nom_prod] when present", "Product columns added to each order line."),
        ],
        ports: [PortSpec("orders", "Order lines (streamed)."), PortSpec("products", lookup: true, "Products with their unit price.")],
        example: """
        totals:
          transform: order_totals
          inputs: {orders: orders, products: products}
          product_columns: [nom_prod, categorie_id]
        """)

    let productKey: Int
    let productsKey: Int
    let quantity: Int
    let price: Int
    let storedTotal: Int?
    let tolerance: Money
    let productColumns: [Int]
    let orderSchema: Schema
    let keptOrderColumns: [Int]
    public let outputSchema: Schema
    private var pricing: OrderPricing

    init(productKey: Int, productsKey: Int, quantity: Int, price: Int, storedTotal: Int?, tolerance: Money,
         productColumns: [Int], orderSchema: Schema, keptOrderColumns: [Int], outputSchema: Schema) {
        self.productKey = productKey
        self.productsKey = productsKey
        self.quantity = quantity
        self.price = price
        self.storedTotal = storedTotal
        self.tolerance = tolerance
        self.productColumns = productColumns
        self.orderSchema = orderSchema
        self.keptOrderColumns = keptOrderColumns
        self.outputSchema = outputSchema
        pricing = OrderPricing(productKey: productKey, quantity: quantity)
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let orders = config.input("orders"), let productsSchema = config.input("products") else { return nil }
        let keyName = config.text("product_key")
        let totalName = config.text("total")
        let productKey = config.requireColumn(keyName, in: orders, input: "orders", option: "product_key")
        let productsKey = config.requireColumn(config.string("products_key") ?? keyName, in: productsSchema, input: "products", option: "products_key")
        let quantity = config.requireColumn(named: "quantity", in: orders, input: "orders", types: [.int])
        let price = config.requireColumn(named: "price", in: productsSchema, input: "products", types: [.decimal, .int])
        let storedTotal = orders.index(of: totalName)
        if let storedTotal, ![.decimal, .int].contains(orders.columns[storedTotal].type) {
            config.error("stored total '\(totalName)' of input 'orders' is \(orders.columns[storedTotal].type.rawValue), expected decimal", at: config.node["total"]?.position ?? config.position)
        }
        var extraNames = config.stringList("product_columns") ?? (productsSchema.index(of: "nom_prod") != nil ? ["nom_prod"] : [])
        extraNames.removeAll { $0 == keyName }
        var extras: [Int] = []
        for name in extraNames {
            if let index = config.requireColumn(name, in: productsSchema, input: "products", option: "product_columns") { extras.append(index) }
        }
        guard let productKey, let productsKey, let quantity, let price else { return nil }
        let kept = orders.columns.indices.filter { $0 != storedTotal }
        var columns = kept.map { orders.columns[$0] }
        columns += extras.map { productsSchema.columns[$0] }
        let priceColumn = productsSchema.columns[price]
        columns.append(Column(priceColumn.name, .decimal, scale: priceColumn.scale ?? 2))
        columns.append(Column(totalName, .decimal, scale: 2))
        if storedTotal != nil { columns.append(Column("montant_stocke", .decimal, scale: 2)) }
        var names = Set<String>()
        for column in columns where !names.insert(column.name).inserted {
            config.error("stage '\(config.id)' would output column '\(column.name)' twice; leave it out of product_columns", at: config.node["product_columns"]?.position ?? config.position)
        }
        return OrderTotals(productKey: productKey, productsKey: productsKey, quantity: quantity, price: price,
                           storedTotal: storedTotal, tolerance: config.decimal("tolerance"),
                           productColumns: extras, orderSchema: orders, keptOrderColumns: kept, outputSchema: Schema(columns))
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        if port == 1 {
            for row in batch.rows {
                pricing.addProduct(key: row[productsKey], price: row[price], extra: productColumns.map { row[$0] })
            }
            return
        }
        var output = Batch(capacity: batch.count)
        for (row, origin) in zip(batch.rows, batch.origins) {
            if let line = try line(for: row, origin: origin, pricing: pricing, context: context) { output.append(line, origin: origin) }
        }
        try emit(output)
    }

    /// The output line of one order, or nil when it is rejected; records its reject or finding. A
    /// pushed order_totals (Pushdown/) replays here the rows its SQL selected as rejects or findings.
    func line(for row: Row, origin: RowOrigin, pricing: OrderPricing, context: StageContext) throws -> Row? {
        let priced: OrderPricing.Priced
        switch try pricing.price(row, words: MessageCatalogue(context.run.settings)) {
        case .failure(let broken):
            try context.reject(origin, rule: broken.rule, message: broken.message, row: describeRow(row, schema: orderSchema),
                               amount: storedTotal.flatMap { row[$0].asMoney })
            return nil
        case .success(let value):
            priced = value
        }
        var line = keptOrderColumns.map { row[$0] }
        line += priced.extra
        line.append(.decimal(priced.unitPrice))
        line.append(.decimal(priced.total))
        if let storedTotal {
            let stored = row[storedTotal]
            line.append(stored.asMoney.map { .decimal($0) } ?? .null)
            if let amount = stored.asMoney, try amount.subtracting(priced.total).magnitude > tolerance {
                let words = MessageCatalogue(context.run.settings)
                try context.finding(origin, rule: "order-total-mismatch",
                                    message: words.orderTotalMismatch(stored: amount, units: priced.units, unitPrice: priced.unitPrice,
                                                                      total: priced.total, difference: try amount.subtracting(priced.total)),
                                    row: describeRow(row, schema: orderSchema))
            }
        }
        return line
    }
}
