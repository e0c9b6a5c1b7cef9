/// `transform: suppliers` — DOMAIN.md rule 6: each supplier's share of stock value and of revenue.
public final class Suppliers: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "suppliers", role: .transform,
        summary: "Rule 6 of DOMAIN.md. Per supplier: stock value (from a `warehouse_rollup` by product) and its share of the total, revenue (from invoiced orders, net of refunds) and its share. Shares are fractions rounded to 4 places (0.1234 = 12.34 %). Products without a supplier are grouped under `(sans fournisseur)`. Memory: one entry per product and supplier.",
        options: [
            OptionSpec("amount", .string, default: "net", "Amount column of the sales summed as revenue."),
            OptionSpec("sales_product", .string, default: "code_prod", "Product column of the sales."),
        ],
        ports: [
            PortSpec("sales", "Invoiced orders."),
            PortSpec("stock", "Stock per product (warehouse_rollup by product): code_prod, valeur."),
            PortSpec("products", lookup: true, "Products: code_prod, fournisseur_id."),
            PortSpec("suppliers", lookup: true, "Suppliers: id, nom."),
        ],
        example: """
        supplier_shares:
          transform: suppliers
          inputs: {sales: invoiced, stock: stock_by_product, products: products, suppliers: suppliers}
        """)

    let salesProduct: Int, amount: Int, stockProduct: Int, stockValue: Int
    let productKey: Int, productSupplier: Int, supplierKey: Int, supplierName: Int
    public let outputSchema: Schema
    public var countsOwnOutput: Bool { true }
    /// By product, and by supplier: integer codes index an array or hash as integers.
    private var supplierOf = KeyedByValue<Value>()
    private var names: [(Value, Value)] = []
    private var stockValue_ = KeyedByValue<Money>()
    private var revenue = KeyedByValue<Money>()

    init(salesProduct: Int, amount: Int, stockProduct: Int, stockValue: Int, productKey: Int, productSupplier: Int,
         supplierKey: Int, supplierName: Int, schema: Schema) {
        self.salesProduct = salesProduct
        self.amount = amount
        self.stockProduct = stockProduct
        self.stockValue = stockValue
        self.productKey = productKey
        self.productSupplier = productSupplier
        self.supplierKey = supplierKey
        self.supplierName = supplierName
        outputSchema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let sales = config.input("sales"), let stock = config.input("stock"), let products = config.input("products"),
              let suppliers = config.input("suppliers") else { return nil }
        let salesProduct = config.requireColumn(named: "sales_product", in: sales, input: "sales")
        let amount = config.requireColumn(named: "amount", in: sales, input: "sales", types: [.decimal, .int])
        let stockProduct = config.requireColumn("code_prod", in: stock, input: "stock", option: "inputs")
        let stockValue = config.requireColumn("valeur", in: stock, input: "stock", option: "inputs", types: [.decimal])
        let productKey = config.requireColumn("code_prod", in: products, input: "products", option: "inputs")
        let productSupplier = config.requireColumn("fournisseur_id", in: products, input: "products", option: "inputs")
        let supplierKey = config.requireColumn("id", in: suppliers, input: "suppliers", option: "inputs")
        let supplierName = config.requireColumn("nom", in: suppliers, input: "suppliers", option: "inputs")
        guard let salesProduct, let amount, let stockProduct, let stockValue, let productKey, let productSupplier,
              let supplierKey, let supplierName else { return nil }
        let schema = Schema([Column("fournisseur_id", suppliers.columns[supplierKey].type), Column("fournisseur", .text),
                             Column("valeur_stock", .decimal, scale: 2), Column("part_stock", .decimal, scale: 4),
                             Column("chiffre_affaires", .decimal, scale: 2), Column("part_ca", .decimal, scale: 4)])
        return Suppliers(salesProduct: salesProduct, amount: amount, stockProduct: stockProduct, stockValue: stockValue,
                         productKey: productKey, productSupplier: productSupplier, supplierKey: supplierKey,
                         supplierName: supplierName, schema: schema)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        switch port {
        case 2:
            for row in batch.rows { supplierOf[row[productKey]] = row[productSupplier] }
        case 3:
            for row in batch.rows { names.append((row[supplierKey], row[supplierName])) }
        case 1:
            for row in batch.rows {
                let supplier = supplierOf[row[stockProduct]] ?? .null
                if let value = row[stockValue].asMoney {
                    stockValue_[supplier] = try (stockValue_[supplier] ?? Money.zero(scale: 2)).adding(value)
                }
            }
            context.countOut(batch.count)
        default:
            // Taken for the batch and put back: one exclusivity check per batch, not per row.
            var revenue = self.revenue
            self.revenue = KeyedByValue()
            defer { self.revenue = revenue }
            let supplierOf = self.supplierOf
            for row in batch.rows {
                let supplier = supplierOf[row[salesProduct]] ?? .null
                if let value = row[amount].asMoney {
                    try revenue.update(supplier, default: Money.zero(scale: 2)) { $0 = try $0.adding(value) }
                }
            }
            context.countOut(batch.count)
        }
    }

    /// `part / whole` as a fraction rounded half away from zero to 4 places; zero when the whole is zero.
    static func share(_ part: Money, of whole: Money) throws -> Money {
        guard !whole.isZero else { return Money.zero(scale: 4) }
        let common = max(part.scale, whole.scale)
        let numerator = try part.rescaledUp(to: common).units, denominator = try whole.rescaledUp(to: common).units
        // Exact integer division at 5 places, then one rounding to 4.
        let (scaled, overflow) = numerator.multipliedReportingOverflow(by: 100_000)
        if overflow { throw MoneyError.overflow("share \(part) / \(whole)") }
        return Money(units: scaled / denominator, scale: 5).rounded(to: 4)
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        let totalStock = try stockValue_.values.reduce(Money.zero(scale: 2)) { try $0.adding($1) }
        let totalRevenue = try revenue.values.reduce(Money.zero(scale: 2)) { try $0.adding($1) }
        var batch = Batch()
        var keys = names.map(\.0)
        let nameOf = Dictionary(names, uniquingKeysWith: { first, _ in first })
        // A product naming a supplier the suppliers table lacks keeps its figures in a row of its own,
        // so the rows still add up to the totals.
        let unknown = Set(stockValue_.keys).union(revenue.keys).filter { !$0.isNull && nameOf[$0] == nil }
        keys += unknown.sorted { Value.compare($0, $1) < 0 }
        if stockValue_[.null] != nil || revenue[.null] != nil { keys.append(.null) }
        for key in keys {
            let stock = stockValue_[key] ?? Money.zero(scale: 2), sales = revenue[key] ?? Money.zero(scale: 2)
            let name = nameOf[key] ?? .text(key.isNull ? "(sans fournisseur)" : "(fournisseur inconnu \(key))")
            batch.append([key, name, .decimal(stock), .decimal(try Suppliers.share(stock, of: totalStock)),
                          .decimal(sales), .decimal(try Suppliers.share(sales, of: totalRevenue))], origin: .derived)
        }
        try emit(batch)
    }
}

/// Folds rows into its totals until `finish`: may take its batches on the folding thread.
extension Suppliers: FoldingStage {}
