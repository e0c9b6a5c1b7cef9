import Foundation
import Testing
@testable import StockflowCore

/// The cases of issue 15, each against the real PostgreSQL server: what a real SQLite application
/// holds arrives as it is, or the migration stops (target unchanged) saying what and where.
@Suite(.serialized, .tags(.postgres)) struct MigrationCasesTests {
    /// Migrates `sql` into a fresh database and hands the connection to `check`.
    private func migrate(_ sql: String, _ check: (PostgresConnection, MigrationReport, Scratch) throws -> Void) throws {
        try migrate(sql, adjusting: { _ in }, check)
    }

    private func migrate(_ sql: String, adjusting adjust: (inout MigrationOptions) -> Void,
                         _ check: (PostgresConnection, MigrationReport, Scratch) throws -> Void) throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        var options = migrationOptions(try migrationSource(scratch, sql), target, scratch)
        adjust(&options)
        let report = try Migration(options).run()
        #expect(report.tables.allSatisfy { $0.matches })
        try check(try target.connect(), report, scratch)
    }

    /// Runs a migration of `sql` that must fail; returns the failure and whether the target has any table.
    private func refused(_ sql: String, _ adjust: (inout MigrationOptions) -> Void = { _ in }) throws -> (MigrationFailure, Bool) {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        var options = migrationOptions(try migrationSource(scratch, sql), target, scratch)
        adjust(&options)
        do {
            _ = try Migration(options).run()
        } catch let failure as MigrationFailure {
            let tables = try target.connect().scalar("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
            return (failure, tables != "0")
        }
        Issue.record("the migration succeeded")
        throw TestServerMissing()
    }

    @Test func twoUnnamedTableChecksEachGetTheirOwnName() throws {
        try migrate("create table t(id integer primary key, a int, b int, check(a>0), check(b>0)); insert into t values (1, 1, 1);") { db, _, _ throws in
            let names = try db.query("SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0 ORDER BY conname").map { $0[0] ?? "" }
            #expect(names == ["t_check", "t_check1"])
            #expect(throws: PostgresError.self) { try db.execute("INSERT INTO t VALUES (2, 1, 0)") }
        }
    }

    @Test func sqliteSyntaxInChecksIsTranslated() throws {
        try migrate("""
            create table t(id integer primary key, [a] int, `b` text, c blob, check([a] > 0), check(`b` GLOB '[A-Z]*'), check(length(c) <= 4), check(a == a));
            insert into t values (1, 1, 'Abc', X'0102');
            """) { db, _, _ throws in
            try db.execute("INSERT INTO t VALUES (2, 1, 'Xyz', NULL)")
            #expect(throws: PostgresError.self) { try db.execute("INSERT INTO t VALUES (3, 1, 'abc', NULL)") }
            #expect(throws: PostgresError.self) { try db.execute("INSERT INTO t VALUES (4, 1, 'A', '\\x0102030405')") }
        }
    }

    @Test func anUntranslatableCheckStopsBeforeTheTargetUnlessSkipped() throws {
        let sql = "create table t(id integer primary key, a int, check(typeof(a) = 'integer')); insert into t values (1, 5);"
        let (failure, touched) = try refused(sql)
        #expect(failure.message.contains("CHECK t_check") && failure.message.contains("--skip-check t_check"))
        #expect(!touched)
        try migrate(sql, adjusting: { $0.skipChecks = ["t_check"] }) { db, report, _ throws in
            #expect(try db.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0") == "0")
            #expect(report.notes.contains { $0.contains("CHECK t_check") && $0.contains("--skip-check") })
        }
    }

    @Test func blobsInUntypedColumnsArriveAsTheirBytes() throws {
        try migrate("create table d(id integer primary key, body); insert into d values (1, X'89504E470D0A1A0AFF'), (2, NULL);") { db, _, _ throws in
            #expect(try db.scalar("SELECT encode(body, 'hex') FROM d WHERE id = 1") == "89504e470d0a1a0aff")
            #expect(try db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'd'::regclass AND attname = 'body'") == "bytea")
        }
    }

    @Test func blobsInTextColumnsAreRejectedWithTheirKeyNeverMangled() throws {
        let sql = "create table d(id integer primary key, body text); insert into d values (1, X'89504E470D0A1A0AFF'), (2, 'plain');"
        let (failure, touched) = try refused(sql)
        #expect(failure.exitStatus == .tooManyRejects && !touched)
        #expect(failure.message.contains("d id=1 body") && failure.message.contains("blob"))
        try migrate(sql, adjusting: { $0.typeOverrides["d.body"] = .bytea }) { db, _, _ throws in
            #expect(try db.scalar("SELECT encode(body, 'hex') FROM d WHERE id = 1") == "89504e470d0a1a0aff")
            #expect(try db.scalar("SELECT convert_from(body, 'UTF8') FROM d WHERE id = 2") == "plain")
        }
    }

    @Test func integersPast32BitsWidenTheColumnAndKeysAreBigint() throws {
        try migrate("create table m(id integer primary key, ts integer not null, n integer); insert into m values (1, 1733000000000, 5), (2, 7, 6);") { db, report, _ throws in
            let types = try db.query("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'm'::regclass AND attnum > 0 ORDER BY attnum")
            #expect(types == [["id", "bigint"], ["ts", "bigint"], ["n", "integer"]])
            #expect(try db.scalar("SELECT ts::text FROM m WHERE id = 1") == "1733000000000")
            #expect(report.notes.contains { $0.contains("m.ts") && $0.contains("bigint") })
        }
    }

    @Test func decimalsWithMorePlacesThanTheScaleAreRejectedOrRoundedAndReported() throws {
        let sql = "create table p(id integer primary key, price decimal(10,2), n numeric); insert into p values (1, 19.999, 1e-12), (2, 0.1 + 0.2, 3);"
        let (failure, _) = try refused(sql)
        #expect(failure.exitStatus == .tooManyRejects && failure.message.contains("p id=1 price"))
        try migrate(sql, adjusting: { $0.roundDecimals = true }) { db, report, _ throws in
            #expect(try db.query("SELECT price::text, n::text FROM p ORDER BY id") == [["20.00", "0.000000000001"], ["0.30", "3"]])
            #expect(report.rounded.count == 1 && report.rounded[0].key == "id=1" && report.rounded[0].value == "19.999")
            #expect(report.text.contains("rounded: p id=1 price: 19.999"))
        }
    }

    @Test func foreignKeyActionsAreKept() throws {
        try migrate("""
            create table a(id integer primary key); create table b(id integer primary key, a_id int references a(id) on delete cascade on update cascade);
            create table c(id integer primary key, a_id int references a on delete set null);
            insert into a values (1), (2); insert into b values (1, 1), (2, 2); insert into c values (1, 1), (2, 2);
            """) { db, _, _ throws in
            try db.execute("DELETE FROM a WHERE id = 1")
            #expect(try db.query("SELECT id::text FROM b ORDER BY id") == [["2"]])
            #expect(try db.query("SELECT id::text, a_id::text FROM c ORDER BY id") == [["1", nil], ["2", "2"]])
            try db.execute("DELETE FROM c; UPDATE a SET id = 20 WHERE id = 2")
            #expect(try db.scalar("SELECT a_id::text FROM b") == "20")
        }
    }

    @Test func foreignKeysAreDeferredOnlyWhereTheSchemaSaysSo() throws {
        try migrate("""
            create table a(id integer primary key);
            create table b(id integer primary key,
              plain int references a(id),
              [deferred] int references "a" (id) on delete cascade deferrable initially deferred,
              imm int references a(id) deferrable initially immediate,
              nev int references a(id) not deferrable initially deferred,
              x int, y int, constraint pair foreign key (x) references a (id) DEFERRABLE INITIALLY DEFERRED);
            insert into a values (1); insert into b values (1, 1, 1, 1, 1, 1, 1);
            """) { db, _, _ throws in
            let keys = try db.query("""
                SELECT a.attname, c.condeferrable::text, c.condeferred::text FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f' ORDER BY 1
                """)
            #expect(keys == [["deferred", "true", "true"], ["imm", "true", "false"], ["nev", "false", "false"],
                             ["plain", "false", "false"], ["x", "true", "true"]])
            // Not deferred: an orphan is refused at the statement, as SQLite refuses it.
            #expect(throws: PostgresError.self) { try db.execute("INSERT INTO b (id, plain) VALUES (2, 9)") }
            // Deferred: the orphan waits for the commit, and a parent inserted before it makes it valid.
            try db.execute("BEGIN; INSERT INTO b (id, deferred) VALUES (3, 9); INSERT INTO a VALUES (9); COMMIT")
            #expect(throws: PostgresError.self) { try db.execute("BEGIN; INSERT INTO b (id, x) VALUES (4, 8); COMMIT") }
            try? db.execute("ROLLBACK")
        }
        let deferrals = SourceSchemaReader.foreignKeyDeferrals(in: #"CREATE TABLE "c" ("p_id" integer NULL REFERENCES "p" ("id") DEFERRABLE INITIALLY DEFERRED, q int REFERENCES p)"#)
        #expect(deferrals == [SourceSchemaReader.foreignKeyIdentity(columns: ["p_id"], parent: "p"): "DEFERRABLE INITIALLY DEFERRED"])
    }

    @Test func columnDefaultsAreCarried() throws {
        try migrate("""
            create table t(id integer primary key, created datetime not null default current_timestamp, stamp text default (datetime('now')),
              day date default (date('now')), n int not null default 0, s varchar(5) default 'x''y', f bool not null default 1, odd int default (strftime('%s','now')));
            insert into t (id) values (1);
            """) { db, report, _ throws in
            try db.execute("INSERT INTO t (id) VALUES (2)")
            let row = try db.query("SELECT n::text, s, f::text, created > now() - interval '1 hour', stamp ~ '^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$', day = current_date, odd FROM t WHERE id = 2")
            #expect(row == [["0", "x'y", "true", "t", "t", "t", nil]])
            #expect(Migration.self == Migration.self && report.tables.count == 1)
        }
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let plan = try Migration(migrationOptions(try migrationSource(scratch, "create table t(id integer primary key, odd int default (strftime('%s','now')));"), target, scratch)).planText()
        #expect(plan.contains("odd: DEFAULT ") && plan.contains("strftime('%s','now')") && plan.contains("not carried"))
    }

    @Test func charColumnsAreNotPadded() throws {
        try migrate("create table h(id integer primary key, hash char(512) not null); insert into h values (1, 'abc'), (2, 'pad  ');") { db, _, _ throws in
            #expect(try db.query("SELECT hash, length(hash)::text FROM h ORDER BY id") == [["abc", "3"], ["pad  ", "5"]])
            #expect(try db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'h'::regclass AND attname = 'hash'") == "character varying(512)")
        }
    }

    @Test func viewsAreTranslatedAndTriggersListedWithTheirSQLWritten() throws {
        let sql = """
            create table Item(id integer primary key, [Name] text, active bool not null);
            insert into Item values (1, 'vis', 1), (2, 'clou', 0);
            create view ActiveItems as select [Name], ifnull(Name, '') || '!' as Shout from Item where active = 1;
            create view Years as select strftime('%Y', 'now') as y;
            create trigger item_touch after update on Item begin update Item set Name = Name where id = new.id; end;
            """
        try migrate(sql) { db, report, scratch throws in
            #expect(try db.query(#"SELECT "Name", "Shout" FROM "ActiveItems""#) == [["vis", "vis!"]])
            #expect(report.notes.contains { $0.hasPrefix("view Years not carried") && $0.contains("strftime") })
            #expect(report.notes.contains { $0.contains("trigger item_touch on Item not carried") })
            let triggers = try String(contentsOf: scratch.url.appendingPathComponent("migrate-triggers.sql"), encoding: .utf8)
            #expect(triggers.contains("item_touch after update on Item begin update Item set Name = Name"))
        }
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let plan = try Migration(migrationOptions(try migrationSource(scratch, sql), target, scratch)).planText()
        #expect(plan.contains("view Years: NOT CARRIED") && plan.contains("view ActiveItems: translated") && plan.contains("trigger item_touch on Item: NOT CARRIED"))
    }

    @Test func replaceListsDependentObjectsAndRefusesWithoutCascade() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        var options = migrationOptions(try migrationSource(scratch, "create table p(id integer primary key, n int); insert into p values (1, 2);"), target, scratch)
        _ = try Migration(options).run()
        let db = try target.connect()
        try db.execute("CREATE VIEW mine AS SELECT n FROM p; CREATE TABLE other (id int PRIMARY KEY, p_id bigint REFERENCES p (id))")
        options.ifExists = .replace
        #expect { try Migration(options).run() } throws: { error in
            let message = (error as? MigrationFailure)?.message ?? ""
            return message.contains("view mine") && message.contains("foreign key other_p_id_fkey of other") && message.contains("--cascade")
        }
        #expect(try db.scalar("SELECT count(*) FROM pg_views WHERE viewname = 'mine'") == "1")
        options.cascade = true
        let report = try Migration(options).run()
        #expect(report.notes.contains { $0.contains("view mine dropped") })
        #expect(try db.scalar("SELECT count(*) FROM pg_views WHERE viewname = 'mine'") == "0")
    }

    @Test func emptyAndForeignFilesAreRefusedWithThatSentence() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let empty = scratch.url.appendingPathComponent("empty.sqlite3")
        let text = scratch.url.appendingPathComponent("notes.sqlite3")
        try Data().write(to: empty)
        try Data("id,name\n1,vis\n".utf8).write(to: text)
        for (path, sentence) in [(empty.path, "is empty: it is not an SQLite database"), (text.path, "is not an SQLite database")] {
            #expect { try Migration(MigrationOptions(sqlitePath: path, connection: PostgresConnectionOptions("", retries: 0))) } throws: { error in
                guard let failure = error as? MigrationFailure else { return false }
                return failure.exitStatus == .failed && failure.message.contains(sentence)
            }
        }
    }

    @Test func longIdentifiersAreRefusedNamingTheCutOrShortenedOnRequest() throws {
        let long = String(repeating: "quantite_", count: 7) + "a"   // 64 bytes
        let other = String(repeating: "quantite_", count: 7) + "b"
        let sql = "create table t(id integer primary key, \(long) int, \(other) int); insert into t values (1, 2, 3);"
        let (failure, touched) = try refused(sql)
        #expect(failure.message.contains("identifier \(long) is 64 bytes") && failure.message.contains("cut to \(long.prefix(63))") && !touched)
        try migrate(sql, adjusting: { $0.shortenIdentifiers = true }) { db, report, _ throws in
            let names = try db.query("SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 1 ORDER BY attnum").map { $0[0] ?? "" }
            #expect(names == [postgresName(long), postgresName(other)] && names[0] != names[1])
            #expect(report.notes.contains { $0.contains("shortened to \(postgresName(long))") })
        }
    }

    @Test func aNullKeyIsShownAsNULL() throws {
        let (failure, _) = try refused("create table k(code text primary key, n int not null); insert into k values (NULL, 5);")
        #expect(failure.message.contains("k code=NULL code: NULL in a NOT NULL column"))
    }

    @Test func aDjangoSchemaThatAlreadyWorksKeepsItsConstraintsByteForByte() throws {
        let sql = """
            CREATE TABLE "stock_produit" ("code_prod" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "quantite" integer unsigned NOT NULL CHECK ("quantite" >= 0),
              "prix" decimal NOT NULL, CONSTRAINT "prix_positif" CHECK ("prix" >= 0));
            INSERT INTO stock_produit VALUES (1, 3, 12.5);
            """
        try migrate(sql) { db, _, _ throws in
            let checks = try db.query("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0 ORDER BY conname")
            #expect(checks == [["prix_positif", "CHECK ((prix >= (0)::numeric))"], ["stock_produit_quantite_check", "CHECK ((quantite >= 0))"]])
        }
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let migration = try Migration(migrationOptions(try migrationSource(scratch, sql), target, scratch))
        #expect(migration.tables[0].checks.map(\.expression) == [#""quantite" >= 0"#, #""prix" >= 0"#])
        #expect(migration.tables[0].checks.allSatisfy { $0.expression == $0.sourceExpression })
        #expect(migration.source.problems.isEmpty && migration.source.changes.isEmpty)
    }

    @Test func keysAreAttachedToTheirIndexesAndForeignKeysWaitForTheirParentsKeys() throws {
        // The child references the parent's UNIQUE column, not its key: its foreign key can only be added once
        // that unique constraint exists, whichever connection copies which table first.
        let sql = """
            create table parent(id integer primary key, code varchar(8) not null unique, label text);
            create table child(id integer primary key, parent_code varchar(8) not null references parent(code) on delete cascade, n int);
            create unique index child_n_uniq on child(n);
            with recursive k(i) as (select 1 union all select i + 1 from k where i < 3000)
            insert into parent select i, 'p' || i, 'parent ' || i from k;
            with recursive k(i) as (select 1 union all select i + 1 from k where i < 20000)
            insert into child select i, 'p' || (i % 3000 + 1), i from k;
            """
        try migrate(sql, adjusting: { $0.jobs = 3 }) { db, report, _ throws in
            #expect(report.tables.allSatisfy { $0.matches })
            let constraints = try db.query("SELECT conname, contype::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ('parent'::regclass, 'child'::regclass) AND contype IN ('p', 'u', 'f') ORDER BY conname")
            #expect(constraints == [
                ["child_parent_code_fk_parent_code", "f", "FOREIGN KEY (parent_code) REFERENCES parent(code) ON DELETE CASCADE"],
                ["child_pkey", "p", "PRIMARY KEY (id)"],
                ["parent_code_key", "u", "UNIQUE (code)"],
                ["parent_pkey", "p", "PRIMARY KEY (id)"],
            ])
            // The unique index stays an index, not a constraint; the key indexes are the constraints' own.
            let indexes = try db.query("SELECT c.relname, i.indisprimary::text, i.indisunique::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid IN ('parent'::regclass, 'child'::regclass) ORDER BY 1")
            #expect(indexes == [["child_n_uniq", "false", "true"], ["child_pkey", "true", "true"], ["parent_code_key", "false", "true"], ["parent_pkey", "true", "true"]])
            try db.execute("DELETE FROM parent WHERE id = 1")
            let orphans = try db.scalar("SELECT count(*)::text FROM child WHERE parent_code = 'p1'")
            #expect(orphans == "0")
        }
    }

    @Test func aLargeTableCopiedInPartsByTwoConnectionsArrivesWhole() throws {
        // 60,000 rows: cut into two rowid ranges; a 64-bit value late in the second widens the column while the first copies.
        let sql = """
            create table big(id integer primary key, n integer not null, label text);
            with recursive k(i) as (select 1 union all select i + 1 from k where i < 60000)
            insert into big select i, i * 3, 'row ' || i from k;
            update big set n = 5000000000 where id = 59000;
            create table small(id integer primary key); insert into small values (1);
            """
        try migrate(sql, adjusting: { $0.jobs = 2 }) { db, report, _ throws in
            #expect(report.tables.first { $0.name == "big" }?.actual?.rows == 60000)
            #expect(try db.query("SELECT count(*)::text, sum(n)::text FROM big") == [["60000", String((1...60000).reduce(Int64(0)) { $0 + Int64($1) * 3 } - 59000 * 3 + 5_000_000_000)]])
            #expect(try db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'n'") == "bigint")
        }
        let (failure, touched) = try refused(sql + "insert into big values (60001, 1, X'00'); update big set label = X'01' where id = 10;", { $0.jobs = 2 })
        #expect(failure.exitStatus == .tooManyRejects && !touched)
        #expect(failure.message.hasPrefix("2 row(s) cannot be carried"))
    }

    @Test func anyChangedValueFailsVerificationNamingTableKeyAndColumn() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        let options = migrationOptions(try migrationSource(scratch, """
            create table p(id integer primary key, code char(8), price decimal(10,2), photo blob);
            insert into p values (1, 'a', 1.5, X'00'), (2, 'b', 2.25, X'01');
            """), target, scratch)
        _ = try Migration(options).run()
        #expect(try Migration(options).verify().tables.allSatisfy { $0.matches })
        let db = try target.connect()
        for change in ["UPDATE p SET price = 2.26 WHERE id = 2", "UPDATE p SET price = 2.25, code = 'b ' WHERE id = 2", "UPDATE p SET code = 'b', photo = '\\xefbfbd' WHERE id = 2"] {
            try db.execute(change)
            let report = try Migration(options).verify()
            #expect(report.tables[0].matches == false)
            #expect(report.tables[0].difference?.hasPrefix("id=2, column ") == true)
            #expect(report.text.contains("DIFFERS") && report.text.contains("first at id=2"))
        }
    }

    @Test func textAndBinaryCopyCarryTheSameValues() throws {
        let sql = """
            create table v(id integer primary key, n smallint, i int, b bigint, d decimal(12,4), x numeric, f real, t text, c varchar(5),
              ok bool, at datetime, day date, tm time, j text check (json_valid(j)), raw blob);
            insert into v values (1, -3, -2147483648, 9223372036854775807, -12.3456, 1e-12, 0.1, 'tab\tand\\back', 'é', 1,
              '2025-12-31 23:30:00.5', '1999-02-28', '23:59:59.999999', '{"a": "\\t"}', X'00FF'),
              (2, NULL, 0, 0, 0, -0.5, -1.5e300, '', '', 0, '1970-01-01 00:00:00', '2000-01-01', '00:00:00', '[]', X''),
              (3, 1, 1, 1, 99999999.9999, 123456789012345678901234567890, 3, 'x', 'y', 1, '2000-02-29 12:00:00', '1900-03-01', '12:00', 'null', NULL);
            """
        var seen: [[[String?]]] = []
        for binary in [false, true] {
            try migrate(sql, adjusting: { $0.binaryCopy = binary }) { db, _, _ throws in
                seen.append(try db.query("SELECT n, i, b, d, x, f, t, c, ok, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), day, tm, j::text, encode(raw, 'hex') FROM v ORDER BY id"))
            }
        }
        #expect(seen.count == 2 && seen[0] == seen[1])
        #expect(seen.last?.first?[3] == "-12.3456" && seen.last?.first?[6] == "tab\tand\\back")
    }

    @Test func thePipelineStageTakesTheMigrationsOptions() throws {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let target = try ScratchDatabase(); defer { target.drop() }
        _ = try migrationSource(scratch, """
            create table t(id integer primary key, big int, price decimal(10,2), raw text, a int, check(typeof(a) = 'integer'));
            insert into t values (1, 5, 19.999, 'x', 1);
            """)
        func yaml(_ extra: String) -> String {
            """
            version: 1
            name: m
            stages:
              migration:
                extract: sqlite_migration
                database: app.sqlite3
                connection: ${PG}
                if_exists: replace
            \(extra)
              out: {load: csv, input: migration, path: m.csv}
            """
        }
        let options = """
                type: [t.big=bigint, t.raw=bytea]
                skip_check: [t_check]
                round_decimals: true
                cascade: true
            """
        // Without skip_check and round_decimals the migration is refused, target unchanged.
        let refused = try runPipeline(yaml("    type: [t.big=bigint]"), in: scratch, environment: ["PG": target.url])
        #expect(refused.exitCode == 1 && refused.error?.contains("--skip-check t_check") == true, "\(refused.error ?? "")")
        let report = try runPipeline(yaml(options), in: scratch, environment: ["PG": target.url])
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let notes = report.stages.first { $0.id == "migration" }?.notes ?? []
        #expect(notes.contains { $0.contains("CHECK t_check") && $0.contains("--skip-check") })
        #expect(notes.contains { $0.contains("rounded t id=1 price: 19.999") })
        let db = try target.connect()
        #expect(try db.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname IN ('big', 'raw') ORDER BY attname") == [["bigint"], ["bytea"]])
        #expect(try db.scalar("SELECT price::text FROM t") == "20.00")
        // cascade: a view of the user's over the replaced table is dropped with it (and said), not refused.
        try db.execute("CREATE VIEW mine AS SELECT id FROM t")
        let replaced = try runPipeline(yaml(options), in: scratch, environment: ["PG": target.url])
        #expect(replaced.exitCode == 0, "\(replaced.error ?? "")")
        #expect(replaced.stages.first { $0.id == "migration" }?.notes.contains { $0.contains("view public.mine dropped") || $0.contains("mine") && $0.contains("--cascade") } == true)
        // Options that do not parse are pipeline errors at their line.
        let bad = scratch.write("bad.yml", yaml("    type: [t.big=geometry]\n    if_exists: fail\n    cascade: true").replacingOccurrences(of: "    if_exists: replace\n", with: ""))
        do {
            _ = try Pipeline.load(path: bad.path, environment: ["PG": target.url])
            Issue.record("the pipeline loaded")
        } catch let list as DiagnosticList {
            #expect(list.description.contains("'type' item 't.big=geometry'") && list.description.contains("'cascade' of stage 'migration' goes with 'if_exists: replace'"), "\(list)")
        }
    }
}
