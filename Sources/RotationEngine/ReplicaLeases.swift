import Foundation
import Logging
import Metrics
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// A replica's side of the leases (PostgreSQL replicas): which policies are its share, and the lease it works
/// under on each.
///
/// Policies are shared out by rendezvous hashing of (policy, replica id) over the replicas alive now (each announces
/// itself with a heartbeat in the database, ``ReplicaHeartbeat``): N replicas each own about 1/N of them, and when
/// one goes (shutdown, crash, freeze) its policies move to the others as soon as its heartbeat expires. Every piece
/// of work on a policy runs under the policy's lease (``withLease(_:actor:_:)``): taken (a new epoch when taken
/// over), renewed every third of the TTL while the work lasts, released at its end; every journal write carries its
/// fence, and every cloud call checks its time left.
public final class ReplicaLeases: Sendable {
    public let store: any LeaseStore
    public let history: any HistoryStore
    public let replica: String
    public let ttl: Double
    /// How long to wait for another replica's work on a policy before giving up (commands); 0 for the daemon.
    public let wait: Double
    let clock: any RotatorClock
    let logger: Logger
    private let members: Mutex<[String]>
    private let lastBeat = Mutex<ContinuousClock.Instant?>(nil)
    private let wakeUp: AsyncStream<Void>.Continuation
    /// Yields when this replica's share may have changed (a replica came or went): look at every policy again.
    public let changes: AsyncStream<Void>

    public static let heldGauge = "scim_rotator_leases_held"
    public static let takeoverCounter = "scim_rotator_lease_takeovers_total"
    private static let held = Mutex(0)

    public init(
        store: any LeaseStore,
        history: any HistoryStore,
        replica: String,
        ttl: Double,
        wait: Double = 0,
        clock: any RotatorClock,
        logger: Logger
    ) {
        self.store = store
        self.history = history
        self.replica = replica
        self.ttl = ttl
        self.wait = wait
        self.clock = clock
        self.logger = logger
        members = Mutex([replica])
        (changes, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// A replica id for this process: `HOSTNAME-PID` (a pod's name is its host name).
    public static func defaultReplicaId() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// The live replicas as last seen, sorted.
    public var replicas: [String] { members.withLock { $0 } }

    /// The replica whose share `policy` is: the highest rendezvous score among the live replicas.
    public func owner(of policy: String) -> String {
        Self.owner(of: policy, among: replicas) ?? replica
    }

    public static func owner(of policy: String, among replicas: [String]) -> String? {
        replicas.max { score(policy, $0) < score(policy, $1) || (score(policy, $0) == score(policy, $1) && $0 > $1) }
    }

    /// A stable 64-bit score (FNV-1a, then a SplitMix64 finaliser): the same in every process and on every machine.
    static func score(_ policy: String, _ replica: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(policy.utf8) + [0] + Array(replica.utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }

    /// Records the live replicas; wakes the scheduler when they changed, or when this replica was silent for longer
    /// than a TTL (frozen, cut off: the others may have worked on its policies meanwhile).
    func update(_ live: [String], at instant: ContinuousClock.Instant) {
        let sorted = live.contains(replica) ? live.sorted() : (live + [replica]).sorted()
        let changed = members.withLock { members in
            defer { members = sorted }
            return members != sorted
        }
        let silent = lastBeat.withLock { last in
            defer { last = instant }
            return last.map { $0.duration(to: instant).seconds > ttl } ?? false
        }
        if silent { logger.warning("this replica was silent for longer than the lease TTL; looking at every policy") }
        if changed || silent {
            logger.info("replicas changed", metadata: ["replicas": "\(sorted.joined(separator: ","))"])
            wakeUp.yield()
        }
    }

    /// Wakes whoever listens to ``changes`` (LISTEN/NOTIFY from another replica, a takeover).
    public func nudge() { wakeUp.yield() }

    /// Listens for changes other processes announce (LISTEN/NOTIFY) and wakes the scheduler for each, until
    /// cancelled; listens again a second after a lost connection.
    public func listen() async {
        while !Task.isCancelled {
            do {
                try await store.listenForChanges { [weak self] policy in
                    self?.logger.debug("change announced", metadata: ["policy": "\(policy)"])
                    self?.nudge()
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("not listening for changes; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Someone else works on the policy now; its lease ends at `until` (this machine's clock), if known.
    public struct Busy: Error, CustomStringConvertible {
        public var policy: String
        public var holder: String?
        public var until: Date?
        public var description: String {
            "another replica (\(holder ?? "unknown")) holds the lease on policy \(policy)"
                + (until.map { " until \(HistoryTime.format($0))" } ?? "") + "; try again later"
        }
    }

    /// Runs `body` holding the policy's lease, its journal writes fenced and its cloud calls guarded; throws
    /// ``Busy`` when another replica holds it (after waiting up to ``wait``), ``LeaseLost`` when it was lost.
    public func withLease<T>(
        _ policy: Policy,
        actor: Actor,
        isolation: isolated (any _Concurrency.Actor)? = #isolation,
        _ body: (LeaseGuard) async throws -> T
    ) async throws -> T {
        let guardian = try await acquire(policy.name)
        let lease = guardian.lease
        Self.held.withLock { held in
            held += 1
            Gauge(label: Self.heldGauge).record(held)
        }
        defer {
            Self.held.withLock { held in
                held -= 1
                Gauge(label: Self.heldGauge).record(held)
            }
        }
        return try await LeaseFence.withFence(lease.fence) {
            try await recordAcquisition(lease, policy: policy, actor: actor)
            return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
                group.addTask { await self.renew(guardian) }
                defer { group.cancelAll() }
                let value = try await body(guardian)
                group.cancelAll()
                // The renewal in flight ends first, so that it cannot take the released lease for a lost one.
                try await group.waitForAll()
                if !guardian.isLost {
                    do {
                        try await store.releaseLease(guardian.lease)
                    } catch {
                        logger.warning(
                            "cannot release the lease; it expires by itself",
                            metadata: ["policy": "\(policy.name)", "error": "\(error)"]
                        )
                    }
                }
                // A command's work wakes the daemons (they look at every policy at once, not at the next resync).
                if wait > 0 { try? await store.announceChange(policy: policy.name) }
                return value
            }
        }
    }

    private func acquire(_ policy: String) async throws -> LeaseGuard {
        let start = ContinuousClock.now
        while true {
            let sent = ContinuousClock.now
            if let lease = try await store.acquireLease(policy: policy, holder: replica, ttl: ttl) {
                return LeaseGuard(lease: lease, ttl: ttl, sentAt: sent) { [store, ttl] guardian in
                    let sent = ContinuousClock.now
                    guardian.renewed(try await store.renewLease(guardian.lease, ttl: ttl), sentAt: sent)
                }
            }
            if start.duration(to: .now).seconds >= wait {
                let current = try await store.leases().first { $0.policy == policy }
                var left: Double?
                if let current { left = current.expiresAt.timeIntervalSince(try await store.databaseNow()) }
                throw Busy(
                    policy: policy,
                    holder: current?.holder,
                    until: left.map { clock.now().addingTimeInterval(max(0, $0)) }
                )
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Renews the lease every third of its TTL until cancelled; marks it lost when a renewal is refused. A database
    /// that does not answer is retried: the guard's monotonic clock runs out meanwhile and stops the cloud calls.
    private func renew(_ guardian: LeaseGuard) async {
        while !Task.isCancelled, !guardian.isLost {
            do {
                try await Task.sleep(for: .seconds(ttl / 3))
            } catch {
                return
            }
            let sent = ContinuousClock.now
            do {
                guardian.renewed(try await store.renewLease(guardian.lease, ttl: ttl), sentAt: sent)
            } catch let lost as LeaseLost {
                guardian.markLost()
                logger.error("lease lost; this replica stops working on the policy", metadata: ["error": "\(lost)"])
                return
            } catch is CancellationError {
                return
            } catch {
                logger.warning(
                    "cannot renew the lease; retrying",
                    metadata: ["policy": "\(guardian.lease.policy)", "error": "\(error)"]
                )
            }
        }
    }

    /// `lease.acquired` when the policy changes hands (never for a renewal), and `lease.lost` for the holder whose
    /// lease expired under it; both in the new epoch, fenced.
    private func recordAcquisition(_ lease: Lease, policy: Policy, actor: Actor) async throws {
        guard lease.newEpoch else { return }
        let lost = lease.previousHolder != nil && !lease.previousReleased
        guard lost || lease.previousHolder != replica else { return }
        func event(_ kind: EventKind, reason: String) -> NewEvent {
            var detail = ["holder": replica, "epoch": String(lease.epoch)]
            if let previous = lease.previousHolder { detail["previousHolder"] = previous }
            return NewEvent(
                policy: policy.name,
                provider: policy.provider,
                zone: policy.zone,
                kind: kind,
                actor: actor,
                reason: reason,
                detail: detail
            )
        }
        var events: [NewEvent] = []
        if lost, let previous = lease.previousHolder {
            Counter(label: Self.takeoverCounter).increment()
            events.append(
                event(.leaseLost, reason: "the lease of \(previous) expired while it held it; \(replica) took over")
            )
        }
        events.append(event(.leaseAcquired, reason: "\(replica) holds the lease in epoch \(lease.epoch)"))
        try await history.record(JournalWrite(events: events), at: clock.now())
        if lost { try? await store.announceChange(policy: policy.name) }
        logger.info(
            "lease acquired",
            metadata: ["policy": "\(policy.name)", "epoch": "\(lease.epoch)", "takeover": "\(lost)"]
        )
    }

    /// Records that a cloud call's reply arrived after the lease ended: outside the fence (the lease is gone), for
    /// the next holder to reconcile.
    func recordUnfenced(_ action: String, lease: Lease, policy: Policy) async {
        let event = NewEvent(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            kind: .leaseUnfencedEffect,
            actor: .scheduler,
            reason: "the reply to \(action) arrived after the lease of \(replica) (epoch \(lease.epoch)) ended",
            detail: ["holder": replica, "epoch": String(lease.epoch), "call": action]
        )
        do {
            try await LeaseFence.withFence(nil) {
                try await history.record(JournalWrite(events: [event]), at: clock.now())
            }
        } catch {
            logger.error("cannot record an unfenced effect", metadata: ["error": "\(error)", "call": "\(action)"])
        }
    }

    /// The policy's provider under `guardian`.
    public func fenced(_ provider: any SCIMKeyProvider, policy: Policy, guardian: LeaseGuard) -> any SCIMKeyProvider {
        FencedProvider(base: provider, guardian: guardian) { action in
            await self.recordUnfenced(action, lease: guardian.lease, policy: policy)
        }
    }
}
