import Foundation

/// A bounded hand-off between two threads: an extract on its own thread feeding the runner, or the
/// runner feeding a load on its own thread. Reading, transforming and writing overlap (both cores at
/// work) while memory stays bounded by `capacity` items.
final class BoundedQueue<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var head = 0
    private var finished = false
    private var failure: Error?
    private var stopped = false
    private var stopReason: Error?
    private let capacity: Int
    /// Seconds the producer spent waiting for room (the consumer was slower).
    private(set) var producerWaitSeconds: Double = 0
    /// Seconds the consumer spent waiting for an item (the producer was slower).
    private(set) var consumerWaitSeconds: Double = 0

    /// Thrown to the producer when the consumer gave up (a later stage failed), and ends a stream
    /// quietly when the producer gave up.
    struct Cancelled: Error {}

    init(capacity: Int = 2) {
        self.capacity = max(capacity, 1)
    }

    private var count: Int { items.count - head }

    /// Adds an item, waiting while the queue is full; throws the consumer's error once it stopped.
    func put(_ item: Item) throws {
        condition.lock()
        defer { condition.unlock() }
        if count >= capacity && !stopped {
            let start = DispatchTime.now().uptimeNanoseconds
            while count >= capacity && !stopped { condition.wait() }
            producerWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if stopped { throw stopReason ?? Cancelled() }
        items.append(item)
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

    /// Ends the stream at once, dropping what is queued: the producer gave up (the consumer sees
    /// the end without the items still waiting).
    func abandon() {
        condition.lock()
        items.removeAll()
        head = 0
        finished = true
        failure = Cancelled()
        condition.broadcast()
        condition.unlock()
    }

    /// The next item; nil at the end; rethrows the producer's error.
    func take() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        if count == 0 && !finished && !stopped {
            let start = DispatchTime.now().uptimeNanoseconds
            while count == 0 && !finished && !stopped { condition.wait() }
            consumerWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if count > 0 && !stopped {
            let item = items[head]
            head += 1
            // Drop the items taken, or the queue would keep every batch ever passed through it.
            if head >= capacity || head == items.count {
                items.removeFirst(head)
                head = 0
            }
            condition.broadcast()
            return item
        }
        if let failure, !(failure is Cancelled) { throw failure }
        return nil
    }

    /// The consumer stops taking (it failed with `error`, or gave up with nil): the producer's next
    /// `put` throws that error, or `Cancelled`.
    func stop(_ error: Error?) {
        condition.lock()
        stopped = true
        stopReason = error
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the producer at its next `put` and waits until it has finished.
    func cancelAndWait() {
        stop(nil)
        waitUntilFinished()
    }

    /// Waits until the producer has finished (its counters are then safe to read).
    func waitUntilFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// What an extract's thread hands to the runner: a batch, and the rejects and findings the extract
/// recorded while reading it, written by the runner before the batch goes on (the order one thread
/// would have written them in).
struct ExtractedBatch {
    var batch: Batch
    var issues: [BufferedIssue]
}

/// The queue from an extract's thread to the runner.
typealias BatchQueue = BoundedQueue<ExtractedBatch>
