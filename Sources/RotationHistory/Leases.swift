import Foundation

/// A replica's lease on one policy (PostgreSQL replicas): while it lasts, only `holder` works on the policy's zone
/// and only its journal writes are accepted. `expiresAt` is on the database's clock, never a replica's; `epoch`
/// increases on every takeover, so a writer that lost the lease is refused even if its clock is wrong.
public struct Lease: Sendable, Equatable {
    public var policy: String
    public var holder: String
    public var epoch: Int64
    /// On the database's clock.
    public var expiresAt: Date
    /// Who held it before this acquisition (nil: nobody ever did); the holder itself when it extended its lease.
    public var previousHolder: String?
    /// Whether the previous holder released it (a clean hand-over) rather than let it expire (it lost it).
    public var previousReleased: Bool
    /// Whether this acquisition started a new epoch (a takeover, a first lease, or one after a release), rather than
    /// extend the holder's live lease.
    public var newEpoch: Bool

    public init(
        policy: String,
        holder: String,
        epoch: Int64,
        expiresAt: Date,
        previousHolder: String? = nil,
        previousReleased: Bool = true,
        newEpoch: Bool = false
    ) {
        self.policy = policy
        self.holder = holder
        self.epoch = epoch
        self.expiresAt = expiresAt
        self.previousHolder = previousHolder
        self.previousReleased = previousReleased
        self.newEpoch = newEpoch
    }

    /// The fencing token a journal write carries.
    public var fence: LeaseFence { LeaseFence(policy: policy, holder: holder, epoch: epoch) }
}

/// The fencing token of a journal write: the store accepts the write only when, in the same transaction, the
/// policy's lease is still held by `holder` in `epoch` and not expired by the database's clock.
///
/// Set for a policy's work with ``withFence(_:operation:)`` (a task-local value, so every journal write of the
/// pass, wherever it is made, carries it). A backend without leases (SQLite, one node) ignores it.
public struct LeaseFence: Sendable, Equatable, CustomStringConvertible {
    public var policy: String
    public var holder: String
    public var epoch: Int64

    public init(policy: String, holder: String, epoch: Int64) {
        self.policy = policy
        self.holder = holder
        self.epoch = epoch
    }

    public var description: String { "policy \(policy), holder \(holder), epoch \(epoch)" }

    @TaskLocal public static var current: LeaseFence?

    /// Runs `operation` with every journal write in it fenced by `fence`.
    @discardableResult
    public static func withFence<T>(
        _ fence: LeaseFence?,
        isolation: isolated (any _Concurrency.Actor)? = #isolation,
        operation: () async throws -> T
    ) async rethrows -> T {
        try await $current.withValue(fence, operation: operation, isolation: isolation)
    }
}

/// A journal write (or a renewal) was refused because the replica no longer holds the policy's lease: it must stop
/// working on the policy at once and record nothing more for it.
public struct LeaseLost: Error, Sendable, CustomStringConvertible {
    public var fence: LeaseFence
    public var why: String

    public init(_ fence: LeaseFence, why: String = "another replica took it over, or it expired") {
        self.fence = fence
        self.why = why
    }

    public var description: String {
        "lost the lease on policy \(fence.policy) (holder \(fence.holder), epoch \(fence.epoch)): \(why); this replica stops working on it"
    }
}

/// A live replica as the database sees it.
public struct Replica: Sendable, Equatable {
    public var id: String
    public var expiresAt: Date

    public init(id: String, expiresAt: Date) {
        self.id = id
        self.expiresAt = expiresAt
    }
}

/// Leases for replicas that share one history (PostgreSQL). SQLite, a single node, has none.
public protocol LeaseStore: Sendable {
    /// Takes the policy's lease for `ttl` seconds when it is free, expired (by the database's clock) or already
    /// `holder`'s; a takeover (anything but a renewal of a live lease of `holder`) increments the epoch. Nil when
    /// another holder's lease is live.
    func acquireLease(policy: String, holder: String, ttl: Double) async throws -> Lease?
    /// Extends a live lease by `ttl` seconds from now; throws ``LeaseLost`` when it is no longer held.
    func renewLease(_ lease: Lease, ttl: Double) async throws -> Lease
    /// Ends the lease now (it stays in the table, expired, for `status`); nothing when it is no longer held.
    func releaseLease(_ lease: Lease) async throws
    /// Every policy's lease, live or expired.
    func leases() async throws -> [Lease]
    /// Announces `replica` as alive for `ttl` seconds; returns every live replica (itself included).
    func heartbeat(replica: String, ttl: Double) async throws -> [Replica]
    /// Withdraws `replica` (a clean shutdown), so that the others take its policies at once.
    func withdraw(replica: String) async throws
    /// The database's clock.
    func databaseNow() async throws -> Date
    /// Tells every listening replica that something changed on `policy` (a command's rotation, a takeover).
    func announceChange(policy: String) async throws
    /// Calls `onChange` with the policy of every change announced (by any process) until cancelled; throws when the
    /// database connection is lost (the caller listens again).
    func listenForChanges(_ onChange: @escaping @Sendable (String) -> Void) async throws
}
