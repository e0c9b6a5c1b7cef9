import Foundation
import PropertyBased
import Testing
@testable import StockflowCore

/// Random small tables in the private PostgreSQL server, run through filter, select, join and aggregate
/// with `pushdown: off` and `pushdown: required`: the same rows in the same order, the same counts.
@Suite(.serialized, .tags(.postgres)) struct PushdownPropertyTests {
    /// One random row of `mouvements`: nulls, accents and case in the group, instants around the
    /// end of summer time in Paris and around midnight (the day depends on the zone).
    struct RowSpec: Sendable, CustomStringConvertible {
        var group: Int, quantity: Int, cents: Int, flag: Int, minutes: Int, product: Int
        var description: String { "g\(group) q\(quantity) c\(cents) f\(flag) m\(minutes) p\(product)" }
    }

    static let groups = ["NULL", "'a'", "'A'", "'é'", "'E'", "'b'"]
    static let rowGen = zip(Gen.int(in: 0...5), Gen.int(in: -1...6), Gen.int(in: -1...99_999), Gen.int(in: 0...2),
                            Gen.int(in: -300...4_000).map { max($0, 0) }, Gen.int(in: 0...4))
        .map { RowSpec(group: $0.0, quantity: $0.1, cents: $0.2, flag: $0.3, minutes: $0.4, product: $0.5) }

    static func pipeline(_ mode: PushdownMode, condition: String) -> String {
        """
        version: 1
        name: pushdown-property
        settings: {timezone: Europe/Paris, pushdown: \(mode.rawValue)}
        stages:
          rows: {extract: postgres, connection: "${PG}", table: mouvements}
          products: {extract: postgres, connection: "${PG}", query: "SELECT id, label, price FROM produits"}
          kept: {transform: filter, input: rows, where: "\(condition)"}
          priced: {transform: join, inputs: {left: kept, right: products}, on: {product: id}, type: left, columns: [label, price]}
          lines:
            transform: select
            input: priced
            columns: [id, grp, {mois: "month(at)"}, {jour: "day(at)"}, {valeur: "quantity * coalesce(price, 0.5) + amount"}, flag, label, {grand: "amount > 500.00"}, {petit: "-quantity"}]
          groups:
            transform: aggregate
            input: lines
            group_by: [grp, mois]
            measures: {n: count(), total: sum(valeur), first: min(jour), last: max(label), flags: count_true(flag), distinct: count_distinct(label)}
          # Grouped by a period of an instant: grouped by pieces of time, labelled after (PeriodPieces).
          monthly:
            transform: aggregate
            input: lines
            group_by: [mois, grp]
            measures: {n: count(), total: sum(valeur), least: min(petit), flags: count_true(flag), last: max(label), big: max(grand), ids: count(id)}
          by_day: {transform: aggregate, input: lines, group_by: [jour, flag], measures: {n: count(), total: sum(valeur)}}
          monthly_out: {load: csv, input: monthly, path: monthly.csv}
          by_day_out: {load: csv, input: by_day, path: by_day.csv}
          matched: {transform: join, inputs: {left: products, right: kept}, on: {id: product}, type: full, columns: [{row: id}]}
          # Read only by an aggregate: the join skips numbering its rows.
          unordered: {transform: join, inputs: {left: kept, right: products}, on: {product: id}, columns: [{produit: label}]}
          by_product: {transform: aggregate, input: unordered, group_by: [produit], measures: {n: count(), total: sum(amount)}}
          by_product_out: {load: csv, input: by_product, path: by_product.csv}
          days: {transform: trends, input: kept, by: day, date: at, amount: amount}
          weeks: {transform: trends, input: lines, by: week, date: jour, amount: valeur}
          days_out: {load: csv, input: days, path: days.csv}
          weeks_out: {load: csv, input: weeks, path: weeks.csv}
          lines_out: {load: csv, input: lines, path: lines.csv}
          groups_out: {load: csv, input: groups, path: groups.csv}
          matched_out: {load: csv, input: matched, path: matched.csv}
        """
    }

    static let conditions = [
        "quantity > 2 or flag",
        "not flag and amount >= 10.00",
        "grp = 'a' or grp > 'b' or is_null(grp)",
        "month(at) = '2026-10' and quantity != 3",
        "day(at) < '2026-10-26'",
        "not (quantity > 2) and not (grp = 'a')",
    ]

    static func fill(_ db: PostgresConnection, _ rows: [RowSpec]) throws {
        try db.execute("""
            DROP TABLE IF EXISTS mouvements, produits;
            CREATE TABLE mouvements (id int, grp text, quantity int, amount numeric(9,2), flag boolean, at timestamptz, product bigint);
            CREATE TABLE produits (id bigint, label varchar(20), price numeric(6,3));
            INSERT INTO produits VALUES (1, 'Stylo', 2.125), (2, 'Écrou', NULL), (3, 'agrafe', 0.333), (3, 'Agrafe bis', 1);
            """)
        guard !rows.isEmpty else { return }
        let values = rows.enumerated().map { index, row in
            let quantity = row.quantity < 0 ? "NULL" : "\(row.quantity)"
            let amount = row.cents < 0 ? "NULL" : Money(units: Int64(row.cents), scale: 2).description
            let flag = ["NULL", "true", "false"][row.flag]
            // From 2026-10-24 20:00 UTC, across the change from summer time (25 October) in Paris.
            let at = row.minutes == 0 ? "NULL" : "timestamptz '2026-10-24 20:00:00+00' + interval '\(row.minutes * 37) minutes'"
            return "(\(index + 1), \(groups[row.group]), \(quantity), \(amount), \(flag), \(at), \(row.product == 0 ? "NULL" : "\(row.product)"))"
        }
        try db.execute("INSERT INTO mouvements VALUES " + values.joined(separator: ", "))
    }

    /// Every output and the counts of one run.
    static func run(_ mode: PushdownMode, condition: String, url: String) throws -> [String] {
        let scratch = Scratch(); defer { scratch.cleanup() }
        let report = try runPipeline(pipeline(mode, condition: condition), in: scratch, environment: ["PG": url])
        #expect(report.exitCode == 0, "\(report.error ?? "")")
        let counts = report.stages.map { "\($0.id) \($0.rowsIn) \($0.rowsOut) \($0.rowsRejected) \($0.rowsFiltered) \($0.rowsEmitted) \($0.filteredReasons)" }
        return counts + ["lines.csv", "groups.csv", "matched.csv", "days.csv", "weeks.csv", "by_product.csv", "monthly.csv", "by_day.csv", "rejects.csv"].map { scratch.read("out/\($0)") ?? "(missing \($0))" }
    }

    @Test func pushedStagesGiveTheRowsAndCountsOfInProcessStages() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        await propertyCheck(count: 25, input: Self.rowGen.array(of: 0...25), Gen.int(in: 0...(Self.conditions.count - 1))) { rows, pick in
            try Self.fill(db, rows)
            let condition = Self.conditions[pick]
            let inProcess = try Self.run(.off, condition: condition, url: target.url)
            let pushed = try Self.run(.required, condition: condition, url: target.url)
            #expect(!inProcess.contains { $0.hasPrefix("(missing") })
            #expect(pushed == inProcess, "\(condition)")
        }
    }

    @Test func planSaysEveryStageRunsInPostgresAndGivesTheSQL() throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        try Self.fill(try target.connect(), [])
        let scratch = Scratch(); defer { scratch.cleanup() }
        let file = scratch.write("pipeline.yml", Self.pipeline(.required, condition: "flag"))
        let pipeline = try Pipeline.load(path: file.path, environment: ["PG": target.url])
        let plan = try #require(pipeline.pushdown)
        for stage in pipeline.stages where stage.spec.role != .load {
            #expect(plan.placements[stage.id]?.inPostgres == true, "\(stage.id)")
        }
        // Only the stages read by loads send rows back; the others are counted in the count query.
        #expect(plan.placements["kept"]?.sql == nil && plan.placements["rows"]?.sql == nil)
        #expect(plan.placements["lines"]?.sql?.hasSuffix("SELECT * FROM \"s_lines\" ORDER BY __seq") == true)
        #expect(plan.countQueries.count == 1)
        // Months, days and the trends by day are labelled after grouping by pieces of time; the trend
        // of weeks reads a date (`jour`) and groups by it; `groups` reads a period in a measure and
        // counts distinct labels, so it labels every row.
        for id in ["monthly", "by_day", "days"] {
            #expect(plan.placements[id]?.sql?.contains("date_bin('1 day', ") == true, "\(id)")
        }
        #expect(plan.placements["weeks"]?.sql?.contains("GROUP BY __p0) AS g GROUP BY 1") == true)
        #expect(plan.placements["groups"]?.sql?.contains("date_bin") == false)
        #expect(plan.countQueries[0].contains("\"s_unordered\" AS NOT MATERIALIZED (SELECT l.c1 AS c1") && plan.countQueries[0].contains("NULL::int8 AS __seq FROM \"s_kept\""))
    }

    @Test func anIncrementalExtractStaysInProcessAndRequiredSaysWhy() throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        try Self.fill(try target.connect(), [])
        let scratch = Scratch(); defer { scratch.cleanup() }
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: incremental
            settings: {pushdown: required}
            stages:
              rows: {extract: postgres, connection: "${PG}", table: mouvements, incremental: {column: id}}
              out: {load: csv, input: rows, path: rows.csv}
            """)
        do {
            _ = try Pipeline.load(path: file.path, environment: ["PG": target.url])
            Issue.record("validated")
        } catch let error as DiagnosticList {
            #expect(error.description.contains("stage 'rows' (extract: postgres) cannot run in PostgreSQL: it reads incrementally"), "\(error)")
        }
    }

    @Test func aFloatColumnIsNotPushed() throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute("CREATE TABLE mesures (id int, valeur double precision)")
        let scratch = Scratch(); defer { scratch.cleanup() }
        let file = scratch.write("pipeline.yml", """
            version: 1
            name: floats
            settings: {pushdown: auto}
            stages:
              rows: {extract: postgres, connection: "${PG}", table: mesures}
              big: {transform: filter, input: rows, where: "valeur > 1"}
              out: {load: csv, input: big, path: rows.csv}
            """)
        let pipeline = try Pipeline.load(path: file.path, environment: ["PG": target.url])
        #expect(pipeline.pushdown?.placements["rows"]?.reason?.contains("column 'valeur' is a binary float") == true)
        #expect(pipeline.pushdown?.placements["big"]?.inPostgres == false)
    }

    /// Unconstrained (NaN, infinities, any digits) and declared `numeric(9,2)` (only NaN can be unreadable).
    @Test(arguments: ["numeric", "numeric(9,2)"])
    func aValueStockflowCannotHoldFailsThePushedRunInsteadOfChangingIt(type: String) throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        try db.execute("CREATE TABLE montants (id int, montant \(type)); INSERT INTO montants VALUES (1, 2.5), (2, 'NaN')")
        let scratch = Scratch(); defer { scratch.cleanup() }
        let yaml = """
            version: 1
            name: nan
            settings: {pushdown: required}
            stages:
              rows: {extract: postgres, connection: "${PG}", table: montants}
              big: {transform: filter, input: rows, where: "montant > 1"}
              out: {load: csv, input: big, path: rows.csv}
            """
        let report = try runPipeline(yaml, in: scratch, environment: ["PG": target.url])
        #expect(report.exitCode != 0)
        #expect(report.error?.contains("stage 'rows' reads 1 row(s) whose values stockflow cannot hold") == true, "\(report.error ?? "")")
        // In-process the same row is rejected, the other delivered.
        let inProcess = try runPipeline(yaml.replacingOccurrences(of: "required", with: "off"), in: scratch, environment: ["PG": target.url])
        #expect(inProcess.exitCode == 0 && inProcess.rejects == 1)
    }

    /// One random order for order_totals: its product (0: null, 5: unknown), quantity (-1: null),
    /// and how far its stored total is off (-1: no stored total).
    struct OrderSpec: Sendable, CustomStringConvertible {
        var product: Int, quantity: Int, off: Int
        var description: String { "p\(product) q\(quantity) off\(off)" }
    }

    static let orderGen = zip(Gen.int(in: 0...5), Gen.int(in: -1...7), Gen.int(in: -1...4))
        .map { OrderSpec(product: $0.0, quantity: $0.1, off: $0.2) }

    @Test func pushedOrderTotalsRejectsAndFindsWhatInProcessOrderTotalsDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // Prices with half cents (rounded half away from zero), negative, missing; product 3 twice
        // (the last row wins) and a product with a null key (which an order with a null product matches).
        try db.execute("""
            CREATE TABLE produits (code_prod bigint, nom_prod text, prix_unit numeric(7,3));
            INSERT INTO produits VALUES (1, 'Stylo', 2.125), (2, 'Gomme', -0.335), (3, 'Agrafe', 0.333), (4, 'Vide', NULL),
                                        (3, 'Agrafe bis', 1.005), (NULL, 'Sans code', 7.5);
            """)
        let yaml = { (mode: PushdownMode) in
            """
            version: 1
            name: totals-property
            settings: {pushdown: \(mode.rawValue)}
            stages:
              orders: {extract: postgres, connection: "${PG}", table: commandes}
              products: {extract: postgres, connection: "${PG}", table: produits}
              totals: {transform: order_totals, inputs: {orders: orders, products: products}}
              out: {load: csv, input: totals, path: totals.csv}
            """
        }
        await propertyCheck(count: 25, input: Self.orderGen.array(of: 0...20)) { orders in
            let values = orders.enumerated().map { index, order in
                let product = order.product == 0 ? "NULL" : "\(order.product)"
                let quantity = order.quantity < 0 ? "NULL" : "\(order.quantity)"
                let stored = order.off < 0 ? "NULL" : "round(coalesce((SELECT prix_unit FROM produits WHERE code_prod = \(order.product) LIMIT 1), 1) * \(max(order.quantity, 0)), 2) + \(order.off) * 0.01 - 0.02"
                return "(\(index + 1), \(product), \(quantity), \(stored))"
            }
            try db.execute("DROP TABLE IF EXISTS commandes; CREATE TABLE commandes (code_cmd int, code_prod bigint, quantite_cmd int, montant_commande numeric(10,2))")
            if !values.isEmpty { try db.execute("INSERT INTO commandes VALUES " + values.joined(separator: ", ")) }
            let outputs = try Self.bothWays(yaml, url: target.url, files: ["totals.csv", "rejects.csv", "findings.csv"])
            #expect(outputs[1] == outputs[0])
        }
    }

    /// One random stock line for warehouse_rollup: its product (0: null, 6: unknown), warehouse
    /// (0: null, 5: unknown) and units (-1: null; some negative).
    struct StockSpec: Sendable, CustomStringConvertible {
        var product: Int, warehouse: Int, units: Int
        var description: String { "p\(product) w\(warehouse) u\(units)" }
    }

    static let stockGen = zip(Gen.int(in: 0...6), Gen.int(in: 0...5), Gen.int(in: -3...25))
        .map { StockSpec(product: $0.0, warehouse: $0.1, units: $0.2) }

    @Test func pushedWarehouseRollupGivesWhatInProcessWarehouseRollupDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // Product 3 twice (the last row wins: deleted, another price) and a null-keyed product; a
        // missing price, half cents; legacy quantities some right, some not. Warehouse 2 twice (the
        // last one inactive), 4 with no flag (active, as in-process).
        try db.execute("""
            CREATE TABLE produits (code_prod bigint, nom_prod text, prix_unit numeric(7,3), is_deleted boolean, quantite int);
            INSERT INTO produits VALUES (1, 'Stylo', 2.125, false, 12), (2, 'Gomme', NULL, false, 0), (3, 'Agrafe', 0.333, false, 5),
                                        (4, 'Ancien', 1.5, true, 3), (3, 'Agrafe bis', 1.005, true, 7), (5, 'Règle', 0.005, NULL, NULL),
                                        (NULL, 'Sans code', 7.5, false, 4);
            CREATE TABLE entrepots (code_entrepot int, nom_entrepot text, is_actif boolean);
            INSERT INTO entrepots VALUES (1, 'Lyon', true), (2, 'Lille', true), (3, 'Nantes', false), (2, 'Lille bis', false), (4, 'Sète', NULL),
                                         (NULL, 'Sans code', true);
            """)
        let yaml = { (mode: PushdownMode) in
            """
            version: 1
            name: rollup-property
            settings: {pushdown: \(mode.rawValue), low_stock_threshold: 10}
            stages:
              stock: {extract: postgres, connection: "${PG}", table: lignes}
              products: {extract: postgres, connection: "${PG}", table: produits}
              warehouses: {extract: postgres, connection: "${PG}", table: entrepots}
              by_warehouse: {transform: warehouse_rollup, inputs: {stock: stock, products: products, warehouses: warehouses}, stock_warehouse: entrepot, stock_product: produit}
              by_product: {transform: warehouse_rollup, inputs: {stock: stock, products: products, warehouses: warehouses}, stock_warehouse: entrepot, stock_product: produit, by: product}
              warehouses_out: {load: csv, input: by_warehouse, path: warehouses.csv}
              products_out: {load: csv, input: by_product, path: products.csv}
            """
        }
        await propertyCheck(count: 25, input: Self.stockGen.array(of: 0...25)) { lines in
            let values = lines.enumerated().map { index, line in
                "(\(index + 1), \(line.product == 0 ? "NULL" : "\(line.product)"), \(line.warehouse == 0 ? "NULL" : "\(line.warehouse)"), \(line.units < -2 ? "NULL" : "\(line.units)"))"
            }
            try db.execute("DROP TABLE IF EXISTS lignes; CREATE TABLE lignes (id int, produit bigint, entrepot int, quantite int)")
            if !values.isEmpty { try db.execute("INSERT INTO lignes VALUES " + values.joined(separator: ", ")) }
            let outputs = try Self.bothWays(yaml, url: target.url, files: ["warehouses.csv", "products.csv", "rejects.csv", "findings.csv"])
            #expect(!outputs[0].contains { $0.hasPrefix("(missing") })
            #expect(outputs[1] == outputs[0])
        }
    }

    /// One random sale for customers: its customer (0: null, 5: unknown), amount (-1: null) and
    /// instant (around midnight in Paris, across the end of summer time).
    struct SaleSpec: Sendable, CustomStringConvertible {
        var customer: Int, cents: Int, minutes: Int
        var description: String { "c\(customer) a\(cents) m\(minutes)" }
    }

    static let saleGen = zip(Gen.int(in: 0...5), Gen.int(in: -1...5_000), Gen.int(in: 0...3_000))
        .map { SaleSpec(customer: $0.0, cents: $0.1 < 0 ? -1 : $0.1 - 1_000, minutes: $0.2) }

    @Test func pushedCustomersGivesWhatInProcessCustomersDoes() async throws {
        let target = try ScratchDatabase(); defer { target.drop() }
        let db = try target.connect()
        // Customer 2 twice (the first row wins), 4 with no sale, a null-keyed customer (which the
        // sales without a customer then belong to, in some runs).
        try db.execute("""
            CREATE TABLE clients (code_client bigint, nom_client text, is_actif boolean);
            INSERT INTO clients VALUES (1, 'Dupont', true), (2, 'Martin', false), (3, 'Élodie', NULL), (2, 'Martin bis', true), (4, 'Sans achat', true);
            """)
        let yaml = { (mode: PushdownMode) in
            """
            version: 1
            name: customers-property
            settings: {pushdown: \(mode.rawValue), timezone: Europe/Paris}
            stages:
              sales: {extract: postgres, connection: "${PG}", table: ventes}
              customers: {extract: postgres, connection: "${PG}", table: clients}
              by_customer: {transform: customers, inputs: {sales: sales, customers: customers}, amount: net, date: at}
              out: {load: csv, input: by_customer, path: customers.csv}
            """
        }
        await propertyCheck(count: 25, input: Self.saleGen.array(of: 0...25), Gen.int(in: 0...1)) { sales, nullCustomer in
            let values = sales.enumerated().map { index, sale in
                let amount = sale.cents == -1 ? "NULL" : Money(units: Int64(sale.cents), scale: 2).description
                return "(\(index + 1), \(sale.customer == 0 ? "NULL" : "\(sale.customer)"), \(amount), timestamptz '2026-10-24 21:00:00+00' + interval '\(sale.minutes) minutes')"
            }
            try db.execute("DROP TABLE IF EXISTS ventes; CREATE TABLE ventes (id int, client_id bigint, net numeric(9,2), at timestamptz); DELETE FROM clients WHERE code_client IS NULL")
            if nullCustomer == 1 { try db.execute("INSERT INTO clients VALUES (NULL, 'Comptoir', true)") }
            if !values.isEmpty { try db.execute("INSERT INTO ventes VALUES " + values.joined(separator: ", ")) }
            let outputs = try Self.bothWays(yaml, url: target.url, files: ["customers.csv"])
            #expect(!outputs[0].contains { $0.hasPrefix("(missing") })
            #expect(outputs[1] == outputs[0])
        }
    }

    /// The pipeline run with `pushdown: off` then `required`: per run its stages' counters (with
    /// findings, filter reasons and notes) and the text of `files`.
    static func bothWays(_ yaml: (PushdownMode) -> String, url: String, files: [String]) throws -> [[String]] {
        try [PushdownMode.off, .required].map { mode in
            let scratch = Scratch(); defer { scratch.cleanup() }
            let report = try runPipeline(yaml(mode), in: scratch, environment: ["PG": url])
            #expect(report.exitCode == 0, "\(report.error ?? "")")
            let counts = report.stages.map {
                "\($0.id) \($0.rowsIn) \($0.rowsOut) \($0.rowsRejected) \($0.rowsFiltered) \($0.rowsEmitted) \($0.findings) \($0.filteredReasons.sorted { $0.key < $1.key }) \($0.notes)"
            }
            return counts + files.map { scratch.read("out/\($0)") ?? "(missing \($0))" }
        }
    }
}
