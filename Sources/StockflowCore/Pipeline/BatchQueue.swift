import Foundation

/// A bounded hand-off of batches from an extract running on its own thread to the runner's thread,
/// so reading a source overlaps with transforming and writing (two cores at work, memory bounded by
/// `capacity` batches).
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Batch] = []
    private var finished = false
    private var failure: Error?
    private var cancelled = false
    private let capacity: Int
    /// Seconds the producer spent waiting for room (the consumer was slower).
    private(set) var producerWaitSeconds: Double = 0

    /// Thrown to the producer when the consumer gave up (a later stage failed).
    struct Cancelled: Error {}

    init(capacity: Int = 4) {
        self.capacity = capacity
    }

    /// Adds a batch, waiting while the queue is full.
    func put(_ batch: Batch) throws {
        condition.lock()
        defer { condition.unlock() }
        if items.count >= capacity && !cancelled {
            let start = DispatchTime.now().uptimeNanoseconds
            while items.count >= capacity && !cancelled { condition.wait() }
            producerWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if cancelled { throw Cancelled() }
        items.append(batch)
        condition.broadcast()
    }

    /// Marks the end of the stream, with the producer's error if it failed.
    func finish(_ error: Error?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch; nil at the end; rethrows the producer's error.
    func take() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if !items.isEmpty {
            let batch = items.removeFirst()
            condition.broadcast()
            return batch
        }
        if let failure, !(failure is Cancelled) { throw failure }
        return nil
    }

    /// Stops the producer at its next `put` and waits until it has finished.
    func cancelAndWait() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// Waits until the producer has finished (its counters are then safe to read).
    func waitUntilFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

