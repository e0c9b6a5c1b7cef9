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

    /// Runs the command; a usage error (an unknown option, a bad value: ArgumentParser's EX_USAGE, 64)
    /// exits 2, as the exit-code table says.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error).rawValue == ExitCode.validationFailure.rawValue else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(ExitStatus.invalid.rawValue)
        }
    }
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
