/// The three return reasons of DOMAIN.md rule 4 and what each does to stock.
enum ReturnReason: String, CaseIterable {
    /// Faulty goods: written off, not restocked.
    case defaut
    /// The customer changed their mind: the goods go back to stock.
    case insatisfaction
    /// Out of stock: nothing physical came back, refund only.
    case rupture

    var stockEffect: String {
        switch self {
        case .defaut: return "written_off"
        case .insatisfaction: return "restocked"
        case .rupture: return "refund_only"
        }
    }
}

/// `transform: returns` — DOMAIN.md rule 4: checks every return against its invoice and states its stock effect.
public final class Returns: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "returns", role: .transform,
        summary: "Rule 4 of DOMAIN.md. Each return row must carry its invoice's order quantity and unit price (join them in the extract query: retour → facture → commande → produit). A return is rejected when its quantity is under 1, its reason is not defaut, insatisfaction or rupture, the quantities returned against its invoice would exceed the quantity ordered, its refund is negative, the refunds against its invoice would exceed the invoice's gross (quantity × unit price), or its invoice is unknown. Returns are checked in input order (order the query by date). A missing refund defaults to quantity × unit price. Stock effect: insatisfaction is restocked, defaut written off, rupture refund only. Memory: one entry per invoice that has returns.",
        options: [
            OptionSpec("invoice", .string, default: "facture_id", "Invoice column."),
            OptionSpec("quantity", .string, default: "quantite", "Returned quantity column."),
            OptionSpec("reason", .string, default: "raison", "Reason column."),
            OptionSpec("refund", .string, default: "montant_remboursement", "Refund column (null means the default refund)."),
            OptionSpec("ordered_quantity", .string, default: "quantite_cmd", "The invoice's ordered quantity (null when the invoice is unknown)."),
            OptionSpec("unit_price", .string, default: "prix_unit", "The ordered product's unit price."),
        ],
        ports: [PortSpec("returns", "Return rows with their invoice's ordered quantity and unit price.")],
        example: """
        valid_returns:
          transform: returns
          input: returns_raw
        """)

    struct InvoiceState {
        var units: Int64 = 0
        var refunds = Money.zero(scale: 2)
    }

    /// The state of each invoice met, by key: integer keys (every invoice id) in a dictionary of
    /// `Int64`, other keys apart (one entry per invoice that has returns: 312,000 at 10M orders).
    /// An `Int64` key takes 8 bytes of a bucket where a `Value` takes 24; not `KeyedByValue`, whose
    /// table keeps an optional state per slot and stays at most half full (the ids with returns are
    /// too sparse for its array), about twice this dictionary's size for a 24-byte state.
    struct InvoiceStates {
        private var integers: [Int64: InvoiceState] = [:]
        private var others: [Value: InvoiceState] = [:]

        init() {}

        /// The state of one invoice (a pushed return replayed, Pushdown/PushedReturns.swift).
        init(_ key: Value, _ state: InvoiceState) { self[key] = state }

        subscript(key: Value) -> InvoiceState? {
            get {
                if case .int(let number) = key { return integers[number] }
                return others[key]
            }
            set {
                if case .int(let number) = key { integers[number] = newValue } else { others[key] = newValue }
            }
        }
    }

    let invoice: Int
    let quantity: Int
    let reason: Int
    let refund: Int
    let ordered: Int
    let unitPrice: Int
    let inputSchema: Schema
    public let outputSchema: Schema
    var invoices = InvoiceStates()  // set by the pushed replay (Pushdown/PushedReturns.swift)

    init(invoice: Int, quantity: Int, reason: Int, refund: Int, ordered: Int, unitPrice: Int, inputSchema: Schema) {
        self.invoice = invoice
        self.quantity = quantity
        self.reason = reason
        self.refund = refund
        self.ordered = ordered
        self.unitPrice = unitPrice
        self.inputSchema = inputSchema
        var columns = inputSchema.columns
        columns[refund] = Column(inputSchema.columns[refund].name, .decimal, scale: 2)
        columns += [Column("remboursement_par_defaut", .bool), Column("effet_stock", .text),
                    Column("unites_restockees", .int), Column("unites_perdues", .int)]
        outputSchema = Schema(columns)
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let schema = config.input("returns") else { return nil }
        func column(_ option: String, _ types: [ColumnType]? = nil) -> Int? {
            config.requireColumn(named: option, in: schema, input: "returns", types: types)
        }
        let invoice = column("invoice")
        let quantity = column("quantity", [.int])
        let reason = column("reason", [.text])
        let refund = column("refund", [.decimal, .int])
        let ordered = column("ordered_quantity", [.int])
        let price = column("unit_price", [.decimal, .int])
        guard let invoice, let quantity, let reason, let refund, let ordered, let price else { return nil }
        return Returns(invoice: invoice, quantity: quantity, reason: reason, refund: refund, ordered: ordered,
                       unitPrice: price, inputSchema: schema)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        var output = Batch(capacity: batch.count)
        for (row, origin) in zip(batch.rows, batch.origins) {
            switch try check(row, words: MessageCatalogue(context.run.settings)) {
            case .failure(let broken):
                try context.reject(origin, rule: broken.rule, message: broken.message, row: describeRow(row, schema: inputSchema),
                                   amount: row[refund].asMoney)
            case .success(let line):
                output.append(line, origin: origin)
            }
        }
        try emit(output)
    }

    /// Lets go of the invoices' state: the stage is done, and the runs of the other stages that
    /// finish after it (customers, the loads) need the memory more.
    public func finish(_ context: StageContext, emit: Emit) throws {
        invoices = InvoiceStates()
    }

    private func check(_ row: Row, words: MessageCatalogue) throws -> Result<Row, OrderPricing.Broken> {
        func broken(_ rule: String, _ message: LocalizedText) -> Result<Row, OrderPricing.Broken> {
            .failure(OrderPricing.Broken(rule: rule, message: message))
        }
        let key = row[invoice]
        guard case .int(let orderedUnits) = row[ordered], let price = row[unitPrice].asMoney else {
            return broken("return-unknown-invoice", words.returnUnknownInvoice(key))
        }
        guard case .int(let units) = row[quantity], units >= 1 else {
            return broken("return-quantity", words.returnQuantity(row[quantity]))
        }
        guard case .text(let reasonText) = row[reason], let reasonValue = ReturnReason(rawValue: reasonText) else {
            return broken("return-reason", words.returnReason(row[reason]))
        }
        var state = invoices[key] ?? InvoiceState()
        // Accepted units never pass the ordered ones, so `orderedUnits - state.units` cannot overflow; the sum may.
        guard units <= orderedUnits - state.units else {
            let (total, overflow) = state.units.addingReportingOverflow(units)
            return broken("return-over-quantity", overflow
                ? words.returnOverQuantity(invoice: key, units: units, already: state.units, ordered: orderedUnits)
                : words.returnOverQuantity(invoice: key, units: total, ordered: orderedUnits))
        }
        let gross = try price.multiplied(by: Money(orderedUnits)).rounded(to: 2)
        let defaulted = row[refund].isNull
        let amount = try row[refund].asMoney?.rounded(to: 2) ?? price.multiplied(by: Money(units)).rounded(to: 2)
        guard amount.units >= 0 else {
            return broken("return-refund-negative", words.returnRefundNegative(amount))
        }
        let refunds = try state.refunds.adding(amount)
        guard refunds <= gross else {
            return broken("return-over-refund", words.returnOverRefund(invoice: key, refunds: refunds, gross: gross))
        }
        state.units += units
        state.refunds = refunds
        invoices[key] = state
        var line = row
        line[refund] = .decimal(amount)
        line += [.bool(defaulted), .text(reasonValue.stockEffect),
                 .int(reasonValue == .insatisfaction ? units : 0), .int(reasonValue == .defaut ? units : 0)]
        return .success(line)
    }
}
