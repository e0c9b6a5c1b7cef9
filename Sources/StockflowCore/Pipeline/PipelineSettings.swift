import Foundation

/// Settings shared by all stages of a pipeline (`settings:`).
public struct PipelineSettings: Sendable {
    /// ISO currency code shown on money columns.
    public var currency: String
    /// Locale for human-facing numbers and dates (`fr_FR`, `en_US`).
    public var locale: String
    /// Units under which a product counts as low stock.
    public var lowStockThreshold: Int64
    /// Most rejected rows a run may have and still succeed; nil for no limit.
    public var maxRejects: Int?
    /// Time zone for calendar rules (trends, dates of datetimes).
    public var timezone: String
    /// Most threads a run uses (`threads:`, or STOCKFLOW_THREADS which overrides it); nil for one per
    /// load and one for the extracts beside the runner's own.
    public var threads: Int?
    /// Whether relational stages run inside PostgreSQL (`pushdown:`, docs/pushdown.md).
    public var pushdown = PushdownMode.off
    /// Where `pushdown:` is written, for diagnostics that name it.
    public var pushdownPosition: SourcePosition?

    /// The settings keys with their docs; the defaults stated here are the ones used.
    public static let options: [OptionSpec] = [
        OptionSpec("currency", .string, default: "EUR", "ISO 4217 code shown on money columns."),
        OptionSpec("locale", .choice(["fr_FR", "en_US"]), default: "fr_FR", "Locale of human-facing numbers and dates."),
        OptionSpec("low_stock_threshold", .int, default: "10", "A product with fewer units than this is low stock."),
        OptionSpec("max_rejects", .int, "Most rejected rows a run may have; above it the run fails with exit 65 and writes no report. No limit when absent."),
        OptionSpec("timezone", .string, defaultNote: "the schedule's time zone, else UTC", "IANA time zone for calendar rules."),
        OptionSpec("threads", .int, defaultNote: "one per load and one for the extracts, beside the runner's own", "Most threads a run uses. `1` runs every stage on one thread; with more, each load writes on its own thread (in the order of the file) and the next one reads the extracts, each with a bounded queue of a few batches. The outputs are the same byte for byte whatever the number. The environment variable STOCKFLOW_THREADS overrides it."),
        OptionSpec("pushdown", .choice(PushdownMode.allCases.map(\.rawValue)), default: "off", "Whether the relational stages (`filter`, `select`, `join`, `aggregate`, `order_totals`, `trends`) whose inputs all come from one PostgreSQL database run inside it as one SQL query, only their results coming back (docs/pushdown.md). `auto` pushes what can be pushed and runs the rest in-process; `required` fails validation at the first extract or transform that cannot be pushed, saying why; `off` runs every stage in-process. The outputs and run.json counts are the same either way."),
    ]

    /// The default settings, as the options table states them.
    public init() {
        self.init(OptionTable(nil, options: Self.options, place: "settings", diagnostics: DiagnosticCollector()),
                  scheduleZone: nil, diagnostics: DiagnosticCollector())
    }

    /// Reads `settings:`; `scheduleZone` is the schedule's time zone, the default of `timezone`.
    static func read(_ node: ConfigNode?, scheduleZone: String?, diagnostics: DiagnosticCollector) -> PipelineSettings {
        if let node, node.entries == nil {
            diagnostics.error("'settings' must be a mapping, found \(node.shapeName)", at: node.position)
            return PipelineSettings()
        }
        let table = OptionTable(node, options: options, place: "settings", diagnostics: diagnostics)
        table.reportUnknownKeys()
        return PipelineSettings(table, scheduleZone: scheduleZone, diagnostics: diagnostics)
    }

    private init(_ table: OptionTable, scheduleZone: String?, diagnostics: DiagnosticCollector) {
        currency = table.parsed("currency", expected: "an ISO 4217 code like EUR") { text in
            text.count == 3 && text.allSatisfy(\.isUppercase) ? text : nil
        } ?? ""
        var locales: [String] = []
        if case .choice(let choices)? = table.option("locale")?.kind { locales = choices }
        locale = table.parsed("locale", expected: locales.joined(separator: " or ")) { locales.contains($0) ? $0 : nil } ?? ""
        lowStockThreshold = table.parsed("low_stock_threshold", expected: "a whole number of units ≥ 0") { text in
            Int64(text).flatMap { $0 >= 0 ? $0 : nil }
        } ?? 0
        maxRejects = table.parsed("max_rejects", expected: "a whole number ≥ 0") { text in Int(text).flatMap { $0 >= 0 ? $0 : nil } }
        pushdown = table.parsed("pushdown", expected: "off, auto or required") { PushdownMode(rawValue: $0) } ?? .off
        pushdownPosition = table.node?["pushdown"]?.position
        threads = table.parsed("threads", expected: "a whole number of threads ≥ 1") { PipelineSettings.threadCount($0) }
        // No fixed default: the schedule's time zone, else the schedule's own default.
        let scheduleDefault = OptionTable(nil, options: PipelineSchedule.options, place: "schedule", diagnostics: diagnostics).text("timezone")
        let zone = scheduleZone ?? scheduleDefault
        timezone = zone
        if let value = table.node?["timezone"] {
            if let text = value.scalar, TZifZone.named(text) != nil { timezone = text } else {
                diagnostics.error("unknown time zone \(value.shapeName); use an IANA name like Europe/Paris\(didYouMean(value.scalar ?? "", TimeZone.knownTimeZoneIdentifiers))", at: value.position)
            }
        }
    }
}

extension PipelineSettings {
    /// The environment variable that overrides `threads:`.
    public static let threadsVariable = "STOCKFLOW_THREADS"

    /// A thread count as written in `threads:` or STOCKFLOW_THREADS; nil unless a whole number ≥ 1.
    static func threadCount(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespaces)).flatMap { $0 >= 1 ? $0 : nil }
    }

    /// The thread cap of a run: STOCKFLOW_THREADS when set, else `threads:`; nil for no cap. Throws
    /// when the variable holds something else than a whole number ≥ 1.
    func threadCap(environment: [String: String]) throws -> Int? {
        guard let text = environment[Self.threadsVariable], !text.isEmpty else { return threads }
        guard let count = Self.threadCount(text) else {
            throw DiagnosticList([Diagnostic("\(Self.threadsVariable) must be a whole number of threads ≥ 1, found '\(text)'", at: nil)])
        }
        return count
    }
}
