import ArgumentParser
import Foundation
import StockflowCore

@main
struct Stockflow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockflow",
        abstract: "Declarative batch ETL and reporting for inventory and finance.",
        discussion: """
        Exit codes: 0 success (rejects allowed and reported), 1 run failed, 2 invalid pipeline or usage,
        65 rejects over the pipeline's max_rejects, 75 temporary failure worth retrying.
        """,
        subcommands: [Validate.self, Plan.self, Run.self, List.self, Docs.self, Migrate.self, Schedule.self, History.self, Status.self, Serve.self, Users.self, Keys.self]
    )
}

/// Prints diagnostics to standard error.
func report(_ diagnostics: DiagnosticList) {
    FileHandle.standardError.write(Data((Log.redactor.redact(diagnostics.description) + "\n").utf8))
}

/// Loads a pipeline, or prints its problems and exits with status 2 (75 when every problem is
/// temporary, such as a locked database).
func loadOrExit(_ path: String) throws -> Pipeline {
    do {
        return try Pipeline.load(path: path)
    } catch let list as DiagnosticList {
        report(list)
        let count = list.diagnostics.count
        FileHandle.standardError.write(Data("\(count) error\(count == 1 ? "" : "s") in \(path)\n".utf8))
        throw ExitCode(list.isTemporary ? ExitStatus.temporary.rawValue : ExitStatus.invalid.rawValue)
    }
}
