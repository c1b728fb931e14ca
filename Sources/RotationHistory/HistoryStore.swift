import Crypto
import Foundation

/// Selects events for `history`.
public struct EventFilter: Sendable {
    public var policy: String?
    public var since: Date?
    public var until: Date?
    public var kinds: [String]
    public var rotationId: String?
    /// Most recent first when set; all when nil.
    public var limit: Int?

    public init(
        policy: String? = nil,
        since: Date? = nil,
        until: Date? = nil,
        kinds: [String] = [],
        rotationId: String? = nil,
        limit: Int? = nil
    ) {
        self.policy = policy
        self.since = since
        self.until = until
        self.kinds = kinds
        self.rotationId = rotationId
        self.limit = limit
    }
}

/// The outcome of re-checking the hash chain.
public struct ChainVerification: Sendable, Equatable {
    public var checked: Int
    /// The first record whose hash or link does not match, and why.
    public var firstBroken: (seq: Int64, problem: String)?

    public init(checked: Int, firstBroken: (seq: Int64, problem: String)?) {
        self.checked = checked
        self.firstBroken = firstBroken
    }

    public static func == (lhs: ChainVerification, rhs: ChainVerification) -> Bool {
        lhs.checked == rhs.checked && lhs.firstBroken?.seq == rhs.firstBroken?.seq
    }
}

/// The audit history and rotation journal. The rotation executor codes against this; `SQLiteHistoryStore` is the
/// implementation (GRDB on the system SQLite).
public protocol HistoryStore: Sendable {
    /// The random per-database key under which secrets are fingerprinted.
    func fingerprintKey() throws -> SymmetricKey

    /// Writes a journal step and its events atomically and durably; returns the events as recorded.
    @discardableResult func commit(_ write: JournalWrite, at now: Date) throws -> [HistoryEvent]

    /// ``commit(_:at:)`` for async callers (the rotation executor): it suspends instead of blocking a thread of the
    /// concurrency pool while the step is written and synced, and steps committed at the same time may share one
    /// transaction and one sync. Returns once the step is on disk, like `commit`.
    @discardableResult func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent]

    func activeRotation(policy: String) throws -> RotationRecord?
    func rotation(id: String) throws -> RotationRecord?
    func keys(policy: String) throws -> [KeyRecord]
    /// What each delivery destination of the policy holds.
    func sinks(policy: String) throws -> [SinkRecord]
    func policyState(policy: String) throws -> PolicyState
    func policyStates() throws -> [PolicyState]

    func events(_ filter: EventFilter) throws -> [HistoryEvent]
    func verifyChain() throws -> ChainVerification
}

extension HistoryStore {
    @discardableResult public func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent] {
        try commit(write, at: now)
    }
}
