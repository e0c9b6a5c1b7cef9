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
        summary: "Reads an RFC 4180 CSV file with a header row (quoted delimiters, doubled quotes, line breaks in quotes), in UTF-8 (with or without BOM), windows-1252 or ISO-8859-1, into typed columns. A row that does not parse goes to the rejects with its file:line and the reason.",
        options: [
            OptionSpec("path", .inputPath, required: true, "The CSV file, relative to the pipeline file."),
            OptionSpec("delimiter", .string, default: ",", "Field separator, one character (`;` for French Excel exports, `\\t` for tab)."),
            OptionSpec("quote", .string, default: "\"", "Quote character."),
            OptionSpec("encoding", .choice(TextEncoding.allCases.map(\.rawValue)), default: "utf-8", "Text encoding of the file."),
            OptionSpec("decimal_mark", .choice([".", ","]), default: ".", "Decimal mark of decimal columns."),
            OptionSpec("thousands_separator", .string, "Grouping separator accepted in decimal columns: a space, `.`, or the no-break space French Excel writes (`\"\\u00a0\"` in double quotes)."),
            OptionSpec("date_format", .string, default: "yyyy-MM-dd", "Default pattern of date columns."),
            OptionSpec("datetime_format", .string, default: "yyyy-MM-dd HH:mm:ss", "Default pattern of datetime columns (naive times are taken as UTC)."),
            OptionSpec("null_values", .list, default: "[\"\"]", "Field texts that mean 'no value'."),
            OptionSpec("columns", .mapping, "Columns to read, in output order: `name: type` or `name: {type, from, nullable, scale, format}`. Types: int, decimal, text, bool, date, datetime. Columns are required (not nullable) unless `nullable: true`. Without `columns`, every header column is read as text."),
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

    let path: URL
    let displayPath: String
    let delimiter: UInt8
    let quote: UInt8
    let encoding: TextEncoding
    let decimalMark: UInt8
    /// The grouping separator as bytes of the file's encoding (the no-break space is two bytes in UTF-8).
    let thousandsSeparator: [UInt8]?
    let nullValues: [[UInt8]]
    let declarations: [ColumnDeclaration]
    let dateFormat: DateFormat
    let datetimeFormat: DateFormat
    public let outputSchema: Schema

    init(path: URL, displayPath: String, delimiter: UInt8, quote: UInt8, encoding: TextEncoding, decimalMark: UInt8,
         thousandsSeparator: [UInt8]?, nullValues: [[UInt8]], declarations: [ColumnDeclaration],
         dateFormat: DateFormat, datetimeFormat: DateFormat) {
        self.path = path
        self.displayPath = displayPath
        self.delimiter = delimiter
        self.quote = quote
        self.encoding = encoding
        self.decimalMark = decimalMark
        self.thousandsSeparator = thousandsSeparator
        self.nullValues = nullValues
        self.declarations = declarations
        self.dateFormat = dateFormat
        self.datetimeFormat = datetimeFormat
        outputSchema = Schema(declarations.map(\.column))
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let url = config.inputPath("path") else { return nil }
        func singleByte(_ name: String, default fallback: String) -> UInt8? {
            var text = config.string(name, default: fallback) ?? fallback
            if text == "\\t" { text = "\t" }
            guard text.utf8.count == 1, let byte = text.utf8.first else {
                config.error("'\(name)' of stage '\(config.id)' must be a single ASCII character, found '\(text)'", at: config.node[name]?.position)
                return nil
            }
            return byte
        }
        let delimiter = singleByte("delimiter", default: ",")
        let quote = singleByte("quote", default: "\"")
        let encoding = TextEncoding.named(config.string("encoding", default: "utf-8") ?? "utf-8") ?? .utf8
        let decimalMark: UInt8 = config.string("decimal_mark") == "," ? UInt8(ascii: ",") : UInt8(ascii: ".")
        var thousands: [UInt8]?
        if let separator = config.string("thousands_separator") {
            thousands = encoding.encode(separator)
            if thousands == nil || separator.unicodeScalars.count != 1 {
                config.error("'thousands_separator' of stage '\(config.id)' must be one character that \(encoding.rawValue) can hold, found '\(separator)'", at: config.node["thousands_separator"]?.position)
            }
        }
        var formats: [DateFormat] = []
        for (name, fallback) in [("date_format", "yyyy-MM-dd"), ("datetime_format", "yyyy-MM-dd HH:mm:ss")] {
            let pattern = config.string(name, default: fallback) ?? fallback
            if let format = DateFormat(pattern) { formats.append(format) } else {
                config.error("'\(name)' of stage '\(config.id)' must be a pattern with dd, MM and yyyy, found '\(pattern)'", at: config.node[name]?.position)
                formats.append(DateFormat(fallback)!)
            }
        }
        let nullValues = (config.stringList("null_values") ?? [""]).map { Array($0.utf8) }
        var declarations: [ColumnDeclaration]
        if let columns = config.node["columns"] {
            declarations = ColumnDeclaration.read(columns, config: config, defaultNullable: false)
        } else {
            // No declared columns: read the header now so the schema is known to later stages.
            guard FileManager.default.fileExists(atPath: url.path), let delimiter, let quote,
                  let reader = try? CSVReader(path: url.path, delimiter: delimiter, quote: quote) else { return nil }
            if encoding == .utf8 { reader.skipByteOrderMark() }
            guard (try? reader.next()) == true else {
                config.error("file '\(url.path)' has no header row; declare 'columns' or fix the file", at: config.node["path"]?.position)
                return nil
            }
            declarations = reader.fields.map { field in
                let name = encoding.decode(reader.bytes(of: field))?.trimmingCharacters(in: .whitespaces) ?? "?"
                return ColumnDeclaration(name: name, sourceName: name, type: .text, nullable: true, scale: nil, format: nil)
            }
        }
        guard let delimiter, let quote else { return nil }
        return CSVExtract(path: url, displayPath: config.string("path") ?? url.path, delimiter: delimiter, quote: quote,
                          encoding: encoding, decimalMark: decimalMark, thousandsSeparator: thousands,
                          nullValues: nullValues, declarations: declarations, dateFormat: formats[0],
                          datetimeFormat: formats[1])
    }

    public func produce(_ context: StageContext, emit: Emit) throws {
        let file = path.path
        let reader = try CSVReader(path: file, delimiter: delimiter, quote: quote)
        if let nul = reader.firstChunk.firstIndex(of: 0) {
            throw StageError("\(file): looks like a binary file (NUL byte at offset \(nul)), expected \(encoding.rawValue) CSV text")
        }
        if encoding == .utf8 { reader.skipByteOrderMark() }
        var hasHeader = false
        while try reader.next() {
            if !reader.isBlankLine { hasHeader = true; break }
        }
        guard hasHeader else {
            throw StageError("\(file): file is empty; expected a header row with the columns \(declarations.map(\.sourceName).joined(separator: String(UnicodeScalar(delimiter))))")
        }
        let header = reader.fields.map { field -> String in
            (encoding.decode(reader.bytes(of: field)) ?? "").trimmingCharacters(in: .whitespaces)
        }
        let headerCount = header.count
        var positions: [Int] = []
        var missing: [String] = []
        for declaration in declarations {
            if let index = header.firstIndex(of: declaration.sourceName)
                ?? header.firstIndex(where: { $0.lowercased() == declaration.sourceName.lowercased() }) {
                positions.append(index)
            } else {
                missing.append("'\(declaration.sourceName)'\(didYouMean(declaration.sourceName, header))")
            }
        }
        if !missing.isEmpty {
            let found = header.joined(separator: ", ")
            let hint = headerCount == 1 && header[0].contains(where: { [";", ",", "\t", "|"].contains(String($0)) })
                ? " — is 'delimiter' right? the header was read as one column" : ""
            throw StageError("\(file):\(reader.line): missing column \(missing.joined(separator: ", ")) in the header (found: \(found))\(hint)")
        }
        let source = context.run.origins.register(displayPath, kind: .fileLine)
        var batch = Batch(capacity: Batch.preferredSize)
        var row = Row()
        row.reserveCapacity(declarations.count)
        while try reader.next() {
            if reader.isBlankLine { continue }
            context.countRead(1)
            let origin = RowOrigin(source: source, position: Int64(reader.line))
            guard reader.fields.count == headerCount else {
                try context.reject(origin, rule: "csv-field-count",
                                   message: MessageCatalogue.fieldCount(tooMany: reader.fields.count > headerCount, expected: headerCount, found: reader.fields.count),
                                   row: rawRecord(reader), amount: statedAmount(reader, positions: positions))
                continue
            }
            row.removeAll(keepingCapacity: true)
            var failure: Problem?
            for (index, declaration) in declarations.enumerated() {
                let bytes = reader.bytes(of: reader.fields[positions[index]])
                switch convert(bytes, declaration) {
                case .success(let value): row.append(value)
                case .failure(let problem):
                    failure = problem
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
    }

    /// Parses a decimal field, accepting the grouping separator even when it is several bytes long.
    private func parseDecimal(_ bytes: ArraySlice<UInt8>) -> Money? {
        guard let separator = thousandsSeparator, separator.count > 1 else {
            return Money.parse(bytes, decimalMark: decimalMark, thousandsSeparator: thousandsSeparator?.first)
        }
        // Replace each multi-byte separator by one byte (0x01, never in text) that Money.parse groups on.
        var single: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index...].starts(with: separator) {
                single.append(1)
                index += separator.count
            } else {
                single.append(bytes[index])
                index += 1
            }
        }
        return Money.parse(single, decimalMark: decimalMark, thousandsSeparator: 1)
    }

    private func rawRecord(_ reader: CSVReader) -> String {
        encoding.decode(reader.recordBytes) ?? String(decoding: reader.recordBytes, as: UTF8.self)
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
            if case .success(.decimal(let amount)) = convert(reader.bytes(of: reader.fields[positions[index]]), declaration) { return amount }
        }
        return nil
    }

    private func convert(_ raw: ArraySlice<UInt8>, _ declaration: ColumnDeclaration) -> Result<Value, Problem> {
        var bytes = raw
        while let first = bytes.first, first == 32 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 32 { bytes = bytes.dropLast() }
        if nullValues.contains(where: { $0.elementsEqual(bytes) }) {
            if declaration.nullable { return .success(.null) }
            return .failure(Problem(rule: "required-value", message: MessageCatalogue.requiredValue(column: declaration.name)))
        }
        func shown() -> String { encoding.decode(bytes) ?? String(decoding: bytes, as: UTF8.self) }
        switch declaration.type {
        case .text:
            guard let text = encoding.decode(bytes) else {
                let hint = encoding == .utf8 ? " (is the file windows-1252? set encoding: windows-1252)" : ""
                return .failure(Problem(rule: "encoding", message: MessageCatalogue.encoding(column: declaration.name, encoding: encoding.rawValue, hint: hint)))
            }
            return .success(.text(text))
        case .int:
            guard let value = parseInteger(bytes) else {
                return .failure(Problem(rule: "int", message: MessageCatalogue.notWholeNumber(column: declaration.name, text: shown())))
            }
            return .success(.int(value))
        case .decimal:
            guard var value = parseDecimal(bytes) else {
                return .failure(Problem(rule: "decimal", message: MessageCatalogue.notDecimal(column: declaration.name, text: shown(), decimalMark: String(UnicodeScalar(decimalMark)))))
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
