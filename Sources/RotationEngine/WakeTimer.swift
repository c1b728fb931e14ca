import Dispatch
import Synchronization

/// The scheduler's DispatchSourceTimer, bridged once into async code: an async sequence of wake-ups, each carrying
/// the arming it answers, so that a late firing of an earlier arming is recognisably stale.
///
/// The actor runs on the timer's own serial queue (``QueueExecutor``), so arming (a new event handler and a new
/// deadline, in one job) and the handler's firings are ordered on that queue: a handler never sees half an arming.
/// The handler captures only the continuation and the arming number. The sequence ends when its consumer is
/// cancelled, on ``stop()``, or when the actor goes away (the source is cancelled then: Dispatch sources keep their
/// handlers until cancelled).
actor WakeTimer: AsyncSequence {
    typealias Element = Int
    typealias AsyncIterator = AsyncStream<Int>.Iterator

    private let executor = QueueExecutor(label: "scim-rotator.scheduler.timer")
    /// In a mutex only so that `deinit`, which runs on no executor in particular, can cancel it.
    private let source: Mutex<any DispatchSourceTimer>
    private let wakeups: AsyncStream<Int>
    private let continuation: AsyncStream<Int>.Continuation
    private var generation = 0

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init() {
        let source = DispatchSource.makeTimerSource(queue: executor.queue)
        source.schedule(deadline: .distantFuture)
        source.activate()
        self.source = Mutex(source)
        (wakeups, continuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(4))
    }

    nonisolated func makeAsyncIterator() -> AsyncStream<Int>.Iterator { wakeups.makeAsyncIterator() }

    /// Arms the timer to fire once after `seconds` (at most 30 days); returns the arming number its wake-up carries.
    func arm(after seconds: Double) -> Int {
        generation += 1
        let (armed, continuation) = (generation, continuation)
        let nanos = Int(Swift.min(Swift.max(seconds, 0), 86_400 * 30) * 1_000_000_000)
        source.withLock { source in
            source.setEventHandler { continuation.yield(armed) }
            source.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .never, leeway: .milliseconds(20))
        }
        return armed
    }

    /// Cancels the source and ends the sequence.
    func stop() {
        source.withLock { $0.cancel() }
        continuation.finish()
    }

    deinit {
        source.withLock { $0.cancel() }
        continuation.finish()
    }
}

/// A serial executor that runs its jobs on one Dispatch queue: an actor on it shares the queue with the Dispatch
/// sources that target the queue.
final class QueueExecutor: SerialExecutor {
    let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }
}
