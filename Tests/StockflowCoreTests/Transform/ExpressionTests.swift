import Testing
@testable import StockflowCore

/// The row expressions of `filter` and `select`.
@Suite struct ExpressionTests {
    static let schema = Schema([
        Column("a", .int), Column("b", .int), Column("c", .int), Column("prix", .decimal, scale: 2),
        Column("nom", .text), Column("jour", .date), Column("moment", .datetime), Column("actif", .bool),
        Column("vide", .int),
    ])

    /// a=2, b=3, c=4, prix=2.50, nom='Café', jour=2026-11-25, moment=2024-12-30T08:00:00Z, actif=true, vide=null.
    static let row: Row = [
        .int(2), .int(3), .int(4), .decimal(Money(units: 250, scale: 2)), .text("Café"),
        .date(CivilDate(iso: "2026-11-25")!),
        .datetime(Timestamp(date: CivilDate(iso: "2024-12-30")!, hour: 8, minute: 0, second: 0)),
        .bool(true), .null,
    ]

    private func evaluate(_ text: String, _ row: Row = ExpressionTests.row) throws -> Value {
        try Expression.parse(text, schema: ExpressionTests.schema).evaluate(row)
    }

    private func parseError(_ text: String) -> Expression.ParseError? {
        do {
            _ = try Expression.parse(text, schema: ExpressionTests.schema)
            return nil
        } catch let error as Expression.ParseError {
            return error
        } catch {
            return nil
        }
    }

    // MARK: Arithmetic and precedence

    @Test(arguments: [
        ("a + b * c", Value.int(14)), ("(a + b) * c", .int(20)), ("a * b + c", .int(10)), ("c - b - a", .int(-1)),
        ("a - b * c", .int(-10)), ("-a + c", .int(2)), ("a * -b", .int(-6)), ("c - (b - a)", .int(3)),
    ])
    func multiplicationBindsTighterThanAdditionAndSubtractionGoesLeftToRight(text: String, expected: Value) throws {
        #expect(try evaluate(text) == expected)
    }

    @Test func arithmeticWithADecimalIsExactAndDecimal() throws {
        #expect(try evaluate("prix * b") == .decimal(Money(units: 750, scale: 2)))
        #expect(try evaluate("prix + 0.01") == .decimal(Money(units: 251, scale: 2)))
        #expect(try evaluate("0.1 + 0.2") == .decimal(Money("0.3")!))
        let expression = try Expression.parse("prix * b", schema: ExpressionTests.schema)
        #expect(expression.resultType(ExpressionTests.schema) == .decimal)
        #expect(try Expression.parse("a * b", schema: ExpressionTests.schema).resultType(ExpressionTests.schema) == .int)
    }

    @Test func negatingAnIntegerGivesAnIntegerAsItsTypeSays() throws {
        let expression = try Expression.parse("-a", schema: ExpressionTests.schema)
        #expect(expression.resultType(ExpressionTests.schema) == .int)
        #expect(try expression.evaluate(ExpressionTests.row) == .int(-2))
        #expect(try evaluate("-prix") == .decimal(Money(units: -250, scale: 2)))
    }

    @Test func arithmeticWithNullIsNull() throws {
        #expect(try evaluate("vide + 1") == .null)
        #expect(try evaluate("a * vide") == .null)
        #expect(try evaluate("-vide") == .null)
    }

    // MARK: Logic and comparisons

    @Test(arguments: [
        ("a = 2 and b = 3", true), ("a = 2 and b = 4", false), ("a = 9 or b = 3", true), ("a = 9 or b = 9", false),
        ("not a = 2", false), ("not a = 9", true), ("a = 9 or b = 3 and c = 9", false), ("a = 2 or b = 9 and c = 9", true),
        ("not (a = 2 and b = 9)", true), ("actif", true), ("not actif", false), ("actif and nom = 'Café'", true),
        ("NOT a = 9 AND b = 3", true), ("a < b", true), ("a <= 2", true), ("a > 2", false), ("c >= 4", true),
        ("a != b", true), ("a <> 2", false), ("a == 2", true), ("prix = 2.5", true), ("prix > 2", true),
        ("nom = 'Caf'", false), ("jour >= '2026-01-01'", true), ("jour < '2026-11-25'", false),
    ])
    func logicAndComparisonsFollowTheUsualPrecedence(text: String, expected: Bool) throws {
        #expect(try evaluate(text) == .bool(expected), "\(text)")
    }

    @Test(arguments: ["vide = 1", "vide != 1", "vide < 1", "vide > 1", "vide = null", "1 = vide", "vide <= vide"])
    func comparisonsWithNullAreFalse(text: String) throws {
        #expect(try evaluate(text) == .bool(false), "\(text)")
    }

    @Test func nullIsSeenThroughIsNullAndCoalesce() throws {
        #expect(try evaluate("is_null(vide)") == .bool(true))
        #expect(try evaluate("is_null(a)") == .bool(false))
        #expect(try evaluate("coalesce(vide, 7)") == .int(7))
        #expect(try evaluate("coalesce(a, 7)") == .int(2))
        #expect(try evaluate("coalesce(vide, 'aucun')") == .text("aucun"))
        #expect(try evaluate("coalesce(vide, vide)") == .null)
    }

    @Test func textLiteralsDoubleTheirQuotes() throws {
        #expect(try evaluate("'l''entrepôt'") == .text("l'entrepôt"))
        #expect(try evaluate("nom = 'Café'") == .bool(true))
    }

    // MARK: Calendar functions

    @Test func calendarFunctionsReadDatesAndDatetimes() throws {
        #expect(try evaluate("month(jour)") == .text("2026-11"))
        #expect(try evaluate("year(jour)") == .int(2026))
        #expect(try evaluate("iso_week(jour)") == .text("2026-W48"))
        #expect(try evaluate("day(jour)") == .date(CivilDate(iso: "2026-11-25")!))
        // 2024-12-30 is a Monday of ISO week 1 of 2025, while still in December 2024.
        #expect(try evaluate("iso_week(moment)") == .text("2025-W01"))
        #expect(try evaluate("month(moment)") == .text("2024-12"))
        #expect(try evaluate("year(moment)") == .int(2024))
        #expect(try evaluate("day(moment)") == .date(CivilDate(iso: "2024-12-30")!))
    }

    @Test(arguments: [("2026-01-01", "2026-W01"), ("2024-12-30", "2025-W01"), ("2021-01-03", "2020-W53")])
    func isoWeekNamesTheWeekOfTheThursday(iso: String, week: String) throws {
        var row = ExpressionTests.row
        row[5] = .date(CivilDate(iso: iso)!)
        #expect(try evaluate("iso_week(jour)", row) == .text(week))
    }

    @Test func calendarFunctionsOfNullOrNonDatesAreNull() throws {
        var row = ExpressionTests.row
        row[5] = .null
        #expect(try evaluate("month(jour)", row) == .null)
        #expect(try evaluate("year(nom)") == .null)
    }

    @Test func resultTypesOfFunctionsMatchTheirValues() throws {
        let schema = ExpressionTests.schema
        for (text, type) in [("month(jour)", ColumnType.text), ("iso_week(jour)", .text), ("year(jour)", .int),
                             ("day(moment)", .date), ("is_null(a)", .bool), ("coalesce(prix, 0)", .decimal),
                             ("a < b", .bool), ("not actif", .bool), ("'x'", .text)] {
            #expect(try Expression.parse(text, schema: schema).resultType(schema) == type, "\(text)")
        }
    }

    // MARK: Errors

    @Test func anUnknownColumnIsNamedWithASuggestionAndItsOffset() throws {
        let error = try #require(parseError("a > 1 and prx < 3"))
        #expect(error.message.contains("unknown column 'prx'"))
        #expect(error.message.contains("did you mean 'prix'?"))
        #expect(error.offset == 10)
    }

    @Test func anUnknownFunctionIsNamedWithASuggestion() throws {
        let error = try #require(parseError("mnth(jour)"))
        #expect(error.message.contains("unknown function 'mnth'"))
        #expect(error.message.contains("did you mean 'month'?"))
        #expect(error.offset == 0)
    }

    @Test(arguments: [
        ("a +", 3), ("(a + b", 6), ("a b", 2), ("coalesce(a)", 0), ("month(jour, a)", 0), ("'abc", 0), ("1.2.3", 0), ("a = = 2", 4),
    ])
    func malformedExpressionsAreRejectedAtTheirPlace(text: String, offset: Int) throws {
        let error = try #require(parseError(text), "'\(text)' should not parse")
        #expect(error.offset == offset, "\(text): \(error.message)")
    }

    @Test func aBadColumnInAFilterIsReportedAtItsColumnInThePipelineFile() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("rows.csv", "a,prix\n1,2.50\n")
        let yaml = """
        version: 1
        name: t
        stages:
          rows:
            extract: csv
            path: rows.csv
            columns: {a: int, prix: decimal}
          kept:
            transform: filter
            input: rows
            where: "a > 1 and prx < 3"
          out:
            load: csv
            input: kept
            path: out.csv
        """
        let problems = diagnostics(of: yaml, in: scratch)
        let problem = try #require(problems.first { $0.message.contains("prx") })
        #expect(problem.message.contains("did you mean 'prix'?"))
        // `prx` starts at column 23 of line 11: `    where: "a > 1 and prx < 3"`.
        #expect(problem.position?.line == 11)
        #expect(problem.position?.column == 23)
    }

    @Test func aBadColumnInADerivedSelectColumnIsReportedAtItsColumn() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("rows.csv", "a,prix\n1,2.50\n")
        let yaml = """
        version: 1
        name: t
        stages:
          rows:
            extract: csv
            path: rows.csv
            columns: {a: int, prix: decimal}
          shaped:
            transform: select
            input: rows
            columns: [a, {ttc: "prx * 1.2"}]
          out:
            load: csv
            input: shaped
            path: out.csv
        """
        let problem = try #require(diagnostics(of: yaml, in: scratch).first { $0.message.contains("prx") })
        // `    columns: [a, {ttc: "prx * 1.2"}]`: the quote is at column 24, `prx` at 25.
        #expect(problem.position?.line == 11)
        #expect(problem.position?.column == 25)
    }

    @Test func aBadColumnInAPlainScalarIsReportedAtItsColumn() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        scratch.write("rows.csv", "a,prix\n1,2.50\n")
        let yaml = """
        version: 1
        name: t
        stages:
          rows:
            extract: csv
            path: rows.csv
            columns: {a: int, prix: decimal}
          kept:
            transform: filter
            input: rows
            where: a > 1 and prx < 3
          out:
            load: csv
            input: kept
            path: out.csv
        """
        let problem = try #require(diagnostics(of: yaml, in: scratch).first { $0.message.contains("prx") })
        #expect(problem.position?.line == 11)
        #expect(problem.position?.column == 22)
    }
}
