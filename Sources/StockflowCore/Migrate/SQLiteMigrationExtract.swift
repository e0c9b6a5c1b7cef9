import Foundation

/// `extract: sqlite_migration` — runs `stockflow migrate` as a stage and emits its verification, one row per table.
public final class SQLiteMigrationExtract: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "sqlite_migration", role: .extract,
        summary: "Moves a whole SQLite database (a Django app's) into PostgreSQL exactly as `stockflow migrate` does (docs/migrate.md): schema as Django would have created it, data by COPY over `jobs` connections, all or nothing, then verified. Emits one row per table: `table`, `rows_source`, `rows_rejected`, `rows_target`, `checksum` and `checksum_ok`, for a workbook or CSV to report. Rows that cannot be carried go to the run's rejects.csv (rule `migrate`); without `carry_valid` their presence fails the stage before anything is committed (exit 1; the CLI's is 65). An unreachable server is a temporary failure: the pipeline's `retries:` runs the whole stage again (a failed attempt leaves nothing behind), then the run exits 75; the password never appears in messages or run.json. Nothing connects at validation.",
        options: [
            OptionSpec("database", .inputPath, required: true, "The SQLite file to migrate (opened read-only), relative to the pipeline file."),
            OptionSpec("connection", .string, required: true, "libpq connection of the target: `postgres://user@host:port/db?sslmode=require`, `host=... dbname=...`, or empty for the PG* environment variables; passwords best from ~/.pgpass or `${PGPASSWORD}`."),
            OptionSpec("schema", .string, default: "public", "Target schema, created when missing."),
            OptionSpec("jobs", .int, default: "3", "Connections copying tables in parallel (1 to 64)."),
            OptionSpec("if_exists", .choice(IfExists.allCases.map(\.rawValue)), default: "fail", "When a migrated table already exists in the target schema: `fail` before touching anything, or `replace` it in the transaction that brings the new tables in."),
            OptionSpec("carry_valid", .bool, default: "false", "Load the rows that can be carried and list the others in rejects.csv, instead of failing."),
            OptionSpec("verify_only", .bool, default: "false", "Only compare row counts and checksums of the source and an existing target; a table that differs fails the stage."),
            OptionSpec("decimal", .list, "Precision and scale of decimal columns SQLite does not declare, as `table.column=P,S`."),
            OptionSpec("type", .list, "Column types over the declaration and the data, as `table.column=TYPE` (bigint, bytea, text, numeric, numeric(12,4), varchar(80)...), as `--type` does."),
            OptionSpec("skip_check", .list, "CHECK constraints (by their PostgreSQL name) migrated without, when they do not translate to PostgreSQL; the summary repeats them."),
            OptionSpec("round_decimals", .bool, default: "false", "Round decimals with more places than their column's scale (each listed in the stage's notes in run.json) instead of rejecting the row."),
            OptionSpec("shorten_identifiers", .bool, default: "false", "Shorten names longer than PostgreSQL's 63 bytes (deterministically, reported) instead of refusing them."),
            OptionSpec("cascade", .bool, default: "false", "With `if_exists: replace`: also drop the views and foreign keys outside the migration that depend on the replaced tables (listed in the stage's notes); without it they stop the stage."),
            OptionSpec("django_project", .string, "A Django project folder (relative to the pipeline file): decimal precision and scale, and BigAutoField keys, come from its apps' migrations."),
        ],
        example: """
        migration:
          extract: sqlite_migration
          database: ${APP_DB:-../fixtures/inventory.sqlite3}
          connection: ${TARGET_DB}
          django_project: ../fixtures/django
          if_exists: replace
          jobs: 2
        """)

    let options: MigrationOptions
    let verifyOnly: Bool
    let djangoProject: URL?
    public let outputSchema = Schema([
        Column("table", .text), Column("rows_source", .int), Column("rows_rejected", .int),
        Column("rows_target", .int), Column("checksum", .text), Column("checksum_ok", .bool),
    ])

    init(options: MigrationOptions, verifyOnly: Bool, djangoProject: URL?) {
        self.options = options
        self.verifyOnly = verifyOnly
        self.djangoProject = djangoProject
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let database = config.inputPath("database") else { return nil }
        var options = MigrationOptions(sqlitePath: database.path,
                                       connection: PostgresConnectionOptions(config.string("connection") ?? "", retries: 0))
        options.schema = config.text("schema")
        options.jobs = config.int("jobs")
        if !(1...64).contains(options.jobs) {
            config.error("'jobs' of stage '\(config.id)' must be between 1 and 64, found \(options.jobs)", at: config.node["jobs"]?.position)
        }
        options.ifExists = config.choice("if_exists") ?? options.ifExists
        options.carryValid = config.bool("carry_valid")
        options.roundDecimals = config.bool("round_decimals")
        options.shortenIdentifiers = config.bool("shorten_identifiers")
        options.cascade = config.bool("cascade")
        if options.cascade && options.ifExists != .replace {
            config.error("'cascade' of stage '\(config.id)' goes with 'if_exists: replace'", at: config.node["cascade"]?.position)
        }
        options.skipChecks = Set(config.stringList("skip_check") ?? [])
        for override in config.stringList("type") ?? [] {
            guard let (key, type) = parseTypeOverride(override) else {
                config.error("'type' item '\(override)' of stage '\(config.id)' must look like stock_produit.code_externe=bigint (a PostgreSQL type stockflow creates)", at: config.node["type"]?.position)
                continue
            }
            options.typeOverrides[key] = type
        }
        for hint in config.stringList("decimal") ?? [] {
            guard let (key, value) = parseDecimalHint(hint) else {
                config.error("'decimal' item '\(hint)' of stage '\(config.id)' must look like stock_produit.prix_unit=10,2", at: config.node["decimal"]?.position)
                continue
            }
            options.decimalHints[key] = value
        }
        var djangoProject: URL?
        if let folder = config.string("django_project") {
            let url = config.resolve(folder)
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
                config.error("folder '\(folder)' of 'django_project' in stage '\(config.id)' does not exist (looked for \(url.path))", at: config.node["django_project"]?.position)
            } else if !isFolder.boolValue {
                config.error("'\(folder)' of 'django_project' in stage '\(config.id)' is a file; name the Django project's folder (the one holding manage.py)", at: config.node["django_project"]?.position)
            }
            djangoProject = url
        }
        return SQLiteMigrationExtract(options: options, verifyOnly: config.bool("verify_only"), djangoProject: djangoProject)
    }

    public func produce(_ context: StageContext, emit: Emit) throws {
        var options = self.options
        let target = options.connection.redacted.isEmpty ? "libpq defaults" : options.connection.redacted
        // The migration's own rejects file is a scratch copy; the rows go to the run's rejects.csv.
        let rejectsFile = FileManager.default.temporaryDirectory.appendingPathComponent("stockflow-migrate-\(UUID().uuidString).csv")
        options.rejectsPath = rejectsFile.path
        defer { try? FileManager.default.removeItem(at: rejectsFile) }
        let collected = Locked([MigrationReject]())
        options.onReject = { reject in collected.mutate { $0.append(reject) } }
        let report: MigrationReport
        do {
            if let djangoProject {
                let hints = try DjangoModelHints.read(projectDirectory: djangoProject.path)
                options.decimalHints.merge(hints) { given, _ in given }
            }
            let migration = try Migration(options)
            report = verifyOnly ? try migration.verify() : try migration.run()
        } catch let failure as MigrationFailure {
            let rejected = try forward(collected.value, context)
            if failure.exitStatus == .tooManyRejects {
                throw StageError("migration to \(target): \(rejected) row(s) cannot be carried; nothing was changed. They are listed in rejects.csv (rule migrate). Fix them in the source, or set carry_valid: true to load the other rows.")
            }
            throw StageError("migration to \(target): \(failure.message)", kind: failure.exitStatus == .temporary ? .temporary : .failed)
        } catch let error as StageError {
            throw error
        } catch {
            throw StageError("migration to \(target): \(error)")
        }
        _ = try forward(collected.value, context)
        for note in report.notes { context.note("migration: \(note)") }
        for value in report.rounded { context.note("migration: rounded \(value.table) \(value.key) \(value.column): \(value.value) -> \(value.reason)") }
        let source = context.run.origins.register("migration to \(target)", kind: .fileLine)
        var batch = Batch(capacity: report.tables.count)
        for (position, table) in report.tables.enumerated() {
            batch.append([
                .text(table.name), .int(table.sourceRows), .int(table.rejected), table.actual.map { .int($0.rows) } ?? .null,
                .text(String(table.expected.sum, radix: 16)), .bool(table.matches),
            ], origin: RowOrigin(source: source, position: Int64(position + 1)))
        }
        context.countRead(report.tables.count)
        try emit(batch)
        let differing = report.tables.filter { !$0.matches }
        if verifyOnly && !differing.isEmpty {
            throw StageError("verification against \(target): \(differing.count) table(s) differ: \(differing.map(\.name).joined(separator: ", "))")
        }
    }

    /// Copies the migration's rejects into the run's rejects.csv; returns how many.
    private func forward(_ rejects: [MigrationReject], _ context: StageContext) throws -> Int {
        let source = context.run.origins.register(URL(fileURLWithPath: options.sqlitePath).lastPathComponent, kind: .fileLine)
        for (ordinal, reject) in rejects.enumerated() {
            context.countRead(1)
            try context.reject(RowOrigin(source: source, position: Int64(ordinal + 1)), rule: "migrate",
                               message: "\(reject.table) \(reject.key) \(reject.column): \(reject.reason)", row: reject.value)
        }
        return rejects.count
    }
}

/// Parses `table.column=P,S` (a `--decimal` hint).
public func parseDecimalHint(_ text: String) -> (String, (Int, Int))? {
    let parts = text.split(separator: "=", maxSplits: 1)
    guard parts.count == 2, parts[0].contains(".") else { return nil }
    let numbers = parts[1].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard numbers.count == 2, numbers[0] >= numbers[1], numbers[1] >= 0, numbers[0] <= 1000 else { return nil }
    return (String(parts[0]), (numbers[0], numbers[1]))
}

/// Parses `table.column=TYPE` (a `--type` override).
public func parseTypeOverride(_ text: String) -> (String, TargetType)? {
    let parts = text.split(separator: "=", maxSplits: 1)
    guard parts.count == 2, parts[0].contains("."), let type = TargetType.parse(String(parts[1])) else { return nil }
    return (String(parts[0]), type)
}
