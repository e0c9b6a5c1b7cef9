import ArgumentParser
import Foundation
import StockflowCore

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a whole SQLite database (a Django app's) into PostgreSQL, all or nothing, and verify it.",
        discussion: """
        POSTGRES_URL is anything libpq accepts: postgres://user@host:port/db?sslmode=require, or
        "host=... dbname=...", or "" for the PG* environment variables; passwords may come from ~/.pgpass.
        Exit codes: 0 migrated and verified, 1 failed (target unchanged), 2 usage, 65 rows that cannot be
        carried (listed in the rejects file; target unchanged), 75 server unreachable after the retries.
        """)

    @Argument(help: "The SQLite database file to migrate (opened read-only).")
    var sqlitePath: String

    @Argument(help: "PostgreSQL connection URL or key=value string (libpq conventions).")
    var postgresURL: String

    @Option(help: "Target schema, created when missing.")
    var schema = "public"

    @Option(help: "Connections copying tables in parallel.")
    var jobs = 3

    @Flag(help: "Print the plan and the DDL; touch nothing.")
    var dryRun = false

    @Flag(help: "Only compare row counts and checksums of the source and an existing target.")
    var verifyOnly = false

    @Option(help: "When a table already exists in the target schema: fail (default) or replace.")
    var ifExists = "fail"

    @Flag(help: "Load the rows that can be carried and list the others, instead of failing.")
    var carryValid = false

    @Option(help: "Where rows that cannot be carried are listed (CSV: table, key, column, reason, value).")
    var rejects = "migrate-rejects.csv"

    @Option(help: "Precision and scale of a decimal column SQLite does not declare, as table.column=P,S (repeatable).")
    var decimal: [String] = []

    @Option(help: "A Django project folder: decimal precision and scale, and BigAutoField keys, are read from its apps' migrations.")
    var djangoProject: String?

    @Option(help: "Connection attempts after the first when the server is unreachable.")
    var retries = 3

    @Option(name: .customLong("type"), help: "A column's PostgreSQL type, over the declaration and the data, as table.column=TYPE (bigint, bytea, text, numeric, numeric(12,4), varchar(80)...; repeatable).")
    var types: [String] = []

    @Option(help: "Migrate without the CHECK constraint NAME (one that does not translate to PostgreSQL; repeatable). The summary repeats it.")
    var skipCheck: [String] = []

    @Flag(help: "Round decimals with more places than their column's scale, listing each in the summary, instead of rejecting the row.")
    var roundDecimals = false

    @Flag(help: "With --if-exists replace: also drop the views and foreign keys outside the migration that depend on the replaced tables (listed).")
    var cascade = false

    @Option(help: "How rows are sent: binary (default: COPY's binary format, the server parses no numbers or instants) or text (COPY's text format).")
    var copyFormat = "binary"

    @Flag(help: "Shorten identifiers longer than PostgreSQL's 63 bytes (deterministically, reported) instead of refusing them.")
    var shortenIdentifiers = false

    func validate() throws {
        guard IfExists(rawValue: ifExists) != nil else {
            throw ValidationError("--if-exists must be fail or replace, found '\(ifExists)'")
        }
        guard jobs >= 1 && jobs <= 64 else { throw ValidationError("--jobs must be between 1 and 64, found \(jobs)") }
        if dryRun && verifyOnly { throw ValidationError("--dry-run and --verify-only do not go together; choose one") }
        for type in types where parseTypeOverride(type) == nil {
            throw ValidationError("--type '\(type)' must look like stock_produit.code_externe=bigint (a PostgreSQL type stockflow creates)")
        }
        guard ["binary", "text"].contains(copyFormat) else { throw ValidationError("--copy-format must be binary or text, found '\(copyFormat)'") }
        if cascade && IfExists(rawValue: ifExists) != .replace { throw ValidationError("--cascade goes with --if-exists replace") }
        for hint in decimal where parseDecimalHint(hint) == nil {
            throw ValidationError("--decimal '\(hint)' must look like stock_produit.prix_unit=10,2")
        }
    }

    func run() throws {
        var options = MigrationOptions(sqlitePath: sqlitePath, connection: PostgresConnectionOptions(postgresURL, retries: retries))
        options.schema = schema
        options.jobs = jobs
        options.ifExists = IfExists(rawValue: ifExists) ?? .fail
        options.carryValid = carryValid
        options.rejectsPath = rejects
        options.progress = isatty(STDERR_FILENO) == 1
        options.roundDecimals = roundDecimals
        options.binaryCopy = copyFormat == "binary"
        options.cascade = cascade
        options.shortenIdentifiers = shortenIdentifiers
        options.skipChecks = Set(skipCheck)
        for type in types { if let (key, value) = parseTypeOverride(type) { options.typeOverrides[key] = value } }
        do {
            if let djangoProject { options.decimalHints = try DjangoModelHints.read(projectDirectory: djangoProject) }
        } catch {
            FileHandle.standardError.write(Data("stockflow migrate: \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalid.rawValue)
        }
        for hint in decimal { if let (key, value) = parseDecimalHint(hint) { options.decimalHints[key] = value } }
        let log: (String) -> Void = { FileHandle.standardError.write(Data("migrate: \($0)\n".utf8)) }
        do {
            let migration = try Migration(options, log: log)
            if dryRun {
                print(migration.planText())
                return
            }
            let report = verifyOnly ? try migration.verify() : try migration.run()
            print(report.text)
            let differing = report.tables.filter { !$0.matches }
            if verifyOnly {
                if !differing.isEmpty {
                    FileHandle.standardError.write(Data("verification: \(differing.count) table(s) differ: \(differing.map(\.name).joined(separator: ", "))\n".utf8))
                    throw ExitCode(ExitStatus.failed.rawValue)
                }
                print("verified: \(report.tables.count) tables identical")
            } else {
                let rows = report.tables.reduce(0) { $0 + $1.expected.rows }
                print("migrated \(report.tables.count) tables, \(rows) rows in \(String(format: "%.1f", report.seconds)) s; verified")
                if let path = report.rejectsPath { print("\(report.rejects) row(s) not carried (--carry-valid), listed in \(path)") }
            }
        } catch let failure as MigrationFailure {
            FileHandle.standardError.write(Data("stockflow migrate: \(failure.message)\n".utf8))
            throw ExitCode(failure.exitStatus.rawValue)
        }
    }
}
