import Delivery
import Foundation
import RotationHistory
import SCIMRotatorCore
import Synchronization

/// What a replica knows, on its own monotonic clock, about the lease it works under: the clouds cannot check a
/// fencing token, so before each cloud call the lease must have more time left than the request's timeout plus a
/// margin (counted from the instant the last renewal was *sent*, so a slow reply only makes it more careful).
public final class LeaseGuard: Sendable {
    public let ttl: Double
    /// Longest a cloud request may wait for its reply under this lease.
    public let requestTimeout: Double
    /// Kept in hand beyond the request's timeout (clock drift between the database and this machine, scheduling).
    public let margin: Double
    private let state: Mutex<(lease: Lease, renewedAt: ContinuousClock.Instant, lost: Bool)>

    /// Renews the lease now (the store's renewal, then ``renewed(_:sentAt:)``); throws ``LeaseLost`` when it is gone.
    let renewNow: @Sendable (LeaseGuard) async throws -> Void

    public init(
        lease: Lease,
        ttl: Double,
        sentAt: ContinuousClock.Instant,
        requestTimeout: Double = 15,
        renewNow: @escaping @Sendable (LeaseGuard) async throws -> Void = { _ in }
    ) {
        self.renewNow = renewNow
        self.ttl = ttl
        self.margin = min(2, ttl / 10)
        self.requestTimeout = min(requestTimeout, ttl / 3)
        state = Mutex((lease, sentAt, false))
    }

    public var lease: Lease { state.withLock { $0.lease } }
    public var isLost: Bool { state.withLock { $0.lost } }

    /// Seconds of lease left by this machine's monotonic clock (0 once lost).
    public var remaining: Double {
        state.withLock { state in
            state.lost ? 0 : max(0, ttl - state.renewedAt.duration(to: .now).seconds)
        }
    }

    /// When the lease ends by this machine's monotonic clock.
    var end: ContinuousClock.Instant { state.withLock { $0.renewedAt.advanced(by: .seconds(ttl)) } }

    func renewed(_ lease: Lease, sentAt: ContinuousClock.Instant) {
        state.withLock { state in
            guard !state.lost else { return }
            state.lease = lease
            state.renewedAt = sentAt
        }
    }

    func markLost() { state.withLock { $0.lost = true } }

    /// Throws ``LeaseLost`` unless a request started now would be answered, or given up, well before the lease
    /// ends; marks the lease lost when its time is up.
    public func check(before action: String) throws {
        let left = remaining
        guard left > requestTimeout + margin else {
            if left <= 0 { markLost() }
            throw LeaseLost(
                lease.fence,
                why:
                    "\(String(format: "%.1f", left)) s of lease left before \(action), less than the request timeout \(String(format: "%.1f", requestTimeout)) s + \(String(format: "%.1f", margin)) s"
            )
        }
    }

    /// Makes sure the lease has time enough left for a request started now: renews it at once when the periodic
    /// renewal is late (a slow database, a busy machine); throws ``LeaseLost`` when it is gone.
    public func ensure(before action: String) async throws {
        if (try? check(before: action)) != nil { return }
        guard !isLost, remaining > 0 else {
            try check(before: action)
            return
        }
        do {
            try await renewNow(self)
        } catch let lost as LeaseLost {
            markLost()
            throw lost
        } catch {
            try check(before: action)
        }
        try check(before: action)
    }

    /// Runs a cloud call under the lease: checked first, its deadline the lease's end minus the margin; a reply that
    /// arrives after the lease ended is reported to `unfenced` (the call may have changed the zone).
    func call<T: Sendable>(
        _ action: String,
        changes: Bool,
        unfenced: @Sendable (String) async -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        try await ensure(before: action)
        let deadline = end.advanced(by: .seconds(-margin))
        let result = try await RequestDeadline.$current.withValue(deadline) { try await body() }
        if changes, remaining <= 0 {
            markLost()
            await unfenced(action)
            throw LeaseLost(lease.fence, why: "the reply to \(action) arrived after the lease ended")
        }
        return result
    }
}

/// A policy's provider under a replica's lease: every cloud call is first checked against the lease's time left
/// (``LeaseGuard/check(before:)``) and bounded by its end.
struct FencedProvider: SCIMKeyProvider {
    let base: any SCIMKeyProvider
    let guardian: LeaseGuard
    /// Records a reply that arrived after the lease ended (an unfenced effect for the next holder to reconcile).
    let unfenced: @Sendable (String) async -> Void

    var kind: ProviderKind { base.kind }
    var zone: String { base.zone }
    var keyLimit: Int { base.keyLimit }
    var supportsKeyLifetime: Bool { base.supportsKeyLifetime }
    var scimBaseURL: URL { base.scimBaseURL }

    func listKeys() async throws -> [SCIMKey] {
        try await guardian.call("ListKeys", changes: false, unfenced: unfenced) { try await base.listKeys() }
    }

    func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey {
        try await guardian.call("CreateKey", changes: true, unfenced: unfenced) {
            try await base.createKey(lifetime: lifetime, knownKeys: knownKeys)
        }
    }

    func setStatus(of keyId: String, to status: KeyStatus) async throws {
        try await guardian.call("SetStatus \(keyId) \(status)", changes: true, unfenced: unfenced) {
            try await base.setStatus(of: keyId, to: status)
        }
    }

    @discardableResult func deleteKey(_ keyId: String) async throws -> Bool {
        try await guardian.call("DeleteKey \(keyId)", changes: true, unfenced: unfenced) {
            try await base.deleteKey(keyId)
        }
    }

    func syncStatus() async throws -> SyncStatus {
        try await guardian.call("GetSyncStatus", changes: false, unfenced: unfenced) { try await base.syncStatus() }
    }

    func setSyncStatus(_ status: SyncStatus) async throws {
        try await guardian.call("SetSyncStatus \(status)", changes: true, unfenced: unfenced) {
            try await base.setSyncStatus(status)
        }
    }
}

/// A policy's delivery destination under a replica's lease: a write is made only with more lease left than the
/// margin a sink needs, so a replica thawed after losing its lease cannot overwrite what the next holder delivered.
struct FencedSink: DeliverySink {
    let base: any DeliverySink
    let guardian: LeaseGuard

    var summary: String { base.summary }
    var identity: String { base.identity }

    @discardableResult func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try await guardian.ensure(before: "delivering to \(base.summary)")
        return try await base.deliver(secret, context: context)
    }
}

/// ``FencedSink`` for a destination that can be read back (reads are not fenced: they change nothing).
struct FencedReadableSink: ReadableSink {
    let base: any ReadableSink
    let guardian: LeaseGuard

    var summary: String { base.summary }
    var identity: String { base.identity }

    @discardableResult func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try await guardian.ensure(before: "delivering to \(base.summary)")
        return try await base.deliver(secret, context: context)
    }

    func read(context: DeliveryContext) async throws -> Secret? { try await base.read(context: context) }
}

extension LeaseGuard {
    /// The policy's sinks under this lease.
    public func fenced(_ sinks: [any DeliverySink]) -> [any DeliverySink] {
        sinks.map { sink -> any DeliverySink in
            // A person's hand-over file stays itself: confirmation finds it by its type.
            if sink is ManualSink { return sink }
            if let readable = sink as? any ReadableSink { return FencedReadableSink(base: readable, guardian: self) }
            return FencedSink(base: sink, guardian: self)
        }
    }
}
