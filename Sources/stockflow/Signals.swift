import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Signals received, set by the C handlers (nothing else is safe there) and read by polling.
nonisolated(unsafe) private var terminateReceived: sig_atomic_t = 0
nonisolated(unsafe) private var hangupReceived: sig_atomic_t = 0

/// SIGTERM/SIGINT and SIGHUP as flags a loop can poll.
enum SignalFlags {
    /// Installs the handlers (once per process).
    static func install(hangup: Bool) {
        // A peer closing a socket (SMTP over TLS, PostgreSQL) must be an error to handle, not a
        // silent death by SIGPIPE (exit 141) that a scheduler cannot explain.
        signal(SIGPIPE, SIG_IGN)
        terminateReceived = 0
        hangupReceived = 0
        signal(SIGTERM) { _ in terminateReceived = 1 }
        signal(SIGINT) { _ in terminateReceived = 1 }
        if hangup { signal(SIGHUP) { _ in hangupReceived = 1 } }
    }

    /// True once SIGTERM or SIGINT arrived.
    static var terminate: Bool { terminateReceived != 0 }

    /// True when SIGHUP arrived since the last call.
    static func takeHangup() -> Bool {
        guard hangupReceived != 0 else { return false }
        hangupReceived = 0
        return true
    }
}

extension SignalFlags {
    nonisolated(unsafe) private static var terminateTaken = false

    /// True the first time it is called after SIGTERM or SIGINT arrived.
    static func takeTerminate() -> Bool {
        guard terminate, !terminateTaken else { return false }
        terminateTaken = true
        return true
    }
}
