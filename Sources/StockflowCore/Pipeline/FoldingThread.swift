import Foundation

/// A transform whose `receive` only folds rows into the stage's own state (totals by customer, by
/// supplier, by group): it emits nothing before `finish`, records no reject, finding or note, and
/// touches nothing but its own state and its context's row counters. Such a stage may take its
/// batches on another thread than the runner's (`FoldingThread`): what it emits at `finish`, on the
/// runner's thread, is the same whatever thread folded the rows, since it folds them in the same order.
protocol FoldingStage: StageRunner {}

/// One thread that runs the `receive` of folding stages while the runner's thread goes on with the
/// next stages: the runner hands each batch over through a bounded queue (in the order one thread
/// would have passed them), and waits for a stage's batches to be folded before its `finish`.
/// A stage's error stops the thread; the runner gets it at its next hand-over or wait.
final class FoldingThread: @unchecked Sendable {
    /// One batch for one stage.
    struct Work {
        var node: Int
        var port: Int
        var batch: Batch
        var countsRowsIn: Bool
        var runner: StageRunner
        var context: StageContext
    }

    // Two batches in flight: memory stays near one thread's, and the runner seldom waits.
    private let queue = BoundedQueue<Work>(capacity: 2)
    private let condition = NSCondition()
    /// Batches handed over and not yet folded, by node.
    private var pending: [Int: Int] = [:]
    private var failure: Error?
    private var ended = false
    /// Seconds each node's `receive` took on this thread.
    private var busy: [Int: Double] = [:]
    private var thread: Thread?

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    private func run() {
        while true {
            let work: Work?
            do { work = try queue.take() } catch { work = nil }
            guard let work else { break }
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                if work.countsRowsIn { work.context.counters.rowsIn += work.batch.count }
                try work.runner.receive(work.batch, port: work.port, context: work.context) { _ in
                    throw StageError("a folding stage emitted rows before it finished")
                }
            } catch {
                condition.lock()
                if failure == nil { failure = error }
                condition.broadcast()
                condition.unlock()
                queue.stop(error)
                break
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            condition.lock()
            busy[work.node, default: 0] += seconds
            pending[work.node, default: 1] -= 1
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Hands a batch over; throws the error a stage failed with on this thread.
    func send(_ work: Work) throws {
        condition.lock()
        if let failure {
            condition.unlock()
            throw failure
        }
        pending[work.node, default: 0] += 1
        condition.unlock()
        do {
            try queue.put(work)
        } catch {
            condition.lock()
            let failure = self.failure ?? error
            condition.unlock()
            throw failure
        }
    }

    /// Waits until every batch handed over for `node` is folded (its state is then the runner's to
    /// read); throws the error a stage failed with on this thread.
    func wait(for node: Int) throws {
        condition.lock()
        defer { condition.unlock() }
        while (pending[node] ?? 0) > 0 && failure == nil && !ended { condition.wait() }
        if let failure { throw failure }
    }

    /// Ends the thread after what was handed over, and waits for it; the seconds of each node.
    func join() -> [Int: Double] {
        queue.finish(nil)
        return waitForEnd()
    }

    /// Ends the thread without folding what is still queued (the run failed), and waits for it.
    func abandon() -> [Int: Double] {
        queue.stop(nil)
        queue.finish(nil)
        return waitForEnd()
    }

    private func waitForEnd() -> [Int: Double] {
        condition.lock()
        defer { condition.unlock() }
        while !ended && thread != nil { condition.wait() }
        return busy
    }
}
