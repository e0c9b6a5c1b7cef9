import Foundation

/// When a pipeline runs on its own (`schedule:`).
public struct PipelineSchedule: Sendable {
    /// The cron expression.
    public var cron: CronExpression
    /// The IANA time zone the expression is read in.
    public var timezone: String
    /// What happens to fire times missed while the scheduler was down (`catchup:`).
    public var catchup: CatchUpPolicy

    /// The catch-up policy when `catchup:` is absent; the options table states it from here.
    public static let defaultCatchUp = CatchUpPolicy.latest

    /// A schedule.
    public init(cron: CronExpression, timezone: String, catchup: CatchUpPolicy = defaultCatchUp) {
        self.cron = cron
        self.timezone = timezone
        self.catchup = catchup
    }

    /// The keys of `schedule:` with their docs and defaults.
    public static let options: [OptionSpec] = [
        OptionSpec("cron", .string, required: true, "A 5-field cron expression (`30 2 * * *`) or @yearly, @monthly, @weekly, @daily, @hourly."),
        OptionSpec("timezone", .string, default: "UTC", "IANA time zone the expression is read in. A local time skipped by a daylight-saving change runs once at the next valid minute; a repeated one runs once."),
        OptionSpec("catchup", .choice(CatchUpPolicy.allCases.map(\.rawValue)), default: defaultCatchUp.rawValue, "What `stockflow schedule` does with fire times missed while it was down: `none`, `latest` (run the most recent once) or `all` (each, with its own as-of date)."),
    ]

    /// Reads `schedule:`; problems go to `diagnostics`, and nil comes back when there is no valid cron.
    static func read(_ node: ConfigNode, diagnostics: DiagnosticCollector) -> PipelineSchedule? {
        guard node.entries != nil else {
            diagnostics.error("'schedule' must be a mapping like {cron: \"30 2 * * *\", timezone: Europe/Paris}, found \(node.shapeName)", at: node.position)
            return nil
        }
        let table = OptionTable(node, options: options, place: "schedule", diagnostics: diagnostics)
        table.reportUnknownKeys()
        var cron: CronExpression?
        if let cronNode = node["cron"], let text = cronNode.scalar {
            do {
                cron = try CronExpression(text)
            } catch let error as CronExpression.ParseError {
                // Point at the bad field; a quoted scalar's text starts after its quote.
                var position = cronNode.position
                position.column += error.offset + (cronNode.isQuoted ? 1 : 0)
                diagnostics.error("invalid cron expression: \(error.message)", at: position)
            } catch {
                diagnostics.error("invalid cron expression '\(text)'", at: cronNode.position)
            }
        } else {
            diagnostics.error("schedule needs 'cron' (5 fields, e.g. \"30 2 * * *\")", at: node.position)
        }
        let zone = table.text("timezone")
        if let zoneNode = node["timezone"], TZifZone.named(zone) == nil {
            let known = TimeZone.knownTimeZoneIdentifiers
            diagnostics.error("unknown time zone '\(zone)'; use an IANA name like Europe/Paris\(didYouMean(zone, known))", at: zoneNode.position)
        }
        let catchup = CatchUpPolicy(rawValue: table.text("catchup"))
        if catchup == nil, let catchupNode = node["catchup"] {
            let names = CatchUpPolicy.allCases.map(\.rawValue)
            diagnostics.error("schedule 'catchup' must be one of \(names.joined(separator: ", ")), found \(catchupNode.shapeName)\(didYouMean(catchupNode.scalar ?? "", names))", at: catchupNode.position)
        }
        guard let cron, let catchup else { return nil }
        return PipelineSchedule(cron: cron, timezone: zone, catchup: catchup)
    }
}
