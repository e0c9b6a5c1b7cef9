import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A buffered RFC 4180 CSV writer (UTF-8, CRLF line ends).
public final class CSVWriter {
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: [UInt8] = []
    private let delimiter: UInt8
    private var closed = false
    /// The path being written.
    public let url: URL

    /// Opens `url` for writing, truncating it.
    public init(url: URL, delimiter: UInt8 = UInt8(ascii: ",")) throws {
        guard let file = fopen(url.path, "wb") else {
            throw StageError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        self.file = file
        self.url = url
        self.delimiter = delimiter
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        if !closed { fclose(file) }
    }

    /// Writes one record, quoting fields that hold the delimiter, a quote or a line break.
    public func write(_ fields: [String]) throws {
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(delimiter) }
            appendField(field)
        }
        buffer.append(13)
        buffer.append(10)
        if buffer.count >= 1 << 16 { try flush() }
    }

    private func appendField(_ field: String) {
        var needsQuotes = false
        for byte in field.utf8 where byte == delimiter || byte == 34 || byte == 10 || byte == 13 {
            needsQuotes = true
            break
        }
        if !needsQuotes {
            buffer.append(contentsOf: field.utf8)
            return
        }
        buffer.append(34)
        for byte in field.utf8 {
            if byte == 34 { buffer.append(34) }
            buffer.append(byte)
        }
        buffer.append(34)
    }

    /// Writes the buffer to the file.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        let written = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == buffer.count else {
            throw StageError("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file; reports a full disk.
    public func close() throws {
        guard !closed else { return }
        try flush()
        closed = true
        if fclose(file) != 0 {
            throw StageError("cannot finish writing \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}
