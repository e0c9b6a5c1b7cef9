import Foundation

/// A request to stop a run early (SIGTERM), checked between batches and before outputs are committed;
/// a cancelled run commits nothing, not even rejects.csv, and ends with status `cancelled`, exit 75.
public final class RunCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    /// Makes a flag, not set.
    public init() {}
    /// Sets the flag.
    public func cancel() { lock.withLock { cancelled = true } }
    /// Whether the run should stop.
    public var isCancelled: Bool { lock.withLock { cancelled } }
}
