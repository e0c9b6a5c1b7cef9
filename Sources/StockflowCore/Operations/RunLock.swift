import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Another process holds the pipeline's lock: the run must not start (exit 75, retry later).
public struct RunLockBusy: Error, CustomStringConvertible {
    /// The pipeline name.
    public var pipeline: String
    /// The holder's process id, when it could be read from the lock file.
    public var holder: Int32?
    /// The lock file.
    public var path: String

    public var description: String {
        let who = holder.map { "process \($0)" } ?? "another process"
        return "pipeline '\(pipeline)' is already running: \(who) holds the lock \(path); not starting a second run (exit 75, retry later)"
    }
}

/// The lock one run of a pipeline holds, whoever started it (the scheduler, cron, a person): an
/// flock(2) on `<state folder>/locks/<pipeline>.lock`. The kernel releases it when the holder's
/// descriptor closes, so a run killed with SIGKILL never leaves a lock behind; the file itself stays,
/// holding the last holder's PID for the message a second run prints.
public final class RunLock {
    private let descriptor: Int32
    /// The lock file.
    public let path: String

    /// Takes the lock of `pipeline` in `folder` without waiting; throws `RunLockBusy` when held.
    public init(pipeline: String, folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let safeName = String(pipeline.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        path = folder.appendingPathComponent("\(safeName).lock").path
        // O_CLOEXEC: child processes (a scheduler's runs) must not inherit and keep the lock.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StageError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let reason = errno
            let holder = RunLock.readHolder(descriptor)
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw RunLockBusy(pipeline: pipeline, holder: holder, path: path)
            }
            throw StageError("cannot lock \(path): \(String(cString: strerror(reason)))")
        }
        self.descriptor = descriptor
        let text = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The PID written by the holder; it writes right after locking, so give it a moment.
    private static func readHolder(_ descriptor: Int32) -> Int32? {
        for _ in 0..<5 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count - 1, 0)
            if count > 0, let pid = Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
            usleep(20_000)
        }
        return nil
    }
}
