import NIOCore
import NIOPosix

/// Runs the server's tasks on its event loops instead of Swift's global pool: a job enqueued from an
/// event loop thread (a connection's request arriving) runs on that same loop, so a request is read,
/// answered and written on one thread with no hop between the event loop and the cooperative pool.
/// Anything blocking longer than a query (bcrypt, starting a process) is sent to `NIOThreadPool`.
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    private let group: MultiThreadedEventLoopGroup

    init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        loop.execute { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs `body` on a thread of NIO's blocking pool, off the event loops (bcrypt, process start).
func offLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}
