import Foundation

/// Passes a batch on to the stages downstream.
public typealias Emit = (Batch) throws -> Void

/// A stage kind: its spec, and how to build a runnable stage from its options.
public protocol StageKind: SendableMetatype {
    /// Options, inputs, docs and example of the kind.
    static var spec: StageSpec { get }
    /// The inputs this stage reads; by default those under `inputs:`/`input:`.
    static func inputReferences(_ config: StageConfig) -> [InputReference]
    /// Builds the stage; `inputs` are the schemas of its inputs, in the order of `inputReferences`.
    /// Problems go to `config`'s diagnostics; returns nil when the stage cannot be built.
    static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner?
}

extension StageKind {
    public static func inputReferences(_ config: StageConfig) -> [InputReference] {
        config.declaredInputs()
    }
}

/// A built stage. Extracts implement `produce`; transforms and loads `receive` and `finish`.
public protocol StageRunner: AnyObject {
    /// The columns this stage emits (empty for loads).
    var outputSchema: Schema { get }
    /// Reads the source and emits its rows in batches (extracts).
    func produce(_ context: StageContext, emit: Emit) throws
    /// Takes one batch arriving on input `port` (index in `inputReferences` order).
    func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws
    /// Called once every input is exhausted: emit what is held (aggregates), close files (loads).
    func finish(_ context: StageContext, emit: Emit) throws
    /// Called once every stage has finished, before outputs are committed: loads that report on the
    /// whole run (a Findings sheet) complete their files here.
    func finalize(_ context: StageContext) throws
    /// Called once the run's outputs are committed (renamed into place), for stages that deliver
    /// them elsewhere (an email). A failure here leaves the outputs in place and sets the exit code.
    func afterCommit(_ context: StageContext) throws
    /// Whether the stage counts its own `rows_out` (aggregates, loads) instead of rows emitted.
    var countsOwnOutput: Bool { get }
}

extension StageRunner {
    public func produce(_ context: StageContext, emit: Emit) throws {}
    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {}
    public func finish(_ context: StageContext, emit: Emit) throws {}
    public func finalize(_ context: StageContext) throws {}
    public func afterCommit(_ context: StageContext) throws {}
    public var countsOwnOutput: Bool { false }
}

/// What kind of failure ended a run; decides the exit code.
public enum FailureKind: Sendable {
    /// Bad data or a bug: exit 1.
    case failed
    /// A source or server is unreachable or busy: worth retrying, exit 75.
    case temporary
}

/// An error raised by a stage, with the place it concerns.
public struct StageError: Error, CustomStringConvertible {
    /// The message, naming the file, table or row involved.
    public var message: String
    /// Whether a retry could succeed.
    public var kind: FailureKind

    /// Makes an error.
    public init(_ message: String, kind: FailureKind = .failed) {
        self.message = message
        self.kind = kind
    }

    public var description: String { message }
}

/// Per-stage row accounting: rows_in = rows_out + rows_rejected + rows_filtered.
public struct StageCounters: Sendable, Codable {
    public var rowsIn = 0
    public var rowsOut = 0
    public var rowsRejected = 0
    public var rowsFiltered = 0
    /// Rows passed downstream (for aggregates the groups, for loads the rows written).
    public var rowsEmitted = 0
    /// Findings raised by this stage.
    public var findings = 0
    /// Why rows were filtered, with counts.
    public var filteredReasons: [String: Int] = [:]
    /// Remarks for the run summary (a sheet continued on another, excluded items).
    public var notes: [String] = []
}

/// The run-wide services a stage may use.
public final class RunContext {
    /// The pipeline being run.
    public let pipelineName: String
    /// The as-of date of the run.
    public let asOf: CivilDate
    /// Pipeline settings.
    public let settings: PipelineSettings
    /// Names of the sources behind row origins.
    public let origins = OriginRegistry()
    /// The output files of the run, written to temporaries and renamed at the end.
    public let outputs: OutputSet
    /// The rejects file.
    public let rejects: IssueLog
    /// The findings file.
    public let findings: IssueLog
    /// The watermarks of incremental extracts (none outside a session with a state database).
    public let watermarks: WatermarkLedger?

    init(pipelineName: String, asOf: CivilDate, settings: PipelineSettings, outputs: OutputSet,
         watermarks: WatermarkLedger? = nil) throws {
        self.watermarks = watermarks
        self.pipelineName = pipelineName
        self.asOf = asOf
        self.settings = settings
        self.outputs = outputs
        rejects = try IssueLog(outputs: outputs, name: "rejects.csv", detailHeader: "rule")
        findings = try IssueLog(outputs: outputs, name: "findings.csv", detailHeader: "rule")
    }
}

/// The view of the run one stage gets: its id, its counters, rejects and findings.
public final class StageContext {
    /// The stage id.
    public let stageID: String
    /// Run-wide services.
    public let run: RunContext
    /// This stage's row accounting.
    public internal(set) var counters = StageCounters()
    /// Set while the stage runs on a worker thread: its rejects and findings wait there for the runner's thread.
    var issueBuffer: ThreadIssueBuffer?

    init(stageID: String, run: RunContext) {
        self.stageID = stageID
        self.run = run
    }

    /// Sends a row to the rejects file with its source, the rule it broke and the original row.
    public func reject(_ origin: RowOrigin, rule: String, message: String, row: String) throws {
        try reject(origin, rule: rule, message: LocalizedText(message), row: row)
    }

    /// Lists a valid row that a person should look at.
    public func finding(_ origin: RowOrigin, rule: String, message: String, row: String) throws {
        try finding(origin, rule: rule, message: LocalizedText(message), row: row)
    }

    /// Rejects a row with its message in both languages (MessageCatalogue) and the amount it carries, if any.
    public func reject(_ origin: RowOrigin, rule: String, message: LocalizedText, row: String, amount: Money? = nil) throws {
        counters.rowsRejected += 1
        try record(isReject: true, origin, rule: rule, message: message, row: row, amount: amount)
    }

    /// Lists a valid row with its message in both languages.
    public func finding(_ origin: RowOrigin, rule: String, message: LocalizedText, row: String) throws {
        counters.findings += 1
        try record(isReject: false, origin, rule: rule, message: message, row: row, amount: nil)
    }

    private func record(isReject: Bool, _ origin: RowOrigin, rule: String, message: LocalizedText, row: String, amount: Money?) throws {
        let issue = BufferedIssue(isReject: isReject, stage: stageID, source: run.origins.describe(origin), rule: rule,
                                  message: message, row: row, amount: amount)
        if let issueBuffer { issueBuffer.add(issue) } else { try ThreadIssueBuffer.write([issue], to: run) }
    }

    /// Counts rows left out on purpose, with the reason.
    public func filtered(_ count: Int, reason: String) {
        guard count > 0 else { return }
        counters.rowsFiltered += count
        counters.filteredReasons[reason, default: 0] += count
    }

    /// Counts rows read from a source (extracts).
    public func countRead(_ count: Int) { counters.rowsIn += count }

    /// Counts rows delivered, for stages whose `countsOwnOutput` is true.
    public func countOut(_ count: Int) { counters.rowsOut += count }

    /// A temporary file for an output of this stage; the run commits it and remembers its owner.
    public func createOutput(_ relativePath: String) throws -> URL {
        try run.outputs.create(relativePath, stage: stageID)
    }

    /// Adds a remark to the run summary.
    public func note(_ text: String) { counters.notes.append(text) }
}

/// Text of a row for the rejects and findings files: `name=value; name=value`.
public func describeRow(_ row: Row, schema: Schema) -> String {
    zip(schema.columns, row).map { "\($0.name)=\($1)" }.joined(separator: "; ")
}
