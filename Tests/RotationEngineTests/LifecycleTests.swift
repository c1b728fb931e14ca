import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import ServiceLifecycle
import Synchronization
import Testing

@testable import RotationEngine

@Suite("One lifecycle: the timer's wake-ups, the scheduler as a service, waiting that blocks no thread")
struct LifecycleTests {
    @Test("the wake timer fires with the arming it answers; a new arming makes the earlier one stale")
    func wakeTimer() async throws {
        let timer = WakeTimer()
        var wakes = timer.makeAsyncIterator()
        let first = await timer.arm(after: 0.01)
        #expect(await wakes.next() == first)
        _ = await timer.arm(after: 3_600)
        let third = await timer.arm(after: 0.01)
        #expect(await wakes.next() == third)
    }

    @Test("the wake-up sequence ends when its consumer is cancelled, and on stop")
    func wakeTimerEnds() async throws {
        /// A consumer of an armed timer that fires only in an hour: it counts the wake-ups it saw before the end.
        func consumer() async -> (WakeTimer, Task<Int, Never>) {
            let timer = WakeTimer()
            _ = await timer.arm(after: 3_600)
            let task = Task {
                var count = 0
                for await _ in timer { count += 1 }
                return count
            }
            return (timer, task)
        }
        let (_, cancelled) = await consumer()
        cancelled.cancel()
        #expect(await cancelled.value == 0)
        let (stopped, waiting) = await consumer()
        await stopped.stop()
        #expect(await waiting.value == 0)
    }

    @Test("in a service group the scheduler stops on graceful shutdown and tells the runners to stop")
    func schedulerService() async throws {
        let shutdown = ShutdownSignal()
        let (ticks, ticked) = AsyncStream.makeStream(of: Void.self)
        let (reloads, reload) = AsyncStream.makeStream(of: Void.self)
        let loads = Mutex(0)
        let policy = try RotationHarness().policy
        let scheduler = Scheduler(
            configuration: .init(concurrency: 1, resync: 3_600),
            clock: SystemClock(),
            logger: Logger(label: "t"),
            shutdown: shutdown,
            reloads: reloads,
            loadPolicies: {
                loads.withLock { $0 += 1 }
                return [policy]
            },
            runPass: { policy in
                PassResult(
                    policy: policy.name,
                    outcome: .idle,
                    message: "",
                    nextCheck: Date().addingTimeInterval(3_600)
                )
            },
            onTick: { _ in ticked.yield() }
        )
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "t"))
        let running = Task { try await group.run() }
        var tick = ticks.makeAsyncIterator()
        await tick.next()
        reload.yield()  // a reload looks at every policy again at once
        await tick.next()
        #expect(loads.withLock { $0 } == 2)
        #expect(!shutdown.isRequested)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(shutdown.isRequested)
    }

    @Test("waiting for a held lock blocks no thread: other work runs meanwhile")
    func lockWaitDoesNotBlock() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID())").path
        let held = try await FileLock.acquire(path: path).get()
        let order = Order()
        // More waiters than the concurrency pool has threads: waiting that blocked them would starve `other`.
        let waiters = (0..<(ProcessInfo.processInfo.activeProcessorCount * 4)).map { _ in
            Task {
                let result = try await FileLock.acquire(path: path, wait: 1.5)
                order.append("waiter")
                return result
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        await Task { order.append("other") }.value
        for waiter in waiters {
            guard case .failure = try await waiter.value else {
                Issue.record("a waiter got a held lock")
                continue
            }
        }
        #expect(order.first == "other")
        withExtendedLifetime(held) {}
    }
}

/// What happened first, across tasks.
final class Order: Sendable {
    private let names = Mutex<[String]>([])
    var first: String? { names.withLock { $0.first } }
    func append(_ name: String) { names.withLock { $0.append(name) } }
}
