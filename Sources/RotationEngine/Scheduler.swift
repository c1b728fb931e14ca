import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Something that wakes the scheduler besides its timer.
public enum SchedulerSignal: Sendable {
    /// SIGHUP: read the policies again.
    case reload
    /// SIGTERM/SIGINT: finish the current step and return.
    case shutdown
}

/// The daemon loop. It sleeps on a DispatchSourceTimer until the earliest time a policy needs attention (a due
/// rotation, the end of a grace period, a retry, or the periodic resync): no polling. Due policies run concurrently
/// up to `concurrency`; each policy's steps run strictly in order inside its pass.
public final class Scheduler: Sendable {
    public struct Configuration: Sendable {
        public var concurrency: Int
        /// Every policy is looked at least this often, due or not (keys changed in the console, expiry drift).
        public var resync: Double

        public init(concurrency: Int = 16, resync: Double = 3_600) {
            self.concurrency = max(1, concurrency)
            self.resync = resync
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
    let loadPolicies: @Sendable () throws -> [Policy]
    let runPass: @Sendable (Policy) async -> PassResult
    let onTick: @Sendable (Tick) -> Void

    public init(
        configuration: Configuration,
        clock: any RotatorClock,
        logger: Logger,
        loadPolicies: @escaping @Sendable () throws -> [Policy],
        runPass: @escaping @Sendable (Policy) async -> PassResult,
        onTick: @escaping @Sendable (Tick) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.loadPolicies = loadPolicies
        self.runPass = runPass
        self.onTick = onTick
    }

    enum Wake: Sendable {
        case timer(Int)
        case signal(SchedulerSignal)
    }

    /// Runs until a shutdown signal (or, for the demo and tests, until `until` on the clock).
    public func run(signals: AsyncStream<SchedulerSignal>, until: Date? = nil) async throws {
        var policies = try loadPolicies()
        logger.info(
            "scheduler started",
            metadata: ["policies": "\(policies.count)", "concurrency": "\(configuration.concurrency)"]
        )
        var nextCheck: [String: Date] = [:]
        let start = clock.now()
        for policy in policies { nextCheck[policy.name] = start }

        let timer = TimerSource()
        let (wakes, wakeContinuation) = AsyncStream.makeStream(of: Wake.self)
        let timerForward = Task {
            for await generation in timer.firings { wakeContinuation.yield(.timer(generation)) }
        }
        let signalForward = Task {
            for await signal in signals { wakeContinuation.yield(.signal(signal)) }
        }
        defer {
            timer.cancel()
            timerForward.cancel()
            signalForward.cancel()
            wakeContinuation.finish()
        }
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
            let generation = timer.arm(after: delay)
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
                case .signal(.shutdown):
                    logger.info("shutdown requested; stopping")
                    break loop
                case .signal(.reload):
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
        logger.info("scheduler stopped")
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
