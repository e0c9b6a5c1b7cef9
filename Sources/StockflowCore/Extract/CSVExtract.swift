import Foundation

/// Text encodings a CSV file may be in.
enum TextEncoding: String, CaseIterable {
    case utf8 = "utf-8"
    case windows1252 = "windows-1252"
    case latin1 = "iso-8859-1"

    static func named(_ name: String) -> TextEncoding? {
        switch name.lowercased() {
        case "utf-8", "utf8": return .utf8
        case "windows-1252", "cp1252", "win1252": return .windows1252
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1": return .latin1
        default: return nil
        }
    }

    /// Unicode scalars of windows-1252's 0x80...0x9F block (0 where the code page has no character).
    private static let windows1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    /// Encodes a string into this encoding's bytes; nil when a character has no byte.
    func encode(_ text: String) -> [UInt8]? {
        switch self {
        case .utf8:
            return Array(text.utf8)
        case .latin1, .windows1252:
            var bytes: [UInt8] = []
            for scalar in text.unicodeScalars {
                if scalar.value < 0x80 || (scalar.value >= 0xA0 && scalar.value <= 0xFF) {
                    bytes.append(UInt8(scalar.value))
                } else if self == .windows1252, let index = TextEncoding.windows1252High.firstIndex(of: scalar.value), scalar.value != 0 {
                    bytes.append(UInt8(0x80 + index))
                } else {
                    return nil
                }
            }
            return bytes
        }
    }

    /// Decodes bytes to a String; nil when they are not valid in this encoding.
    func decode<Bytes: Collection>(_ bytes: Bytes) -> String? where Bytes.Element == UInt8 {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        switch self {
        case .utf8:
            return String(validating: bytes, as: UTF8.self)
        case .latin1, .windows1252:
            var scalars = String.UnicodeScalarView()
            for byte in bytes {
                var code = UInt32(byte)
                if self == .windows1252 && byte >= 0x80 && byte <= 0x9F {
                    code = TextEncoding.windows1252High[Int(byte - 0x80)]
                    if code == 0 { return nil }
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                scalars.append(scalar)
            }
            return String(scalars)
        }
    }
}

/// `extract: csv` — reads a delimited text file with a header row into typed columns.
public final class CSVExtract: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "csv", role: .extract,
        summary: "Reads an RFC 4180 CSV file with a header row (quoted delimiters, doubled quotes, line breaks in quotes), in UTF-8 (with or without BOM), windows-1252 or ISO-8859-1, into typed columns. Fields are kept as written: quoted text is never trimmed and a field of spaces is text, not null. A row that does not parse goes to the rejects with its file:line and the reason; a row whose fields are all empty (`;;;;`, Excel's empty rows) is skipped like a blank line and counted as filtered.",
        options: [
            OptionSpec("path", .inputPath, required: true, "The CSV file, relative to the pipeline file."),
            OptionSpec("delimiter", .string, default: ",", "Field separator, one character (`;` for French Excel exports, `\\t` for tab)."),
            OptionSpec("quote", .string, default: "\"", "Quote character."),
            OptionSpec("encoding", .choice(TextEncoding.allCases.map(\.rawValue)), default: "utf-8", "Text encoding of the file. A header that is not valid UTF-8, or C1 control characters in iso-8859-1 text (what windows-1252's € œ – become when read as iso-8859-1), are reported with the hint to use windows-1252."),
            OptionSpec("decimal_mark", .choice([".", ","]), default: ".", "Decimal mark of decimal columns."),
            OptionSpec("thousands_separator", .string, "Grouping separator accepted in int and decimal columns, between groups of three digits: `.`, or a space. A space, the no-break space (`\"\\u00a0\"`, French Excel) and the narrow no-break space (`\"\\u202f\"`, LibreOffice) all stand for one another: declaring one accepts the three."),
            OptionSpec("date_format", .string, default: "yyyy-MM-dd", "Default pattern of date columns."),
            OptionSpec("datetime_format", .string, default: "yyyy-MM-dd HH:mm:ss", "Default pattern of datetime columns (naive times are taken as UTC)."),
            OptionSpec("null_values", .list, default: "[\"\"]", "Field texts that mean 'no value'."),
            OptionSpec("trim", .choice(["typed", "all", "none"]), default: "typed", "Which unquoted fields lose the spaces around them before they are read: `typed` those of int, decimal, bool, date and datetime columns (`12,5 ` is still a number), `all` text columns too, `none` nothing. Quoted fields are never trimmed. A column's own `trim: true|false` overrides this."),
            OptionSpec("lenient_quotes", .bool, default: "false", "Without it (RFC 4180), text after a closing quote (`\"1,00\"0`) rejects the row (`csv-quote`, with line and column), and a quote that does not close within `max_quoted_lines` or `max_quoted_bytes` fails the run (`unterminated quote opened at line 7, column 12`). With it, the text after a closing quote is kept (`1,000`), and a line whose quote never closes is read again with the quote as text, reading going on from the next line (the run summary lists those lines)."),
            OptionSpec("max_quoted_lines", .int, default: "256", "Line breaks a quoted field may hold before its opening quote is taken for a stray one."),
            OptionSpec("max_quoted_bytes", .int, default: "1048576", "Bytes a quoted field may hold before its opening quote is taken for a stray one."),
            OptionSpec("columns", .mapping, "Columns to read, in output order: `name: type` or `name: {type, from, nullable, scale, format, trim}`. Types: int, decimal, text, bool, date, datetime. Columns are required (not nullable) unless `nullable: true`. Without `columns`, every header column is read as text."),
        ],
        example: """
        orders:
          extract: csv
          path: ../fixtures/commandes.csv
          delimiter: ";"
          decimal_mark: ","
          encoding: windows-1252
          date_format: dd/MM/yyyy
          columns:
            code_cmd: int
            code_prod: int
            code_client: {type: int, nullable: true}
            quantite_cmd: int
            montant_commande: {type: decimal, scale: 2}
            date_commande: date
        """)

    /// Which unquoted fields are trimmed when a column does not say (`trim:`).
    enum TrimRule: String {
        case typed, all, none
    }

    /// How the file is written: separators, quoting, encoding and number marks.
    struct Dialect {
        var delimiter: UInt8
        var quote: UInt8
        var encoding: TextEncoding
        var decimalMark: UInt8
        /// Grouping separators as bytes of the file's encoding (the no-break space is two bytes in UTF-8).
        var thousandsSeparators: [[UInt8]]
        var nullValues: [[UInt8]]
        var trim: TrimRule
        var lenientQuotes: Bool
        var quoteLimits: CSVReader.QuoteLimits
    }

    let path: URL
    let displayPath: String
    let dialect: Dialect
    let declarations: [ColumnDeclaration]
    let dateFormat: DateFormat
    let datetimeFormat: DateFormat
    public let outputSchema: Schema

    init(path: URL, displayPath: String, dialect: Dialect, declarations: [ColumnDeclaration],
         dateFormat: DateFormat, datetimeFormat: DateFormat) {
        self.path = path
        self.displayPath = displayPath
        self.dialect = dialect
        self.declarations = declarations
        self.dateFormat = dateFormat
        self.datetimeFormat = datetimeFormat
        outputSchema = Schema(declarations.map(\.column))
    }

    /// A space, the no-break space and the narrow no-break space: exports group digits with any of them.
    static let spaceSeparators: [String] = [" ", "\u{00A0}", "\u{202F}"]

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let url = config.inputPath("path") else { return nil }
        // Every default comes from the spec above, through the typed accessors.
        func singleByte(_ name: String) -> UInt8? {
            var text = config.text(name)
            if text == "\\t" { text = "\t" }
            guard text.utf8.count == 1, let byte = text.utf8.first, byte != 10, byte != 13 else {
                config.error("'\(name)' of stage '\(config.id)' must be a single ASCII character other than a line end, found '\(text.debugDescription.dropFirst().dropLast())'", at: config.node[name]?.position)
                return nil
            }
            return byte
        }
        let delimiter = singleByte("delimiter")
        let quote = singleByte("quote")
        if let delimiter, delimiter == quote {
            config.error("'delimiter' and 'quote' of stage '\(config.id)' must differ, both are '\(UnicodeScalar(delimiter))'", at: config.node["quote"]?.position)
        }
        let encoding = TextEncoding.named(config.text("encoding")) ?? .utf8
        let decimalMark = config.text("decimal_mark").utf8.first ?? UInt8(ascii: ".")
        var thousands: [[UInt8]] = []
        if let separator = config.string("thousands_separator") {
            let family = spaceSeparators.contains(separator) ? spaceSeparators : [separator]
            thousands = family.compactMap { encoding.encode($0) }
            if encoding.encode(separator) == nil || separator.unicodeScalars.count != 1 {
                config.error("'thousands_separator' of stage '\(config.id)' must be one character that \(encoding.rawValue) can hold, found '\(separator)'", at: config.node["thousands_separator"]?.position)
            } else if let bytes = encoding.encode(separator), bytes == [decimalMark] {
                config.error("'thousands_separator' of stage '\(config.id)' is the decimal mark '\(separator)'", at: config.node["thousands_separator"]?.position)
            }
        }
        let limits = CSVReader.QuoteLimits(lines: config.int("max_quoted_lines"), bytes: config.int("max_quoted_bytes"))
        for name in ["max_quoted_lines", "max_quoted_bytes"] where config.int(name) < 1 {
            config.error("'\(name)' of stage '\(config.id)' must be at least 1, found \(config.int(name))", at: config.node[name]?.position)
        }
        let formats = ["date_format", "datetime_format"].compactMap { name in
            config.options.parsed(name, label: "stage '\(config.id)': ", expected: "a pattern with dd, MM and yyyy", DateFormat.init)
        }
        guard formats.count == 2, let delimiter, let quote, limits.lines >= 1, limits.bytes >= 1 else { return nil }
        let dialect = Dialect(
            delimiter: delimiter, quote: quote, encoding: encoding, decimalMark: decimalMark, thousandsSeparators: thousands,
            nullValues: (config.stringList("null_values") ?? [""]).map { Array($0.utf8) },
            trim: config.choice("trim", as: TrimRule.self) ?? .typed,
            lenientQuotes: config.bool("lenient_quotes"), quoteLimits: limits)
        var declarations: [ColumnDeclaration]
        if let columns = config.node["columns"] {
            declarations = ColumnDeclaration.read(columns, config: config, defaultNullable: false, allowsTrim: true)
        } else {
            // No declared columns: read the header now so the schema is known to later stages.
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            do {
                let reader = try dialect.reader(url.path)
                let header = try readHeader(reader, dialect: dialect, file: url.path)
                declarations = header.map { name in
                    ColumnDeclaration(name: name, sourceName: name, type: .text, nullable: true, scale: nil, format: nil)
                }
            } catch {
                config.error("\(error); declare 'columns' or fix the file", at: config.node["path"]?.position)
                return nil
            }
        }
        return CSVExtract(path: url, displayPath: config.string("path") ?? url.path, dialect: dialect,
                          declarations: declarations, dateFormat: formats[0], datetimeFormat: formats[1])
    }

    /// Reads up to the header row (blank lines before it are skipped) and returns its names, trimmed.
    static func readHeader(_ reader: CSVReader, dialect: Dialect, file: String) throws -> [String] {
        if let nul = reader.firstChunk.firstIndex(of: 0) {
            throw StageError("\(file): looks like a binary file (NUL byte at offset \(nul)), expected \(dialect.encoding.rawValue) CSV text")
        }
        if dialect.encoding == .utf8 { reader.skipByteOrderMark() }
        var hasHeader = false
        while try reader.next() {
            if !reader.isBlankLine { hasHeader = true; break }
        }
        guard hasHeader else { throw StageError("\(file): file is empty; expected a header row") }
        if let stray = reader.strayText {
            throw StageError("\(file):\(stray.line):\(stray.column): text after the closing quote in the header (the quote opened at column \(stray.quoteColumn)); quote the whole name, or set lenient_quotes: true to keep the text")
        }
        if dialect.encoding == .utf8, let bad = firstInvalidUTF8(reader.recordBytes) {
            throw StageError("\(file):\(reader.line): the header is not valid UTF-8 at byte \(reader.fileOffset(of: bad)) of the file; is this windows-1252? set encoding: windows-1252")
        }
        return reader.fields.map { field in
            (dialect.encoding.decode(reader.bytes(of: field)) ?? "").trimmingCharacters(in: .whitespaces)
        }
    }

    public func produce(_ context: StageContext, emit: Emit) throws {
        let file = path.path
        let reader = try dialect.reader(file)
        let header: [String]
        do { header = try CSVExtract.readHeader(reader, dialect: dialect, file: file) } catch let error as StageError where error.message.hasSuffix("expected a header row") {
            let names = declarations.map(\.sourceName).joined(separator: String(UnicodeScalar(dialect.delimiter)))
            throw StageError("\(error.message) with the columns \(names)")
        }
        let headerCount = header.count
        let positions = try columnPositions(in: header, file: file, line: reader.line)
        let source = context.run.origins.register(displayPath, kind: .fileLine)
        var batch = Batch(capacity: Batch.preferredSize)
        var row = Row()
        row.reserveCapacity(declarations.count)
        while try reader.next() {
            if reader.isBlankLine { continue }
            context.countRead(1)
            if reader.isEmptyRow {
                context.filtered(1, reason: "empty row (every field empty)")
                continue
            }
            let origin = RowOrigin(source: source, position: Int64(reader.line))
            if let stray = reader.strayText {
                let opened = stray.quoteLine == stray.line ? "column \(stray.quoteColumn)" : "line \(stray.quoteLine), column \(stray.quoteColumn)"
                try context.reject(origin, rule: "csv-quote",
                                   message: "text after the closing quote at line \(stray.line), column \(stray.column) (the quote opened at \(opened)); quote the whole field, or set lenient_quotes: true to keep the text",
                                   row: rawRecord(reader))
                continue
            }
            guard reader.fields.count == headerCount else {
                try context.reject(origin, rule: "csv-field-count",
                                   message: MessageCatalogue.fieldCount(tooMany: reader.fields.count > headerCount, expected: headerCount, found: reader.fields.count),
                                   row: rawRecord(reader), amount: statedAmount(reader, positions: positions))
                continue
            }
            row.removeAll(keepingCapacity: true)
            var failure: Problem?
            // By index: `enumerated()` would copy each declaration (its strings retained) per field.
            for index in declarations.indices {
                switch convert(reader.fields[positions[index]], of: reader, declarations[index]) {
                case .success(let value): row.append(value)
                case .failure(let problem): failure = problem
                }
                if failure != nil { break }
            }
            if let failure {
                try context.reject(origin, rule: failure.rule, message: failure.message, row: rawRecord(reader),
                                   amount: statedAmount(reader, positions: positions))
                continue
            }
            try batch.append(row, origin: origin, flushingTo: emit)
        }
        try emit(batch)
        if let first = reader.rereadLines.first {
            context.note("\(displayPath): \(reader.rereadLines.count) line(s) with a quote that never closes were read with the quote as text (lenient_quotes), first at line \(first)")
        }
    }

    /// Where each declared column is in the header: by exact name, else ignoring case. One pass over
    /// the header, so a file of 40,000 columns is matched as fast as one of 10.
    private func columnPositions(in header: [String], file: String, line: Int) throws -> [Int] {
        var exact: [String: Int] = [:]
        var folded: [String: Int] = [:]
        for (index, name) in header.enumerated().reversed() {
            exact[name] = index
            folded[name.lowercased()] = index
        }
        var positions: [Int] = []
        var missing: [String] = []
        for declaration in declarations {
            if let index = exact[declaration.sourceName] ?? folded[declaration.sourceName.lowercased()] {
                positions.append(index)
            } else {
                // Hints for the first few only: each compares against the whole header.
                let hint = missing.count < 5 ? boundedDidYouMean(declaration.sourceName, header) : ""
                missing.append("'\(shortened(declaration.sourceName))'\(hint)")
            }
        }
        if !missing.isEmpty {
            let shown = header.prefix(50).map(shortened).joined(separator: ", ")
            let found = header.count > 50 ? "\(shown), … (\(header.count) columns)" : shown
            let hint = header.count == 1 && header[0].contains(where: { [";", ",", "\t", "|"].contains(String($0)) })
                ? " — is 'delimiter' right? the header was read as one column" : ""
            throw StageError("\(file):\(line): missing column \(missing.joined(separator: ", ")) in the header (found: \(found))\(hint)")
        }
        return positions
    }

    /// Parses a number whose digits may be grouped by any of the separators: each is replaced by one
    /// byte (0x01, never in text) that Money.parse groups on.
    private func parseGrouped(_ bytes: ArraySlice<UInt8>, decimalMark: UInt8) -> Money? {
        let separators = dialect.thousandsSeparators
        if separators.isEmpty { return Money.parse(bytes, decimalMark: decimalMark) }
        // The stand-in bytes themselves are never part of a number.
        if bytes.contains(where: { $0 < 3 }) { return nil }
        var single: [UInt8] = []
        single.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        scan: while index < bytes.endIndex {
            for separator in separators where bytes[index...].starts(with: separator) {
                single.append(1)
                index += separator.count
                continue scan
            }
            single.append(bytes[index])
            index += 1
        }
        return Money.parse(single, decimalMark: decimalMark, thousandsSeparator: 1)
    }

    private func rawRecord(_ reader: CSVReader) -> String {
        dialect.encoding.decode(reader.recordBytes) ?? String(decoding: reader.recordBytes, as: UTF8.self)
    }

    struct Problem: Error {
        var rule: String
        var message: LocalizedText
    }

    /// The amount a rejected record states: its first decimal column that reads as one, so that
    /// deliverables can say what the figures leave out.
    private func statedAmount(_ reader: CSVReader, positions: [Int]) -> Money? {
        for (index, declaration) in declarations.enumerated() where declaration.type == .decimal && index < positions.count {
            guard positions[index] < reader.fields.count else { continue }
            if case .success(.decimal(let amount)) = convert(reader.fields[positions[index]], of: reader, declaration) { return amount }
        }
        return nil
    }

    /// Whether this field loses its surrounding spaces: never when quoted; else the column's `trim`,
    /// else the stage's rule.
    private func trims(_ field: CSVReader.Field, _ declaration: ColumnDeclaration) -> Bool {
        if field.quoted { return false }
        if let trim = declaration.trim { return trim }
        switch dialect.trim {
        case .typed: return declaration.type != .text
        case .all: return true
        case .none: return false
        }
    }

    private func convert(_ field: CSVReader.Field, of reader: CSVReader, _ declaration: ColumnDeclaration) -> Result<Value, Problem> {
        var bytes = reader.bytes(of: field)
        if trims(field, declaration) {
            while let first = bytes.first, first == 32 || first == 9 { bytes = bytes.dropFirst() }
            while let last = bytes.last, last == 32 || last == 9 { bytes = bytes.dropLast() }
        }
        let encoding = dialect.encoding
        if dialect.nullValues.contains(where: { $0.elementsEqual(bytes) }) {
            if declaration.nullable { return .success(.null) }
            return .failure(Problem(rule: "required-value", message: MessageCatalogue.requiredValue(column: declaration.name)))
        }
        func shown() -> String { encoding.decode(bytes) ?? String(decoding: bytes, as: UTF8.self) }
        switch declaration.type {
        case .text:
            if encoding == .latin1, let control = bytes.first(where: { $0 >= 0x80 && $0 <= 0x9F }) {
                return .failure(Problem(rule: "csv-encoding", message: MessageCatalogue.encoding(column: declaration.name, encoding: encoding.rawValue,
                                                                                         hint: " holds the C1 control character U+00\(String(control, radix: 16, uppercase: true)), which is not text in iso-8859-1; is this windows-1252? set encoding: windows-1252")))
            }
            guard let text = encoding.decode(bytes) else {
                return .failure(Problem(rule: "csv-encoding", message: MessageCatalogue.encoding(column: declaration.name, encoding: encoding.rawValue, hint: "; is this windows-1252? set encoding: windows-1252")))
            }
            return .success(.text(text))
        case .int:
            // The decimal mark is not accepted: 0x02 never appears in text.
            guard let value = dialect.thousandsSeparators.isEmpty ? parseInteger(bytes) : parseGrouped(bytes, decimalMark: 2).flatMap({ $0.scale == 0 ? $0.units : nil }) else {
                return .failure(Problem(rule: "int", message: MessageCatalogue.notWholeNumber(column: declaration.name, text: shown())))
            }
            return .success(.int(value))
        case .decimal:
            guard var value = parseGrouped(bytes, decimalMark: dialect.decimalMark) else {
                return .failure(Problem(rule: "decimal", message: MessageCatalogue.notDecimal(column: declaration.name, text: shown(), decimalMark: String(UnicodeScalar(dialect.decimalMark)))))
            }
            if let scale = declaration.scale {
                if value.scale > scale {
                    let rounded = value.rounded(to: scale)
                    guard (try? rounded.rescaledUp(to: value.scale)) == value else {
                        return .failure(Problem(rule: "decimal", message: MessageCatalogue.tooManyPlaces(column: declaration.name, text: shown(), scale: scale)))
                    }
                    value = rounded
                } else if let rescaled = try? value.rescaledUp(to: scale) {
                    value = rescaled
                }
            }
            return .success(.decimal(value))
        case .bool:
            switch shown().lowercased() {
            case "1", "true", "vrai", "oui", "yes", "y", "o": return .success(.bool(true))
            case "0", "false", "faux", "non", "no", "n": return .success(.bool(false))
            default: return .failure(Problem(rule: "bool", message: MessageCatalogue.notBoolean(column: declaration.name, text: shown())))
            }
        case .date, .datetime:
            let format = declaration.format ?? (declaration.type == .date ? dateFormat : datetimeFormat)
            let array = Array(bytes)
            switch format.parse(array) {
            case .value(let date, let micro):
                if declaration.type == .date { return .success(.date(date)) }
                return .success(.datetime(Timestamp(microseconds: Int64(date.days) * 86_400_000_000 + micro)))
            case .malformed:
                return .failure(Problem(rule: declaration.type.rawValue, message: MessageCatalogue.formatMismatch(column: declaration.name, text: shown(), type: declaration.type.rawValue, pattern: format.pattern)))
            case .impossible(let why):
                return .failure(Problem(rule: declaration.type.rawValue, message: MessageCatalogue.invalidDate(column: declaration.name, text: shown(), type: declaration.type.rawValue, why: why)))
            }
        }
    }
}

extension CSVExtract.Dialect {
    /// A reader of `file` in this dialect.
    func reader(_ file: String) throws -> CSVReader {
        try CSVReader(path: file, delimiter: delimiter, quote: quote, lenient: lenientQuotes, limits: quoteLimits,
                      countsCharacters: encoding == .utf8)
    }
}

/// A name cut to 80 characters for a message (a megabyte-long header cell stays readable).
private func shortened(_ name: String) -> String {
    name.count > 80 ? String(name.prefix(80)) + "…" : name
}

/// "Did you mean" over a header, bounded: a long name gets no hint, and only names whose length is
/// within the hint's edit distance are compared (at most 1,000 of them).
private func boundedDidYouMean(_ name: String, _ header: [String]) -> String {
    let length = name.utf8.count
    guard length <= 64 else { return "" }
    var near: [String] = []
    for candidate in header where near.count < 1000 {
        let other = candidate.utf8.count
        if other <= 64 && abs(other - length) <= max(2, other / 3) { near.append(candidate) }
    }
    return didYouMean(name, near)
}

/// The index of the first byte that does not begin a valid UTF-8 sequence, or nil when all is valid.
func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
    var index = bytes.startIndex
    while index < bytes.endIndex {
        let lead = bytes[index]
        var length = 1
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0x00...0x7F: index += 1; continue
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xED: length = 3; high = 0x9F
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; low = 0x90
        case 0xF4: length = 4; high = 0x8F
        case 0xF1...0xF3: length = 4
        default: return index
        }
        guard bytes.endIndex - index >= length else { return index }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            let (lower, upper) = offset == 1 ? (low, high) : (0x80, 0xBF)
            guard byte >= lower && byte <= upper else { return index }
        }
        index += length
    }
    return nil
}

/// Parses an optionally signed run of ASCII digits.
func parseInteger<Bytes: Collection>(_ bytes: Bytes) -> Int64? where Bytes.Element == UInt8 {
    var value: Int64 = 0
    var negative = false
    var digits = 0
    for (offset, byte) in bytes.enumerated() {
        if offset == 0 && (byte == 45 || byte == 43) {
            negative = byte == 45
            continue
        }
        guard byte >= 48 && byte <= 57 else { return nil }
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - 48))
        if overflow1 || overflow2 { return nil }
        value = sum
        digits += 1
    }
    guard digits > 0 else { return nil }
    return negative ? -value : value
}
