import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A streaming RFC 4180 record reader over a file: quoted fields may hold the delimiter, doubled
/// quotes and line breaks. Reads in 1 MiB chunks; holds one record's worth of text at a time.
///
/// Nothing is dropped without a word: text after a closing quote is reported (`strayText`) or, when
/// lenient, kept; a quoted field that runs past `limits` or to the end of the file is an
/// `unterminated quote` error or, when lenient, its first line is read again with the quote as text.
final class CSVReader {
    /// One field of the current record, as byte offsets into `buffer`.
    struct Field {
        var start: Int
        var end: Int
        /// The field was written between quotes.
        var quoted: Bool
        /// The field was quoted and holds doubled quotes to undo.
        var hasEscapedQuote: Bool
        /// Text after the closing quote that lenient reading keeps (`"1,00"0` is `1,000`).
        var trailingStart: Int
        var trailingEnd: Int

        /// No byte in it, quoted or not.
        var isEmpty: Bool { start == end && trailingStart == trailingEnd }
    }

    /// How far a quoted field may run before its opening quote is taken for a stray one.
    struct QuoteLimits {
        /// Line breaks inside one quoted field.
        var lines: Int
        /// Bytes of one quoted field.
        var bytes: Int
    }

    /// Text after a closing quote in the current record (strict reading), as line and column.
    struct StrayText {
        var line: Int
        var column: Int
        /// Where the field's opening quote is.
        var quoteLine: Int
        var quoteColumn: Int
    }

    private let descriptor: Int32
    private let delimiter: UInt8
    private let quote: UInt8
    private let lenient: Bool
    private let limits: QuoteLimits
    /// Columns count UTF-8 characters rather than bytes.
    private let countsCharacters: Bool
    /// The bytes read; fields point into it until the next call to `next()`.
    private(set) var buffer: [UInt8]
    private var position = 0
    private var filled = 0
    private var atEnd = false
    /// The current record's fields.
    private(set) var fields: [Field] = []
    /// The first text after a closing quote in the current record, when reading strictly.
    private(set) var strayText: StrayText?
    /// The 1-based line on which the current record starts.
    private(set) var line = 0
    private var nextLine = 1
    /// Byte range of the current record, without its line end.
    private(set) var recordStart = 0
    private(set) var recordEnd = 0
    /// Bytes dropped from the front of `buffer` so far.
    private var discarded = 0
    /// The first bytes of the file, for binary detection.
    private(set) var firstChunk: [UInt8] = []
    /// Lines whose opening quote never closed and that lenient reading took with the quote as text.
    private(set) var rereadLines: [Int] = []
    /// The current record was read again from its first line with its quotes as text.
    private(set) var isReread = false
    let path: String

    init(path: String, delimiter: UInt8, quote: UInt8, lenient: Bool = false,
         limits: QuoteLimits = QuoteLimits(lines: 256, bytes: 1 << 20), countsCharacters: Bool = true) throws {
        self.path = path
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw StageError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.delimiter = delimiter
        self.quote = quote
        self.lenient = lenient
        self.limits = limits
        self.countsCharacters = countsCharacters
        buffer = [UInt8](repeating: 0, count: 1 << 20)
        try fill()
        firstChunk = Array(buffer[0..<min(filled, 8192)])
    }

    deinit {
        close(descriptor)
    }

    /// Skips a UTF-8 byte order mark at the start of the file.
    func skipByteOrderMark() {
        if filled >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { position = 3 }
    }

    /// True when no bytes remain.
    var isExhausted: Bool { atEnd && position >= filled }

    private func fill() throws {
        if position > 0 {
            let remaining = filled - position
            if remaining > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    _ = memmove(base, base + position, remaining)
                }
            }
            filled = remaining
            discarded += position
            recordStart -= position
            position = 0
        }
        if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        let count = buffer.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return read(descriptor, base + filled, raw.count - filled)
        }
        if count < 0 { throw StageError("cannot read \(path): \(String(cString: strerror(errno)))") }
        if count == 0 { atEnd = true }
        filled += count
    }

    private enum Scan {
        case record
        case needMore
        case unterminated(line: Int, column: Int, why: String)
    }

    /// Reads the next record; false at the end of the file. Throws on an unterminated quote unless lenient.
    func next() throws -> Bool {
        var literalQuotes = false
        while true {
            if position >= filled {
                if atEnd { return false }
                try fill()
                continue
            }
            switch scanRecord(literalQuotes: literalQuotes) {
            case .record:
                isReread = literalQuotes
                if literalQuotes { rereadLines.append(line) }
                return true
            case .needMore:
                // The record runs past the buffer: read more and scan it again from its start.
                try fill()
            case .unterminated(let line, let column, let why):
                guard lenient else {
                    throw StageError("\(path):\(line):\(column): unterminated quote opened at line \(line), column \(column): \(why); if the quote is part of the text, set lenient_quotes: true to read it as text")
                }
                literalQuotes = true
            }
        }
    }

    /// The 1-based column of byte `offset` on the line starting at `lineStart`.
    private func column(_ bytes: UnsafeBufferPointer<UInt8>, from lineStart: Int, to offset: Int) -> Int {
        guard countsCharacters else { return offset - lineStart + 1 }
        var column = 1
        var index = lineStart
        while index < offset {
            if bytes[index] & 0xC0 != 0x80 { column += 1 }
            index += 1
        }
        return column
    }

    /// Scans one record from `position`. With `literalQuotes` the quote is plain text and the record
    /// ends at the first line end (lenient reading after an unterminated quote).
    private func scanRecord(literalQuotes: Bool) -> Scan {
        fields.removeAll(keepingCapacity: true)
        strayText = nil
        let start = position
        let end = filled
        let atEnd = self.atEnd
        let firstLine = nextLine
        return buffer.withUnsafeBufferPointer { bytes -> Scan in
            var index = start
            var lines = 0
            var lineStart = start
            func isFieldEnd(_ byte: UInt8) -> Bool { byte == delimiter || byte == 10 || byte == 13 }
            func finish(recordEnd: Int, next: Int) {
                self.recordStart = start
                self.recordEnd = recordEnd
                self.position = next
                self.line = firstLine
                self.nextLine = firstLine + lines + 1
            }
            while true {
                if !literalQuotes && index < end && bytes[index] == quote {
                    // Quoted field: up to the closing quote; "" is an escaped quote.
                    let openLine = firstLine + lines
                    let openColumn = column(bytes, from: lineStart, to: index)
                    var scan = index + 1
                    var escaped = false
                    var fieldLines = 0
                    while true {
                        if fieldLines > limits.lines {
                            return .unterminated(line: openLine, column: openColumn,
                                                 why: "no closing quote within \(limits.lines) lines (max_quoted_lines)")
                        }
                        if scan - index > limits.bytes {
                            return .unterminated(line: openLine, column: openColumn,
                                                 why: "no closing quote within \(limits.bytes) bytes (max_quoted_bytes)")
                        }
                        guard scan < end else {
                            if atEnd {
                                return .unterminated(line: openLine, column: openColumn, why: "the file ends before the closing quote")
                            }
                            return .needMore
                        }
                        let byte = bytes[scan]
                        if byte == quote {
                            if scan + 1 < end {
                                if bytes[scan + 1] == quote {
                                    escaped = true
                                    scan += 2
                                    continue
                                }
                            } else if !atEnd {
                                return .needMore
                            }
                            break
                        }
                        if byte == 10 {
                            lines += 1
                            fieldLines += 1
                            lineStart = scan + 1
                        } else if byte == 13 {
                            if scan + 1 >= end && !atEnd { return .needMore }
                            if scan + 1 >= end || bytes[scan + 1] != 10 {
                                lines += 1
                                fieldLines += 1
                                lineStart = scan + 1
                            }
                        }
                        scan += 1
                    }
                    var after = scan + 1
                    while after < end && !isFieldEnd(bytes[after]) { after += 1 }
                    if after >= end && !atEnd { return .needMore }
                    var field = Field(start: index + 1, end: scan, quoted: true, hasEscapedQuote: escaped,
                                      trailingStart: after, trailingEnd: after)
                    if after > scan + 1 {
                        if lenient {
                            field.trailingStart = scan + 1
                        } else if strayText == nil {
                            strayText = StrayText(line: firstLine + lines, column: column(bytes, from: lineStart, to: scan + 1),
                                                  quoteLine: openLine, quoteColumn: openColumn)
                        }
                    }
                    fields.append(field)
                    index = after
                } else {
                    let fieldStart = index
                    while index < end && !isFieldEnd(bytes[index]) { index += 1 }
                    fields.append(Field(start: fieldStart, end: index, quoted: false, hasEscapedQuote: false,
                                        trailingStart: index, trailingEnd: index))
                }
                guard index < end else {
                    if !atEnd { return .needMore }
                    finish(recordEnd: index, next: index)
                    return .record
                }
                let byte = bytes[index]
                if byte == delimiter {
                    index += 1
                    continue
                }
                // Line end: LF, CRLF or a lone CR.
                if byte == 13 {
                    if index + 1 >= end && !atEnd { return .needMore }
                    finish(recordEnd: index, next: index + ((index + 1 < end && bytes[index + 1] == 10) ? 2 : 1))
                } else {
                    finish(recordEnd: index, next: index + 1)
                }
                return .record
            }
        }
    }

    /// True when the current record is an empty line.
    var isBlankLine: Bool { fields.count == 1 && fields[0].isEmpty && !fields[0].quoted }

    /// True when every field of the current record is empty and unquoted (`;;;;`, Excel's empty rows).
    var isEmptyRow: Bool { fields.allSatisfy { $0.isEmpty && !$0.quoted } }

    /// The bytes of a field, with doubled quotes undone and lenient trailing text appended.
    func bytes(of field: Field) -> ArraySlice<UInt8> {
        if !field.hasEscapedQuote && field.trailingStart == field.trailingEnd { return buffer[field.start..<field.end] }
        var result: [UInt8] = []
        result.reserveCapacity(field.end - field.start + field.trailingEnd - field.trailingStart)
        var index = field.start
        while index < field.end {
            result.append(buffer[index])
            index += (field.hasEscapedQuote && buffer[index] == quote && index + 1 < field.end && buffer[index + 1] == quote) ? 2 : 1
        }
        result.append(contentsOf: buffer[field.trailingStart..<field.trailingEnd])
        return result[...]
    }

    /// The offset in the file of `index` in `buffer`.
    func fileOffset(of index: Int) -> Int { discarded + index }

    /// The raw bytes of the current record.
    var recordBytes: ArraySlice<UInt8> { buffer[recordStart..<recordEnd] }
}
