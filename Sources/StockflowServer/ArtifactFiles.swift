import Crypto
import Foundation
import Hummingbird
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Serves run outputs from the output folder: names checked, symlinks resolved and kept inside
/// the folder, an ETag from the content, `If-None-Match` and single `Range` requests.
final class ArtifactFiles: @unchecked Sendable {
    /// The output folder, symlinks resolved; nothing outside it is ever opened.
    private let root: String?
    private let fileIO = FileIO()
    private let lock = NSLock()
    /// Per file version (inode, size, modification time): its ETag, and its bytes when small.
    private var known: [String: (stamp: String, etag: String, bytes: ByteBuffer?)] = [:]
    private var knownBytes = 0
    /// Files up to this size are kept in memory once read (a workbook, a report, a rejects file)...
    static let keptFileLimit = 4 << 20
    /// ...up to this much in all; past it the memory starts over.
    static let keptTotalLimit = 32 << 20

    init(outputRoot: String) {
        root = ArtifactFiles.realPath(outputRoot)
    }

    /// The real path of artifact `name` of a run writing into `folder`, or nil when the name is not
    /// a plain relative path, the file is missing or not a regular file, or it resolves outside the
    /// output folder (a symlink leading out, `..`, an absolute path).
    func resolve(folder: String, name: String) -> String? {
        guard let root, ArtifactFiles.isSafeRelativeName(name), let folderPath = ArtifactFiles.realPath(folder),
              ArtifactFiles.isInside(folderPath, root),
              let path = ArtifactFiles.realPath((folderPath as NSString).appendingPathComponent(name)),
              ArtifactFiles.isInside(path, folderPath) else { return nil }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return path
    }

    /// A relative path of plain components: no `..`, `.`, empty or hidden component, no backslash or NUL.
    static func isSafeRelativeName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 1024, !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0") else { return false }
        return name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && !part.hasPrefix(".")
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isInside(_ path: String, _ folder: String) -> Bool {
        path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
    }

    /// The file at `path` as a response: 304 when `If-None-Match` matches, 206 for a satisfiable
    /// range, 416 for an unsatisfiable one.
    func response(path: String, name: String, request: Request, context: some RequestContext, inline: Bool = false) async throws -> Response {
        var info = stat()
        guard stat(path, &info) == 0 else { throw APIError.notFound("no artifact '\(name)'") }
        let size = Int(info.st_size)
        let (etag, kept) = try version(path: path, info: info)
        let fileName = (name as NSString).lastPathComponent
        var headers: HTTPFields = [
            .contentType: ArtifactFiles.contentType(fileName), .eTag: etag, .acceptRanges: "bytes",
            .contentDisposition: "\(inline ? "inline" : "attachment"); filename=\"\(ArtifactFiles.quotedFileName(fileName))\"; filename*=UTF-8''\(fileName.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file")",
            .cacheControl: "private, no-cache",
        ]
        if fileName.hasSuffix(".html") {
            // A report is self-contained: it may style itself and show data: images, nothing more.
            headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
        }
        if ArtifactFiles.matches(request, etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        if let rangeText = request.headers[.range] {
            guard let range = ArtifactFiles.byteRange(rangeText, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            if let kept, let slice = kept.getSlice(at: kept.readerIndex + range.lowerBound, length: range.count) {
                return Response(status: .partialContent, headers: headers, body: ResponseBody(byteBuffer: slice))
            }
            let body = try await fileIO.loadFile(path: path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
        headers[.contentLength] = String(size)
        if let kept { return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: kept)) }
        let body = try await fileIO.loadFile(path: path, context: context)
        return Response(status: .ok, headers: headers, body: body)
    }

    /// True when the request's `If-None-Match` names `etag` (or `*`): answer 304.
    static func matches(_ request: Request, etag: String) -> Bool {
        guard let match = request.headers[.ifNoneMatch] else { return false }
        return match.split(separator: ",").contains { $0.trimmingBlanks() == etag || $0.trimmingBlanks() == "*" }
    }

    /// A strong ETag of `bytes`: the first 16 bytes of their SHA-256, in hex.
    static func etag(of bytes: some DataProtocol) -> String {
        etag(SHA256.hash(data: bytes))
    }

    static func etag(_ digest: SHA256.Digest) -> String {
        "\"" + hex(digest.prefix(16)) + "\""
    }

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within a file of `size` bytes.
    static func byteRange(_ text: String, size: Int) -> ClosedRange<Int>? {
        guard text.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = text.dropFirst(6).trimmingBlanks()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int(first), start >= 0, start < size else { return nil }
        if last.isEmpty { return start...(size - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return start...min(end, size - 1)
    }

    /// A strong ETag from the file's SHA-256 and, for a small file, its bytes: read once per version
    /// of the file (inode, size, modification time), then served from memory.
    private func version(path: String, info: stat) throws -> (etag: String, bytes: ByteBuffer?) {
        let stamp = "\(info.st_ino)-\(info.st_size)-\(info.st_mtim.tv_sec)-\(info.st_mtim.tv_nsec)"
        if let cached = lock.withLock({ known[path] }), cached.stamp == stamp { return (cached.etag, cached.bytes) }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw APIError.notFound("the artifact cannot be read") }
        defer { try? handle.close() }
        let keep = Int(info.st_size) <= ArtifactFiles.keptFileLimit
        var hasher = SHA256()
        var bytes = ByteBuffer()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            if keep { bytes.writeBytes(chunk) }
        }
        let etag = ArtifactFiles.etag(hasher.finalize())
        // Kept only when the file did not change while it was read.
        let kept = keep && bytes.readableBytes == Int(info.st_size) ? bytes : nil
        lock.withLock {
            knownBytes -= known[path]?.bytes?.readableBytes ?? 0
            if knownBytes + (kept?.readableBytes ?? 0) > ArtifactFiles.keptTotalLimit || known.count >= 4096 {
                known.removeAll()
                knownBytes = 0
            }
            known[path] = (stamp, etag, kept)
            knownBytes += kept?.readableBytes ?? 0
        }
        return (etag, kept)
    }

    static func contentType(_ name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "xlsx": return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "html": return "text/html; charset=utf-8"
        case "csv": return "text/csv; charset=utf-8"
        case "json": return "application/json"
        case "eml": return "message/rfc822"
        case "txt", "log": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    private static func quotedFileName(_ name: String) -> String {
        String(name.map { $0.isASCII && $0 != "\"" && $0 != "\\" && !$0.isNewline ? $0 : "_" })
    }
}
