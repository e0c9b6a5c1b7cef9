import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A streaming RFC 4180 record reader over a file: quoted fields may hold the delimiter, doubled
/// quotes and line breaks. Reads in 1 MiB chunks; holds one record's worth of text at a time.
final class CSVReader {
    /// One field of the current record, as byte offsets into `buffer`.
    struct Field {
        var start: Int
        var end: Int
        /// The field was quoted and holds doubled quotes to undo.
        var hasEscapedQuote: Bool
    }

    private let descriptor: Int32
    private let delimiter: UInt8
    private let quote: UInt8
    /// The bytes read; fields point into it until the next call to `next()`.
    private(set) var buffer: [UInt8]
    private var position = 0
    private var filled = 0
    private var atEnd = false
    /// The current record's fields.
    private(set) var fields: [Field] = []
    /// The 1-based line on which the current record starts.
    private(set) var line = 0
    private var nextLine = 1
    /// Byte range of the current record, without its line end.
    private(set) var recordStart = 0
    private(set) var recordEnd = 0
    /// Bytes consumed before the buffer's start, for binary detection offsets.
    private(set) var firstChunk: [UInt8] = []
    let path: String

    init(path: String, delimiter: UInt8, quote: UInt8) throws {
        self.path = path
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw StageError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.delimiter = delimiter
        self.quote = quote
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
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + position, remaining)
                }
            }
            filled = remaining
            recordStart -= position
            position = 0
        }
        if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
        let count = buffer.withUnsafeMutableBytes { raw in
            read(descriptor, raw.baseAddress! + filled, raw.count - filled)
        }
        if count < 0 { throw StageError("cannot read \(path): \(String(cString: strerror(errno)))") }
        if count == 0 { atEnd = true }
        filled += count
    }

    /// Reads the next record; false at the end of the file.
    func next() throws -> Bool {
        while true {
            if position >= filled {
                if atEnd { return false }
                try fill()
                continue
            }
            if let complete = scanRecord() {
                return complete
            }
            // The record runs past the buffer: read more and scan it again from its start.
            if atEnd {
                return finishAtEndOfFile()
            }
            try fill()
        }
    }

    /// Scans one record from `position`; nil when the buffer ends before the record does.
    private func scanRecord() -> Bool? {
        fields.removeAll(keepingCapacity: true)
        let start = position
        var index = start
        var lines = 0
        let end = filled
        return buffer.withUnsafeBufferPointer { bytes -> Bool? in
            var fieldStart = index
            while true {
                if index < end && bytes[index] == quote {
                    // Quoted field: up to the closing quote; "" is an escaped quote.
                    var scan = index + 1
                    var escaped = false
                    while true {
                        guard scan < end else { return nil }
                        let byte = bytes[scan]
                        if byte == quote {
                            if scan + 1 < end && bytes[scan + 1] == quote {
                                escaped = true
                                scan += 2
                                continue
                            }
                            if scan + 1 >= end && !atEnd { return nil }
                            break
                        }
                        if byte == 10 { lines += 1 }
                        scan += 1
                    }
                    // Text after the closing quote up to the delimiter is kept (lenient, like Excel).
                    var after = scan + 1
                    while after < end && bytes[after] != delimiter && bytes[after] != 10 && bytes[after] != 13 { after += 1 }
                    fields.append(Field(start: index + 1, end: scan, hasEscapedQuote: escaped))
                    index = after
                } else {
                    while index < end && bytes[index] != delimiter && bytes[index] != 10 && bytes[index] != 13 { index += 1 }
                    fields.append(Field(start: fieldStart, end: index, hasEscapedQuote: false))
                }
                guard index < end else {
                    if !atEnd { return nil }
                    recordStart = start
                    recordEnd = index
                    position = index
                    line = nextLine
                    nextLine += lines + 1
                    return true
                }
                let byte = bytes[index]
                if byte == delimiter {
                    index += 1
                    fieldStart = index
                    if index >= end && !atEnd { return nil }
                    continue
                }
                // Line end: LF, CRLF or a lone CR.
                recordStart = start
                recordEnd = index
                if byte == 13 {
                    if index + 1 >= end && !atEnd { return nil }
                    index += (index + 1 < end && bytes[index + 1] == 10) ? 2 : 1
                } else {
                    index += 1
                }
                position = index
                line = nextLine
                nextLine += lines + 1
                return true
            }
        }
    }

    private func finishAtEndOfFile() -> Bool {
        // An unterminated quote at the end of the file: take the rest as one record.
        fields = [Field(start: position, end: filled, hasEscapedQuote: false)]
        recordStart = position
        recordEnd = filled
        line = nextLine
        position = filled
        return true
    }

    /// True when the current record is an empty line.
    var isBlankLine: Bool { fields.count == 1 && fields[0].start == fields[0].end && recordEnd == recordStart }

    /// The bytes of a field, with doubled quotes undone.
    func bytes(of field: Field) -> ArraySlice<UInt8> {
        if !field.hasEscapedQuote { return buffer[field.start..<field.end] }
        var result: [UInt8] = []
        var index = field.start
        while index < field.end {
            result.append(buffer[index])
            index += (buffer[index] == quote && index + 1 < field.end && buffer[index + 1] == quote) ? 2 : 1
        }
        return result[...]
    }

    /// The raw bytes of the current record.
    var recordBytes: ArraySlice<UInt8> { buffer[recordStart..<recordEnd] }
}
