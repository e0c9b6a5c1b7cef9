import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rows of a query run ahead of its stage (`PushedRegion`), kept until the stage asks for them:
/// packed as length-prefixed text, in memory up to `memoryLimit` bytes and beyond that in an
/// anonymous temporary file (created in `TMPDIR`, unlinked at once), so a query with many rows — the
/// rejects and findings of 10M orders — is read once, in bounded memory, and not sent again.
///
/// A row is its cell count (Int32), then per cell its byte length (Int32, -1 for NULL) and its bytes.
final class AheadRows: @unchecked Sendable {
    /// Bytes kept in memory before they go to the file.
    let memoryLimit: Int
    /// Bytes the file may hold; past it the rows are dropped and the stage runs its query itself.
    let fileLimit: Int

    private(set) var count = 0
    private var buffer: [UInt8] = []
    private var file: UnsafeMutablePointer<FILE>?
    private var spilled = 0

    init(memoryLimit: Int = 4 << 20, fileLimit: Int = 1 << 30) {
        self.memoryLimit = memoryLimit
        self.fileLimit = fileLimit
    }

    /// Whether some rows are in the temporary file.
    var hasSpilled: Bool { spilled > 0 }

    deinit { if let file { fclose(file) } }

    /// Keeps a row; false when it cannot be kept (no temporary file, a failed write, past `fileLimit`).
    func append(_ row: PostgresRow) -> Bool {
        let width = row.count
        appendLength(width)
        for index in 0..<width {
            if row.isNull(index) {
                appendLength(-1)
            } else {
                row.withBytes(index) { bytes in
                    appendLength(bytes.count)
                    buffer.append(contentsOf: bytes)
                }
            }
        }
        count += 1
        return buffer.count < memoryLimit || spill()
    }

    /// The first row kept (the count query's only one).
    func first() throws -> TextRow? {
        var found: TextRow?
        try forEach { row in if found == nil { found = row } }
        return found
    }

    /// Calls `body` with each row kept, in the order they came; the rows stay kept.
    func forEach(_ body: (TextRow) throws -> Void) throws {
        if let file, spilled > 0 {
            guard fflush(file) == 0, fseek(file, 0, SEEK_SET) == 0 else { throw Self.readError() }
            var pending: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            var left = spilled
            while left > 0 {
                let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, min($0.count, left), file) }
                guard read > 0 else { throw Self.readError(systemCall: ferror(file) != 0) }
                left -= read
                pending.append(contentsOf: chunk[0..<read])
                let used = try Self.decode(pending, complete: false, body)
                pending.removeFirst(used)
            }
            guard pending.isEmpty else { throw Self.readError(systemCall: false) }
            guard fseek(file, 0, SEEK_END) == 0 else { throw Self.readError() }
        }
        _ = try Self.decode(buffer, complete: true, body)
    }

    private func appendLength(_ length: Int) {
        withUnsafeBytes(of: Int32(truncatingIfNeeded: length).littleEndian) { buffer.append(contentsOf: $0) }
    }

    /// Moves the bytes in memory to the temporary file, making it on first use.
    private func spill() -> Bool {
        if file == nil {
            var template = Array((FileManager.default.temporaryDirectory.path + "/stockflow-ahead.XXXXXX").utf8CString)
            let descriptor = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkstemp($0) } ?? -1 }
            guard descriptor >= 0 else { return false }
            template.withUnsafeBufferPointer { if let path = $0.baseAddress { _ = unlink(path) } }
            guard let opened = fdopen(descriptor, "w+") else { close(descriptor); return false }
            file = opened
        }
        guard let file, spilled + buffer.count <= fileLimit else { return false }
        let written = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == buffer.count else { return false }
        spilled += written
        buffer.removeAll(keepingCapacity: true)
        return true
    }

    /// Decodes the whole rows at the start of `bytes`, returning how many bytes they took; with
    /// `complete`, a partial row at the end is an error.
    private static func decode(_ bytes: [UInt8], complete: Bool, _ body: (TextRow) throws -> Void) throws -> Int {
        try bytes.withUnsafeBytes { raw -> Int in
            var offset = 0
            func length(at position: Int) -> Int? {
                guard position + 4 <= raw.count else { return nil }
                return Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: Int32.self)))
            }
            rows: while offset < raw.count {
                var position = offset
                guard let width = length(at: position), width >= 0 else { break rows }
                position += 4
                var values: [String?] = []
                values.reserveCapacity(width)
                for _ in 0..<width {
                    guard let size = length(at: position) else { break rows }
                    position += 4
                    if size < 0 { values.append(nil); continue }
                    guard position + size <= raw.count else { break rows }
                    values.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<position + size]), as: UTF8.self))
                    position += size
                }
                try body(TextRow(values: values))
                offset = position
            }
            if complete && offset != raw.count { throw readError(systemCall: false) }
            return offset
        }
    }

    /// The rows could not be read back: a failed call (errno's text) or bytes that are not whole rows.
    private static func readError(systemCall: Bool = true) -> StageError {
        let cause = systemCall && errno != 0 ? String(cString: strerror(errno)) : "it holds fewer bytes than were written, or not whole rows"
        return StageError("pushdown: the rows of a query run ahead could not be read back from their temporary file (\(cause))")
    }
}
