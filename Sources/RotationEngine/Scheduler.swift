import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import ServiceLifecycle

/// The daemon loop. It sleeps on a DispatchSourceTimer until the earliest time a policy needs attention (a due
/// rotation, the end of a grace period, a retry, or the periodic resync): no polling. Due policies run concurrently
/// up to `concurrency`; each policy's steps run strictly in order inside its pass.
///
/// A `Service`: in a `ServiceGroup`, graceful shutdown (SIGTERM, SIGINT) sets the ``ShutdownSignal`` the runners
/// check between steps and ends the loop once the passes in flight return. Each element of `reloads` (SIGHUP) reads
/// the policies again.
public final class Scheduler: Service {
    public struct Configuration: Sendable {
        public var concurrency: Int
        /// Every policy is looked at least this often, due or not (keys changed in the console, expiry drift).
        public var resync: Double
        /// Stop at this instant on the clock (the demo and tests); nil: run until shutdown.
        public var until: Date?

        public init(concurrency: Int = 16, resync: Double = 3_600, until: Date? = nil) {
            self.concurrency = max(1, concurrency)
            self.resync = resync
            self.until = until
        }
    }

    /// What the loop reports after each round, for logs, the demo and health checks.
    public struct Tick: Sendable {
        public var at: Date
        public var results: [PassResult]
        public var nextWake: Date?
        /// How late the timer fired against the instant it was armed for, in real seconds.
        public var lateness: Double?
        /// Policies loaded.
        public var policies: Int
    }

    let configuration: Configuration
    let clock: any RotatorClock
    let logger: Logger
    let shutdown: ShutdownSignal
    /// Calls its argument for every reload request until the requests end.
    let listen: @Sendable (_ reload: @Sendable () -> Void) async -> Void
    let loadPolicies: @Sendable () throws -> [Policy]
    let runPass: @Sendable (Policy) async -> PassResult
    let onTick: @Sendable (Tick) -> Void
    /// Each element: look at every policy now (replicas came or went, another replica changed something).
    let nudges: AsyncStream<Void>?

    public init<Reloads: AsyncSequence & Sendable>(
        configuration: Configuration,
        clock: any RotatorClock,
        logger: Logger,
        shutdown: ShutdownSignal = ShutdownSignal(),
        reloads: Reloads,
        loadPolicies: @escaping @Sendable () throws -> [Policy],
        runPass: @escaping @Sendable (Policy) async -> PassResult,
        onTick: @escaping @Sendable (Tick) -> Void = { _ in },
        nudges: AsyncStream<Void>? = nil
    ) where Reloads.Failure == Never {
        self.nudges = nudges
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.shutdown = shutdown
        self.listen = { reload in
            for await _ in reloads { reload() }
        }
        self.loadPolicies = loadPolicies
        self.runPass = runPass
        self.onTick = onTick
    }

    /// A scheduler that is never asked to reload (reconcile, the demo, tests).
    public convenience init(
        configuration: Configuration,
        clock: any RotatorClock,
        logger: Logger,
        shutdown: ShutdownSignal = ShutdownSignal(),
        loadPolicies: @escaping @Sendable () throws -> [Policy],
        runPass: @escaping @Sendable (Policy) async -> PassResult,
        onTick: @escaping @Sendable (Tick) -> Void = { _ in }
    ) {
        self.init(
            configuration: configuration,
            clock: clock,
            logger: logger,
            shutdown: shutdown,
            reloads: AsyncStream<Void>.makeStream().stream,
            loadPolicies: loadPolicies,
            runPass: runPass,
            onTick: onTick
        )
    }

    enum Wake: Sendable {
        case timer(Int)
        case reload
        case nudge
        case shutdown
    }

    /// Runs until graceful shutdown or cancellation (or, for the demo and tests, until `configuration.until`).
    public func run() async throws {
        let policies = try loadPolicies()
        let timer = WakeTimer()
        let (wakes, wake) = AsyncStream.makeStream(of: Wake.self)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await generation in timer { wake.yield(.timer(generation)) }
                }
                group.addTask { await self.listen { wake.yield(.reload) } }
                if let nudges {
                    group.addTask {
                        for await _ in nudges { wake.yield(.nudge) }
                    }
                }
                await loop(policies: policies, timer: timer, wakes: wakes)
                group.cancelAll()
            }
        } onGracefulShutdown: { [shutdown] in
            shutdown.request()
            wake.yield(.shutdown)
        }
        await timer.stop()
        logger.info("scheduler stopped")
    }

    private func loop(policies: [Policy], timer: WakeTimer, wakes: AsyncStream<Wake>) async {
        let until = configuration.until
        var policies = policies
        logger.info(
            "scheduler started",
            metadata: ["policies": "\(policies.count)", "concurrency": "\(configuration.concurrency)"]
        )
        var nextCheck: [String: Date] = [:]
        let start = clock.now()
        for policy in policies { nextCheck[policy.name] = start }

        var iterator = wakes.makeAsyncIterator()
        var lateness: Double?

        loop: while true {
            let now = clock.now()
            if let until, now >= until { break }
            let due = policies.filter { (nextCheck[$0.name] ?? now) <= now }
            if !due.isEmpty {
                let results = await runConcurrently(due)
                let after = clock.now()
                for result in results {
                    let resync = after.addingTimeInterval(configuration.resync)
                    var next = min(result.nextCheck ?? resync, resync)
                    if next <= after { next = after.addingTimeInterval(1) }
                    nextCheck[result.policy] = next
                }
                RotatorMetrics.tick(at: after, lateness: lateness)
                onTick(
                    Tick(
                        at: after,
                        results: results,
                        nextWake: nextCheck.values.min(),
                        lateness: lateness,
                        policies: policies.count
                    )
                )
                lateness = nil
                if results.contains(where: { $0.outcome == .interrupted }) { break }
                continue
            }
            var wake = nextCheck.values.min() ?? now.addingTimeInterval(configuration.resync)
            if let until { wake = min(wake, until) }
            let delay = clock.realDelay(until: wake)
            let generation = await timer.arm(after: delay)
            let armedAt = Date()
            waiting: while true {
                guard let event = await iterator.next() else { break loop }
                switch event {
                case .timer(let fired) where fired == generation:
                    lateness = max(0, Date().timeIntervalSince(armedAt) - delay)
                    clock.arrive(at: wake)
                    break waiting
                case .timer:
                    continue waiting  // stale firing of an earlier arming
                case .shutdown:
                    logger.info("shutdown requested; stopping")
                    break loop
                case .nudge:
                    let nudgedAt = clock.now()
                    for policy in policies { nextCheck[policy.name] = nudgedAt }
                    break waiting
                case .reload:
                    do {
                        let reloaded = try loadPolicies()
                        let reloadedAt = clock.now()
                        let old = Dictionary(policies.map { ($0.name, $0.file) }, uniquingKeysWith: { a, _ in a })
                        nextCheck = nextCheck.filter { name, _ in reloaded.contains { $0.name == name } }
                        for policy in reloaded { nextCheck[policy.name] = reloadedAt }
                        policies = reloaded
                        logger.info(
                            "policies reloaded",
                            metadata: ["policies": "\(policies.count)", "before": "\(old.count)"]
                        )
                    } catch {
                        logger.error(
                            "reload failed; keeping the policies already loaded",
                            metadata: ["error": "\(error)"]
                        )
                    }
                    break waiting
                }
            }
        }
    }

    /// Runs passes with at most `concurrency` in flight.
    public func runConcurrently(_ policies: [Policy]) async -> [PassResult] {
        await withTaskGroup(of: PassResult.self) { group in
            var results: [PassResult] = []
            var pending = policies[...]
            for _ in 0..<min(configuration.concurrency, pending.count) {
                let policy = pending.removeFirst()
                group.addTask { await self.runPass(policy) }
            }
            while let result = await group.next() {
                results.append(result)
                if let policy = pending.popFirst() {
                    group.addTask { await self.runPass(policy) }
                }
            }
            return results
        }
    }
}
