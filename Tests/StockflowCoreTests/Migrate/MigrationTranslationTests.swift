import Foundation
import Testing
@testable import StockflowCore

/// SQLite SQL → PostgreSQL SQL, decimals as PostgreSQL prints them, DEFAULTs: no server needed.
@Suite struct MigrationTranslationTests {
    @Test(arguments: [
        #""quantite" >= 0"#,
        #""quantite_cmd" >= 1"#,
        #"("prix" > 0 AND "prix" < 1000000)"#,
        "status IN ('draft', 'sent')",
        #"length("code") <= 10 OR "code" IS NULL"#,
        "a BETWEEN 1 AND 5",
    ])
    func expressionsThatAlreadyWorkStayByteForByte(expression: String) throws {
        #expect(try SQLiteExpression().translate(expression) == expression)
    }

    @Test(arguments: [
        ("[a] > 0", #""a" > 0"#),
        ("`b` == 1", #""b" = 1"#),
        ("code GLOB '[A-Z]*'", "code ~ '^[A-Z].*$'"),
        ("code NOT GLOB 'x?.y'", "code !~ '^x.\\.y$'"),
        ("name LIKE 'a%'", "name ILIKE 'a%'"),
        ("a IS b", "a IS NOT DISTINCT FROM b"),
        ("a IS NOT b", "a IS DISTINCT FROM b"),
        ("a IS NOT NULL", "a IS NOT NULL"),
        ("ifnull(a, 0) > instr(b, 'x')", "coalesce(a, 0) > strpos(b, 'x')"),
        ("SELECT group_concat(Name) FROM Artist", #"SELECT string_agg(("Name")::text, ',') FROM "Artist""#),
        ("datetime('now')", "CURRENT_TIMESTAMP"),
        ("x = X'00ff'", "x = '\\x00ff'::bytea"),
        ("max(a, b) > 1", "greatest(a, b) > 1"),
    ])
    func sqliteSpellingsBecomePostgreSQL(pair: (String, String)) throws {
        #expect(try SQLiteExpression().translate(pair.0) == pair.1)
    }

    @Test func booleanColumnsCompareWithTrueAndFalse() throws {
        let translator = SQLiteExpression(booleanColumns: ["active"])
        #expect(try translator.translate("active = 1 AND other = 1") == "active = true AND other = 1")
        #expect(try translator.translate("active IN (0, 1)") == "active IN (false, true)")
    }

    @Test func doubleQuotedWordsThatAreNoColumnAreStrings() throws {
        let translator = SQLiteExpression(columns: ["status"])
        #expect(try translator.translate(#""status" IN ("a", "b")"#) == #""status" IN ('a', 'b')"#)
    }

    @Test(arguments: ["typeof(a) = 'integer'", "strftime('%Y', d) > '2000'", "name COLLATE NOCASE = 'x'", "a = ?"])
    func constructsWithoutAPostgreSQLSpellingAreRefused(expression: String) {
        #expect(throws: SQLiteExpression.Untranslatable.self) { try SQLiteExpression().translate(expression) }
    }

    @Test(arguments: [("1e-12", "0.000000000001"), ("12.50", "12.50"), ("-0.0", "0.0"), ("1.5e3", "1500"), ("007", "7"), ("2.5E+1", "25")])
    func decimalsArePrintedAsPostgreSQLPrintsNumeric(pair: (String, String)) {
        #expect(plainDecimal(pair.0) == pair.1)
    }

    @Test func notANumberIsNoDecimal() {
        #expect(plainDecimal("abc") == nil)
        #expect(plainDecimal("1e99999") == nil)
    }

    @Test func defaultsTranslateOrSayWhyNot() throws {
        #expect(try SourceSchemaReader.defaultExpression("CURRENT_TIMESTAMP", type: .timestamptz).get() == "CURRENT_TIMESTAMP")
        #expect(try SourceSchemaReader.defaultExpression("(datetime('now'))", type: .timestamptz).get() == "CURRENT_TIMESTAMP")
        #expect(try SourceSchemaReader.defaultExpression("(date('now'))", type: .date).get() == "CURRENT_DATE")
        #expect(try SourceSchemaReader.defaultExpression("'0'", type: .boolean).get() == "false")
        #expect(try SourceSchemaReader.defaultExpression("-1.5", type: .decimal).get() == "-1.5")
        #expect(try SourceSchemaReader.defaultExpression("'it''s'", type: .text).get() == "'it''s'")
        #expect(try SourceSchemaReader.defaultExpression("NULL", type: .text).get() == nil)
        #expect(throws: SQLiteExpression.Untranslatable.self) { try SourceSchemaReader.defaultExpression("'abc'", type: .integer).get() }
        #expect(throws: SQLiteExpression.Untranslatable.self) { try SourceSchemaReader.defaultExpression("(strftime('%s', 'now'))", type: .integer).get() }
    }

    @Test func typesOfTypeOverrides() {
        #expect(TargetType.parse("bigint") == .bigint)
        #expect(TargetType.parse("numeric(12,4)") == .numeric(precision: 12, scale: 4))
        #expect(TargetType.parse("numeric") == .decimal)
        #expect(TargetType.parse("bytea") == .bytea)
        #expect(TargetType.parse("varchar(80)") == .varchar(80))
        #expect(TargetType.parse("geometry") == nil)
        #expect(parseTypeOverride("t.c=bigint")?.0 == "t.c")
        #expect(parseTypeOverride("nodot=bigint") == nil)
    }

    @Test func charColumnsBecomeVarcharSoNothingIsPadded() {
        #expect(TargetType.fromSQLite(declared: "CHAR(512)", isJSON: false) == .varchar(512))
        #expect(TargetType.fromSQLite(declared: "character(2)", isJSON: false) == .varchar(2))
    }

    @Test func uniqueNamesForUnnamedTableChecks() {
        let checks = SourceSchemaReader.checkClauses(in: "CREATE TABLE t(id integer primary key, a int CHECK (a > 0), b int, CHECK(a>0), CHECK(b>0))")
        #expect(checks.map(\.expression) == ["a > 0", "a>0", "b>0"])
        #expect(checks.map(\.column) == ["a", nil, nil])
    }
}

/// The binary COPY encoder, field by field, against the bytes PostgreSQL's own `*_send` functions produce.
@Suite struct BinaryCopyEncodingTests {
    private func field(_ type: TargetType, _ canonical: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try BinaryCopy.appendField(type, canonical: ArraySlice(Array(canonical.utf8)), to: &out)
        return out
    }

    @Test(arguments: [
        // numeric_send: ndigits, weight, sign, dscale, then base-10000 digits (SELECT numeric_send(...)).
        ("-123.4500", [0, 2, 0, 0, 0x40, 0, 0, 4, 0, 123, 0x11, 0x94] as [UInt8]),
        ("0.00", [0, 0, 0, 0, 0, 0, 0, 2]),
        ("10000", [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]),
        ("0.000000000001", [0, 1, 0xFF, 0xFD, 0, 0, 0, 12, 0, 1]),
        ("99999999.9999", [0, 3, 0, 1, 0, 0, 0, 4, 0x27, 0x0F, 0x27, 0x0F, 0x27, 0x0F]),
    ])
    func numericsAreSentAsPostgreSQLSendsThem(text: String, body: [UInt8]) throws {
        let out = try field(.decimal, text)
        #expect(Array(out.dropFirst(4)) == body)
        #expect(out.prefix(4) == [0, 0, 0, UInt8(body.count)])
    }

    @Test func instantsWithAnyFractionAreMicrosecondsSince2000() throws {
        // 2000-01-02 00:00:01.5 UTC = 86 401 500 000 µs; the canonical text has no trailing zeros.
        #expect(try field(.timestamptz, "2000-01-02 00:00:01.5") == [0, 0, 0, 8, 0, 0, 0, 0x14, 0x1D, 0xEE, 0x43, 0x60])
        #expect(try field(.timestamptz, "2000-01-02 00:00:01") == [0, 0, 0, 8, 0, 0, 0, 0x14, 0x1D, 0xE6, 0xA2, 0x40])
        #expect(try field(.time, "00:00:01.000002") == [0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x42])
        #expect(throws: CellConverter.Rejection.self) { try field(.timestamptz, "2000-01-02 00:00:01.") }
        #expect(throws: CellConverter.Rejection.self) { try field(.decimal, "1.2.3") }
    }

    @Test func canonicalInstantsLoseOnlyTrailingZeros() {
        for (text, expected) in [("2025-06-01 08:00:00.000000", "2025-06-01 08:00:00"), ("2025-12-31 23:30:00.500000", "2025-12-31 23:30:00.5"),
                                 ("2025-01-01 00:00:00.000001", "2025-01-01 00:00:00.000001"), ("2025-01-01 00:00:00", "2025-01-01 00:00:00")] {
            var bytes = Array("x\t".utf8) + Array(text.utf8)
            trimFraction(&bytes, from: 2)
            #expect(String(decoding: bytes.dropFirst(2), as: UTF8.self) == expected)
        }
    }
}

/// The converter writes binary COPY fields straight from SQLite's values; each must be the field that
/// the canonical text (what the checksum hashes) encodes to, so the sent value and the verified value cannot drift.
@Suite struct DirectBinaryFieldTests {
    @Test func everyFastPathSendsWhatItsCanonicalTextSays() throws {
        let database = try SQLiteDatabase(path: ":memory:", readOnly: false)
        let cases: [(TargetType, String)] = [
            (.integer, "42"), (.integer, "-7"), (.smallint, "-32768"), (.bigint, "1099511627776"),
            (.boolean, "1"), (.boolean, "0"),
            (.numeric(precision: 12, scale: 2), "19.99"), (.numeric(precision: 12, scale: 2), "5"), (.numeric(precision: 12, scale: 2), "-0.5"),
            (.timestamptz, "'2025-06-01 08:00:00.500000'"), (.timestamptz, "'2025-06-01 08:00:00'"), (.timestamptz, "'1999-12-31 23:59:59.000001'"),
            (.varchar(20), "'héllo\tbackslash\\'"), (.text, "'a' || char(10) || 'b'"),
            (.jsonb, "'{\"a\": \"x\\ty\", \"b\": [1, 2.5]}'"),
            (.date, "'2025-01-02'"), (.bytea, "X'00FF10'"), (.double, "2.5"),
        ]
        for (type, literal) in cases {
            let statement = try database.prepare("SELECT \(literal)")
            #expect(try statement.step())
            let converter = CellConverter(type: type)
            var binary: [UInt8] = [], canonical: [UInt8] = [], scratch: [UInt8] = [], rounded: (from: String, to: String)?
            try converter.append(statement, 0, storage: statement.storage(0), binary: true, line: &binary, canonical: &canonical, scratch: &scratch, rounded: &rounded)
            var text: [UInt8] = [], textCanonical: [UInt8] = []
            try converter.append(statement, 0, storage: statement.storage(0), binary: false, line: &text, canonical: &textCanonical, scratch: &scratch, rounded: &rounded)
            #expect(canonical == textCanonical, "\(type) \(literal): one canonical text for both formats")
            // jsonb's canonical text is a presence mark; its field is made from the document itself.
            let source = type == .jsonb ? statement.withTextBytes(0) { Array($0) } : canonical
            var expected: [UInt8] = []
            try BinaryCopy.appendField(type, canonical: source[...], to: &expected)
            #expect(binary == expected, "\(type) \(literal)")
        }
    }
}
