import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files a run writes: each goes to a temporary beside its final name and is renamed into place
/// only when the run succeeds, so a failed or killed run never leaves a half-written file where the
/// last good one stood.
public final class OutputSet {
    /// The output folder.
    public let directory: URL
    private var pending: [(temporary: URL, final: URL)] = []
    /// Final paths of the files committed so far.
    public private(set) var committed: [URL] = []
    /// Final paths of the files each stage created, by stage id (for loads that attach them).
    public private(set) var filesByStage: [String: [URL]] = [:]

    /// Opens (and creates) the output folder and removes temporaries left by killed runs.
    public init(directory: URL) throws {
        self.directory = directory.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        } catch {
            throw StageError("cannot create output folder \(directory.path): \(error.localizedDescription)")
        }
        removeStaleTemporaries()
    }

    /// A temporary file for `relativePath`; the caller writes it, the run commits it. `stage` records
    /// which stage owns the file.
    public func create(_ relativePath: String, stage: String? = nil) throws -> URL {
        if let problem = OutputPath.problem(with: relativePath) {
            throw StageError("output path '\(relativePath)' \(problem)")
        }
        let final = directory.appendingPathComponent(relativePath).standardizedFileURL
        guard final.path.hasPrefix(directory.path + "/") else {
            throw StageError("output path '\(relativePath)' leaves the output folder \(directory.path)")
        }
        let folder = final.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = TemporaryFile.url(for: final)
        try? FileManager.default.removeItem(at: temporary)
        pending.append((temporary, final))
        if let stage, !(filesByStage[stage] ?? []).contains(final) { filesByStage[stage, default: []].append(final) }
        return temporary
    }

    /// Renames one pending file into place now (run.json, rejects.csv are committed whatever happens).
    public func commit(_ temporary: URL) throws {
        guard let index = pending.firstIndex(where: { $0.temporary == temporary }) else { return }
        let entry = pending.remove(at: index)
        try rename(entry)
    }

    /// Renames every pending file into place.
    public func commitAll() throws {
        let entries = pending
        pending.removeAll()
        for entry in entries { try rename(entry) }
    }

    /// Deletes every pending temporary (the run failed).
    public func discardAll() {
        for entry in pending { try? FileManager.default.removeItem(at: entry.temporary) }
        pending.removeAll()
    }

    /// Final paths of the files not yet committed.
    public var pendingFinalPaths: [URL] { pending.map(\.final) }

    private func rename(_ entry: (temporary: URL, final: URL)) throws {
        // fsync before rename so a crash after the rename cannot expose an empty file.
        let descriptor = open(entry.temporary.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard Glibc.rename(entry.temporary.path, entry.final.path) == 0 else {
            throw StageError("cannot move \(entry.temporary.lastPathComponent) to \(entry.final.path): \(String(cString: strerror(errno)))")
        }
        committed.append(entry.final)
    }

    private func removeStaleTemporaries() {
        TemporaryFile.removeAll(in: directory) { pid in pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH }
    }
}
