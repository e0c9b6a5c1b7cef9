import Foundation
import StockflowCore
#if canImport(Glibc)
import Glibc
#endif

/// Stopping a run this server did not start (`stockflow run` by hand, cron, `stockflow schedule`):
/// SIGTERM goes to its process only when everything agrees that the process is that run — the
/// history row still running, the pipeline's lock held (a non-blocking probe fails) by the history's
/// process id, that process a `stockflow run` of the pipeline's file, and started before the run
/// recorded itself (a process id reused later belongs to a process started later).
enum ForeignRun {
    /// Why a run may not be signalled (said in the 409), or nil once SIGTERM was sent.
    static func cancel(_ row: RunRow, pipelineFile: String?, stateFolder: URL) -> String? {
        let record = row.record
        guard record.status == "running" else { return "it is not running" }
        guard let pipelineFile, let pipelinePath = ArtifactFiles.realPath(pipelineFile) else {
            return "its pipeline '\(record.pipeline)' is not among this server's pipelines"
        }
        let holder: Int32?
        do {
            // Taken and released at once when free: then no run holds it, and the row is stale.
            _ = try RunLock(pipeline: record.pipeline, folder: stateFolder.appendingPathComponent("locks"))
            return "no process holds the pipeline's lock: the run is no longer running"
        } catch let busy as RunLockBusy {
            holder = busy.holder
        } catch {
            return "the pipeline's lock cannot be checked"
        }
        let pid = record.pid
        guard pid > 1, holder == pid else {
            return "the pipeline's lock is held by process \(holder.map(String.init) ?? "?"), not by the run's process \(pid)"
        }
        guard let arguments = commandLine(pid), isRun(arguments, of: pipelinePath, cwd: workingDirectory(pid)) else {
            return "process \(pid) is not a `stockflow run` of \(pipelineFile)"
        }
        guard let began = startTime(pid), let started = parseISO8601(record.started),
              began.timeIntervalSince(started) <= 2 else {
            return "process \(pid) started after the run did: it is another process"
        }
        guard kill(pid, SIGTERM) == 0 else { return "process \(pid) cannot be signalled: \(String(cString: strerror(errno)))" }
        return nil
    }

    /// True when `arguments` are `stockflow run FILE …` with FILE (relative to `cwd`) the pipeline's file.
    static func isRun(_ arguments: [String], of pipelinePath: String, cwd: String?) -> Bool {
        guard arguments.count >= 3, (arguments[0] as NSString).lastPathComponent == "stockflow", arguments[1] == "run" else {
            return false
        }
        return arguments.dropFirst(2).contains { argument in
            guard !argument.hasPrefix("-") else { return false }
            let path = argument.hasPrefix("/") ? argument : ((cwd ?? "/") as NSString).appendingPathComponent(argument)
            return ArtifactFiles.realPath(path) == pipelinePath
        }
    }

    /// The process's arguments, from /proc/PID/cmdline.
    static func commandLine(_ pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    static func workingDirectory(_ pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
    }

    /// When the process started: boot time (/proc/stat `btime`) plus its start in clock ticks (field 22
    /// of /proc/PID/stat, counted after the command name's closing parenthesis).
    static func startTime(_ pid: Int32) -> Date? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst(6).trimmingBlanks()) else { return nil }
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard perSecond > 0 else { return nil }
        return Date(timeIntervalSince1970: boot + ticks / perSecond)
    }
}
