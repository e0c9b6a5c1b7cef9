/// `transform: trends` — DOMAIN.md rule 7: orders and revenue by day, ISO week or month.
public final class Trends: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "trends", role: .transform,
        summary: "Rule 7 of DOMAIN.md. Counts orders and sums revenue per day (`2026-11-24`), ISO week (`2026-W48`) or month (`2026-11`) of the order date in the pipeline's time zone (a datetime at 23:30 UTC is the next day in Paris). Periods sorted in time. Memory: one entry per period.",
        options: [
            OptionSpec("by", .choice(["day", "week", "month"]), default: "month", "The period."),
            OptionSpec("date", .string, default: "date_commande", "Order date column (date or datetime)."),
            OptionSpec("amount", .string, default: "net", "Amount column summed as revenue."),
        ],
        ports: [PortSpec("sales", "Orders or invoiced orders.")],
        example: """
        revenue_by_week:
          transform: trends
          input: invoiced
          by: week
        """)

    enum Period: String { case day, week, month }

    let period: Period
    let date: Int
    let amount: Int
    let calendar: LocalCalendar
    public let outputSchema: Schema
    public var countsOwnOutput: Bool { true }
    /// One entry per period met, in the order met: a day of it (for its label), orders, revenue.
    private var days: [CivilDate] = []
    private var orders: [Int64] = []
    private var revenue: [Money] = []
    /// The entry of each period, by its number (`periodNumber`); the last day met and its entry, so
    /// that orders of the same day (inputs are mostly in date order) neither compute a period nor hash.
    private var entries = FirstMetNumbering<Int>()
    private var lastDay: Int32?
    private var lastEntry = 0

    init(period: Period, date: Int, amount: Int, timezone: String) {
        self.period = period
        self.date = date
        self.amount = amount
        calendar = LocalCalendar(identifier: timezone)
        outputSchema = Schema([Column("periode", .text), Column("nb_commandes", .int), Column("chiffre_affaires", .decimal, scale: 2)])
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let sales = config.input("sales"), let period = config.choice("by", as: Period.self) else { return nil }
        let date = config.requireColumn(named: "date", in: sales, input: "sales", types: [.date, .datetime])
        let amount = config.requireColumn(named: "amount", in: sales, input: "sales", types: [.decimal, .int])
        guard let date, let amount else { return nil }
        return Trends(period: period, date: date, amount: amount,
                      timezone: context.settings.timezone)
    }

    /// The period label of a local day.
    func label(_ day: CivilDate) -> String {
        switch period {
        case .day: return day.description
        case .month:
            let (year, month, _) = day.components
            return yearMonthText(year, month)
        case .week:
            let week = day.isoWeek
            return "\(pad(week.year, 4))-W\(pad(week.week, 2))"
        }
    }

    /// A number per period, the same for every day of it and different between periods.
    func periodNumber(_ day: CivilDate) -> Int {
        switch period {
        case .day: return Int(day.days)
        case .month:
            let (year, month, _) = day.components
            return year * 12 + month - 1
        case .week:
            let week = day.isoWeek
            return week.year * 64 + week.week
        }
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        var undated = 0
        for row in batch.rows {
            guard let day = calendar.day(of: row[date]) else {
                undated += 1
                continue
            }
            if day.days != lastDay {
                let (entry, isNew) = entries.number(of: periodNumber(day))
                lastEntry = entry
                if isNew {
                    days.append(day)
                    orders.append(0)
                    revenue.append(Money.zero(scale: 2))
                }
                lastDay = day.days
            }
            orders[lastEntry] += 1
            if let value = row[amount].asMoney { revenue[lastEntry] = try revenue[lastEntry].adding(value) }
        }
        context.filtered(undated, reason: "no order date")
        context.countOut(batch.count - undated)
    }

    /// The periods sorted by their labels' text (which is time order for years 1000 to 9999).
    public func finish(_ context: StageContext, emit: Emit) throws {
        let labels = days.map(label)
        let rows = labels.indices.sorted { labels[$0] < labels[$1] }.map {
            [Value.text(labels[$0]), .int(orders[$0]), .decimal(revenue[$0])]
        }
        try emit(Batch(rows: rows, origins: Array(repeating: .derived, count: rows.count)))
    }
}
