import ArgumentParser
import StockflowCore

/// The options every command that runs pipelines shares (`run`, `schedule`), declared once.
struct RunOptions: ParsableArguments {
    @Option(help: "The state database: run history and the scheduler's cursor; run locks live in its folder.")
    var state: String = RunHistory.defaultPath

    @Option(name: .customLong("metrics-file"), help: "Write run metrics to this node_exporter textfile (e.g. /var/lib/node_exporter/textfile/stockflow.prom).")
    var metricsFile: String?

    @Option(name: .customLong("log-format"), help: "Log lines on standard error: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .customLong("stop-timeout"), help: "Seconds a stopped run may take to reach a batch boundary before it abandons its temporary files and exits.")
    var stopTimeout: Double = 10

    /// The same options as `stockflow run` arguments, for a child run.
    var runArguments: [String] {
        var arguments = ["--state", state, "--log-format", logFormat.rawValue, "--stop-timeout", String(stopTimeout)]
        if let metricsFile { arguments += ["--metrics-file", metricsFile] }
        return arguments
    }
}

/// `--as-of 2026-11-25`, parsed once by the argument parser.
extension CivilDate: ExpressibleByArgument {
    public init?(argument: String) { self.init(iso: argument) }
}
