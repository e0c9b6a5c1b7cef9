import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files a run writes: each goes to a temporary beside its final name and is renamed into place
/// only when the run succeeds, so a failed or killed run never leaves a half-written file where the
/// last good one stood. Loads on their own threads create files at once, so the set is locked, and
/// files are listed in the order one thread would have created them (see `takeRank`).
public final class OutputSet: @unchecked Sendable {
    /// The output folder.
    public let directory: URL
    private let lock = NSRecursiveLock()
    private var pending: [(temporary: URL, final: URL, rank: Int)] = []
    private var _committed: [URL] = []
    private var _filesByStage: [String: [URL]] = [:]
    /// The next rank in the run's order of events.
    private var nextRank = 0
    /// The rank of the event a stage on a worker thread is handling: its files take that rank.
    private var rankOfStage: [String: Int] = [:]

    /// Final paths of the files committed so far.
    public var committed: [URL] { lock.withLock { _committed } }
    /// Final paths of the files each stage created, by stage id (for loads that attach them).
    public var filesByStage: [String: [URL]] { lock.withLock { _filesByStage } }

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
        lock.withLock {
            let rank = stage.flatMap { rankOfStage[$0] } ?? takeRank()
            // Stable: files of equal rank keep the order they were created in.
            let position = pending.firstIndex { $0.rank > rank } ?? pending.endIndex
            pending.insert((temporary, final, rank), at: position)
            if let stage, !(_filesByStage[stage] ?? []).contains(final) { _filesByStage[stage, default: []].append(final) }
        }
        return temporary
    }

    /// The rank of the next event in the run's order: the runner takes one for each batch or end it
    /// hands to a load on its own thread, and a file created here without one takes the next.
    func takeRank() -> Int {
        lock.withLock {
            defer { nextRank += 1 }
            return nextRank
        }
    }

    /// The files `stage` creates from now on take `rank` (the event its thread is handling).
    func setRank(_ rank: Int, forStage stage: String) {
        lock.withLock { rankOfStage[stage] = rank }
    }

    /// Renames one pending file into place now (run.json, rejects.csv are committed whatever happens).
    public func commit(_ temporary: URL) throws {
        try lock.withLock {
            guard let index = pending.firstIndex(where: { $0.temporary == temporary }) else { return }
            let entry = pending.remove(at: index)
            try rename(entry.temporary, entry.final)
        }
    }

    /// Renames every pending file into place.
    public func commitAll() throws {
        try lock.withLock {
            let entries = pending
            pending.removeAll()
            for entry in entries { try rename(entry.temporary, entry.final) }
        }
    }

    /// Deletes every pending temporary (the run failed).
    public func discardAll() {
        lock.withLock {
            for entry in pending { try? FileManager.default.removeItem(at: entry.temporary) }
            pending.removeAll()
        }
    }

    /// Final paths of the files not yet committed.
    public var pendingFinalPaths: [URL] { lock.withLock { pending.map(\.final) } }

    private func rename(_ temporary: URL, _ final: URL) throws {
        let entry = (temporary: temporary, final: final)
        // fsync before rename so a crash after the rename cannot expose an empty file.
        let descriptor = open(entry.temporary.path, O_RDONLY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard Glibc.rename(entry.temporary.path, entry.final.path) == 0 else {
            throw StageError("cannot move \(entry.temporary.lastPathComponent) to \(entry.final.path): \(String(cString: strerror(errno)))")
        }
        _committed.append(entry.final)
    }

    private func removeStaleTemporaries() {
        TemporaryFile.removeAll(in: directory) { pid in pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH }
    }
}
