/// `transform: invoices` — DOMAIN.md rule 3: exactly one invoice per order, gross, refunds and net.
public final class Invoices: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "invoices", role: .transform,
        summary: "Rule 3 of DOMAIN.md. Reads orders joined to their invoice (a FULL JOIN in the extract query, ordered by order), prices each order by rules 1 and 2 (gross = quantity × unit price), subtracts the refunds of its valid returns (the output of a `returns` stage) and emits one invoice per order: gross, refunds, net. An order without an invoice gets one generated (`facture_generee`, dated on the order, listed as a finding); an invoice without an order is rejected, as are orders breaking rules 1–2. A stored invoice total that differs from the gross by more than 0.01 is a finding. Memory: products and invoices with returns, never the orders.",
        options: [
            OptionSpec("order_key", .string, default: "code_cmd", "Order id column (null for an invoice without an order)."),
            OptionSpec("product_key", .string, default: "produit_id", "Product column of the orders."),
            OptionSpec("quantity", .string, default: "quantite_cmd", "Ordered quantity column."),
            OptionSpec("order_date", .string, default: "date_commande", "Order date column."),
            OptionSpec("invoice_key", .string, default: "facture_id", "Invoice id column (null when the order has no invoice)."),
            OptionSpec("invoice_total", .string, default: "montant_total", "Stored invoice total column."),
            OptionSpec("invoice_date", .string, default: "date_facture", "Invoice date column."),
            OptionSpec("customer", .string, default: "client_id", "Customer column, passed through."),
        ],
        ports: [
            PortSpec("orders", "Orders with their invoice columns (null when missing)."),
            PortSpec("products", lookup: true, "Products: code_prod, prix_unit."),
            PortSpec("returns", lookup: true, "Valid returns (a `returns` stage): facture_id, montant_remboursement."),
        ],
        example: """
        invoiced:
          transform: invoices
          inputs: {orders: orders_with_invoices, products: products, returns: valid_returns}
        """)

    struct Columns {
        var order: Int, product: Int, quantity: Int, orderDate: Int, invoice: Int, invoiceTotal: Int, invoiceDate: Int, customer: Int
        var productKey: Int, price: Int
        var returnInvoice: Int, returnRefund: Int
    }

    let columns: Columns
    let inputSchema: Schema
    public let outputSchema: Schema
    private var pricing: OrderPricing
    /// Refunds of valid returns by invoice: integer ids (all of them in the app) hash as integers.
    private var refunds = KeyedByValue<Money>()
    private let tolerance = Money(units: 1, scale: 2)

    init(columns: Columns, inputSchema: Schema, outputSchema: Schema) {
        self.columns = columns
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        pricing = OrderPricing(productKey: columns.product, quantity: columns.quantity)
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let orders = config.input("orders"), let products = config.input("products"),
              let returns = config.input("returns") else { return nil }
        func orderColumn(_ option: String, _ types: [ColumnType]? = nil) -> Int? {
            config.requireColumn(named: option, in: orders, input: "orders", types: types)
        }
        let order = orderColumn("order_key")
        let product = orderColumn("product_key")
        let quantity = orderColumn("quantity", [.int])
        let orderDate = orderColumn("order_date", [.date, .datetime])
        let invoice = orderColumn("invoice_key")
        let invoiceTotal = orderColumn("invoice_total", [.decimal, .int])
        let invoiceDate = orderColumn("invoice_date", [.date, .datetime])
        let customer = orderColumn("customer")
        let productKey = config.requireColumn("code_prod", in: products, input: "products", option: "inputs")
        let price = config.requireColumn("prix_unit", in: products, input: "products", option: "inputs", types: [.decimal, .int])
        let returnInvoice = config.requireColumn("facture_id", in: returns, input: "returns", option: "inputs")
        let returnRefund = config.requireColumn("montant_remboursement", in: returns, input: "returns", option: "inputs", types: [.decimal])
        guard let order, let product, let quantity, let orderDate, let invoice, let invoiceTotal, let invoiceDate, let customer,
              let productKey, let price, let returnInvoice, let returnRefund else { return nil }
        let schema = Schema([
            orders.columns[order], Column("code_prod", orders.columns[product].type), orders.columns[customer],
            orders.columns[orderDate], orders.columns[invoice], orders.columns[invoiceDate],
            Column("facture_generee", .bool), orders.columns[quantity], Column("prix_unit", .decimal, scale: 2),
            Column("brut", .decimal, scale: 2), Column("remboursements", .decimal, scale: 2), Column("net", .decimal, scale: 2),
        ])
        let columns = Columns(order: order, product: product, quantity: quantity, orderDate: orderDate, invoice: invoice,
                              invoiceTotal: invoiceTotal, invoiceDate: invoiceDate, customer: customer,
                              productKey: productKey, price: price, returnInvoice: returnInvoice, returnRefund: returnRefund)
        return Invoices(columns: columns, inputSchema: orders, outputSchema: schema)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        switch port {
        case 1:
            for row in batch.rows { pricing.addProduct(key: row[columns.productKey], price: row[columns.price], extra: []) }
            return
        case 2:
            for row in batch.rows {
                guard let amount = row[columns.returnRefund].asMoney else { continue }
                let invoice = row[columns.returnInvoice]
                refunds[invoice] = try (refunds[invoice] ?? Money.zero(scale: 2)).adding(amount)
            }
            return
        default:
            break
        }
        var output = Batch(capacity: batch.count)
        // Read once per batch: the lookups are complete, and a local copy needs no exclusivity check per row.
        let pricing = self.pricing, refunds = self.refunds
        let words = MessageCatalogue(context.run.settings)
        for (row, origin) in zip(batch.rows, batch.origins) {
            func text() -> String { describeRow(row, schema: inputSchema) }
            if row[columns.order].isNull {
                try context.reject(origin, rule: "invoice-without-order", message: words.invoiceWithoutOrder(row[columns.invoice]), row: text(),
                                   amount: row[columns.invoiceTotal].asMoney)
                continue
            }
            let priced: OrderPricing.Priced
            switch try pricing.price(row, words: words) {
            case .failure(let broken):
                try context.reject(origin, rule: broken.rule, message: broken.message, row: text(), amount: row[columns.invoiceTotal].asMoney)
                continue
            case .success(let value):
                priced = value
            }
            let invoiceKey = row[columns.invoice]
            let generated = invoiceKey.isNull
            if generated {
                try context.finding(origin, rule: "invoice-generated", message: words.invoiceGenerated(order: row[columns.order], total: priced.total), row: text())
            } else if let stored = row[columns.invoiceTotal].asMoney, try stored.subtracting(priced.total).magnitude > tolerance {
                try context.finding(origin, rule: "invoice-total-mismatch",
                                    message: words.invoiceTotalMismatch(invoice: invoiceKey, stored: stored, units: priced.units,
                                                                        unitPrice: priced.unitPrice, total: priced.total), row: text())
            }
            let refunded = generated ? Money.zero(scale: 2) : (refunds[invoiceKey] ?? Money.zero(scale: 2))
            let net = try priced.total.subtracting(refunded)
            output.append([
                row[columns.order], row[columns.product], row[columns.customer], row[columns.orderDate], invoiceKey,
                generated ? row[columns.orderDate] : row[columns.invoiceDate], .bool(generated), .int(priced.units),
                .decimal(priced.unitPrice), .decimal(priced.total), .decimal(refunded), .decimal(net),
            ], origin: origin)
        }
        try emit(output)
    }
}
