import Foundation

/// A load that does the per-row work of a batch (`prepare`: conversions, tallies) on the thread that
/// hands it over, in batch order, leaving its own thread only the writing (`write`). On one thread
/// `receive` is `write(prepare(batch))`.
protocol PreparingLoad: StageRunner {
    associatedtype Prepared
    /// Converts a batch; touches only state that `write` does not.
    func prepare(_ batch: Batch, port: Int) throws -> Prepared
    /// Writes what `prepare` made, on the load's thread.
    func write(_ prepared: Prepared, port: Int, context: StageContext) throws
}

extension PreparingLoad {
    /// `prepare` now, `write` later on the load's thread.
    fileprivate func preparedWrite(_ batch: Batch, port: Int) throws -> (StageContext) throws -> Void {
        let prepared = try prepare(batch, port: port)
        return { context in try self.write(prepared, port: port, context: context) }
    }
}

/// A load writing on its own thread: the runner hands it batches and the end of its inputs through a
/// bounded queue (a few batches: the runner waits when the writer is behind), so transforms overlap
/// with writing and memory stays bounded. The load sees the same calls in the same order as on one
/// thread; the runner's thread never touches the load or its counters until `join` returns.
final class LoadThread: @unchecked Sendable {
    private enum Event {
        case batch(Batch, port: Int, rank: Int)
        /// A batch prepared on the runner's thread: `rows` rows, written by the closure.
        case prepared((StageContext) throws -> Void, rows: Int, port: Int, rank: Int)
        case finish(rank: Int)
    }

    private let stage: PlannedStage
    private let context: StageContext
    private let cancellation: RunCancellation?
    private let queue: BoundedQueue<Event>
    private let exited = DispatchSemaphore(value: 0)
    private var thread: Thread?
    private var joined = false
    /// The load's error, set by its thread before it exits.
    private var failure: Error?
    /// Seconds the load spent writing (not waiting for batches), read after `join`.
    private(set) var busySeconds: Double = 0

    /// Batches queued per load: enough to ride over an uneven batch, few enough to keep memory flat.
    static let capacity = 4

    init(stage: PlannedStage, context: StageContext, cancellation: RunCancellation?) {
        self.stage = stage
        self.context = context
        self.cancellation = cancellation
        queue = BoundedQueue(capacity: Self.capacity)
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            work()
            exited.signal()
        }
        thread.stackSize = 8 << 20
        thread.name = "stockflow load \(stage.id)"
        self.thread = thread
        thread.start()
    }

    /// Hands over one batch arriving on `port` (prepared here first when the load can be); waits
    /// while the queue is full; throws the load's error once it failed.
    func send(_ batch: Batch, port: Int) throws {
        if let preparing = stage.runner as? any PreparingLoad {
            let write = try preparing.preparedWrite(batch, port: port)
            try queue.put(.prepared(write, rows: batch.count, port: port, rank: context.run.outputs.takeRank()))
        } else {
            try queue.put(.batch(batch, port: port, rank: context.run.outputs.takeRank()))
        }
    }

    /// Hands over the end of every input (the load closes its files then).
    func finish() throws {
        try queue.put(.finish(rank: context.run.outputs.takeRank()))
        queue.finish(nil)
    }

    /// Waits until the thread has written everything it was given; returns the load's error.
    func join() -> Error? {
        if !joined, thread != nil {
            exited.wait()
            joined = true
        }
        return failure
    }

    /// Stops the load at its next batch (the run failed elsewhere) and waits for its thread.
    func abandon() {
        queue.abandon()
        _ = join()
    }

    private func work() {
        let emit: Emit = { [stage, context] output in PipelineRunner.countEmitted(output.count, by: stage, in: context) }
        do {
            while let event = try queue.take() {
                if cancellation?.isCancelled == true { throw StageError("cancelled", kind: .temporary) }
                let start = DispatchTime.now().uptimeNanoseconds
                switch event {
                case .batch(let batch, let port, let rank):
                    context.run.outputs.setRank(rank, forStage: stage.id)
                    if !stage.inputs[port].lookup { context.counters.rowsIn += batch.count }
                    try stage.runner.receive(batch, port: port, context: context, emit: emit)
                case .prepared(let write, let rows, let port, let rank):
                    context.run.outputs.setRank(rank, forStage: stage.id)
                    if !stage.inputs[port].lookup { context.counters.rowsIn += rows }
                    try write(context)
                case .finish(let rank):
                    context.run.outputs.setRank(rank, forStage: stage.id)
                    try stage.runner.finish(context, emit: emit)
                }
                busySeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
        } catch {
            failure = error
            queue.stop(error)
        }
    }
}
