/// `transform: customers` — DOMAIN.md rule 6: per customer, orders, revenue net of refunds, last order date.
public final class Customers: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "customers", role: .transform,
        summary: "Rule 6 of DOMAIN.md. From invoiced orders (an `invoices` stage) computes per customer: number of orders, revenue net of refunds, and the last order date in the pipeline's time zone. Every known customer appears (with zero orders if none); orders without a customer are grouped under a null customer named `(sans client)`. Sorted by net revenue, highest first. Memory: one entry per customer.",
        options: [
            OptionSpec("customer", .string, default: "client_id", "Customer column of the sales."),
            OptionSpec("amount", .string, default: "net", "Amount column summed as revenue."),
            OptionSpec("date", .string, default: "date_commande", "Order date column (date or datetime)."),
        ],
        ports: [
            PortSpec("sales", "Invoiced orders."),
            PortSpec("customers", lookup: true, "Customers: code_client, nom_client, is_actif."),
        ],
        example: """
        revenue_by_customer:
          transform: customers
          inputs: {sales: invoiced, customers: customers}
        """)

    struct Totals {
        var orders: Int64 = 0
        var revenue = Money.zero(scale: 2)
        var last: CivilDate?
    }

    let customer: Int, amount: Int, date: Int
    let customerKey: Int, customerName: Int, customerActive: Int?
    /// Local days by UTC hour (a look-up per order without hashing).
    let calendar: LocalDays
    public let outputSchema: Schema
    public var countsOwnOutput: Bool { true }
    private var known: [(key: Value, name: Value, active: Value)] = []
    /// By customer: integer codes (every customer of the app) index an array or hash as integers.
    private var totals = KeyedByValue<Totals>()

    init(customer: Int, amount: Int, date: Int, customerKey: Int, customerName: Int, customerActive: Int?,
         timezone: String, schema: Schema) {
        self.customer = customer
        self.amount = amount
        self.date = date
        self.customerKey = customerKey
        self.customerName = customerName
        self.customerActive = customerActive
        calendar = LocalDays(LocalCalendar(identifier: timezone))
        outputSchema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let sales = config.input("sales"), let customers = config.input("customers") else { return nil }
        let customer = config.requireColumn(named: "customer", in: sales, input: "sales")
        let amount = config.requireColumn(named: "amount", in: sales, input: "sales", types: [.decimal, .int])
        let date = config.requireColumn(named: "date", in: sales, input: "sales", types: [.date, .datetime])
        let key = config.requireColumn("code_client", in: customers, input: "customers", option: "inputs")
        let name = config.requireColumn("nom_client", in: customers, input: "customers", option: "inputs")
        guard let customer, let amount, let date, let key, let name else { return nil }
        let schema = Schema([customers.columns[key], customers.columns[name], Column("actif", .bool), Column("nb_commandes", .int),
                             Column("chiffre_affaires_net", .decimal, scale: 2), Column("derniere_commande", .date)])
        return Customers(customer: customer, amount: amount, date: date, customerKey: key, customerName: name,
                         customerActive: customers.index(of: "is_actif"), timezone: context.settings.timezone, schema: schema)
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        if port == 1 {
            for row in batch.rows {
                known.append((row[customerKey], row[customerName], customerActive.map { row[$0] } ?? .null))
            }
            return
        }
        // The state is taken for the batch and put back: one exclusivity check per batch, not per row.
        var totals = self.totals
        self.totals = KeyedByValue()
        defer { self.totals = totals }
        for row in batch.rows {
            let day = calendar.day(of: row[date])
            let amountValue = row[amount].asMoney
            // In place, one look-up per row: this runs once per order.
            try totals.update(row[customer], default: Totals()) { try update(&$0, amount: amountValue, day: day) }
        }
        context.countOut(batch.count)
    }

    private func update(_ entry: inout Totals, amount: Money?, day: CivilDate?) throws {
        entry.orders += 1
        if let amount { entry.revenue = try entry.revenue.adding(amount) }
        if let day, entry.last.map({ day > $0 }) ?? true { entry.last = day }
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        var rows: [(Row, Money)] = []
        var seen = Set<Value>()
        for customer in known where seen.insert(customer.key).inserted {
            let entry = totals[customer.key] ?? Totals()
            rows.append(([customer.key, customer.name, customer.active, .int(entry.orders), .decimal(entry.revenue),
                          entry.last.map { .date($0) } ?? .null], entry.revenue))
        }
        for (key, entry) in totals.entries where !seen.contains(key) {
            let name: Value = key.isNull ? .text("(sans client)") : .text("(client inconnu \(key))")
            rows.append(([key, name, .null, .int(entry.orders), .decimal(entry.revenue), entry.last.map { .date($0) } ?? .null], entry.revenue))
        }
        let sorted = Customers.sortedByRevenue(rows)
        try emit(Batch(rows: sorted, origins: Array(repeating: .derived, count: sorted.count)))
    }

    /// The stage's order: net revenue, highest first, then customer key (also a pushed run's, Pushdown/).
    static func sortedByRevenue(_ rows: [(Row, Money)]) -> [Row] {
        rows.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : Value.compare($0.0[0], $1.0[0]) < 0 }.map(\.0)
    }
}

/// Folds rows into its totals until `finish`: may take its batches on the folding thread.
extension Customers: FoldingStage {}
