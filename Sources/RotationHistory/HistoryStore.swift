import Crypto
import Foundation

/// Selects events for `history`.
public struct EventFilter: Sendable {
    public var policy: String?
    public var since: Date?
    public var until: Date?
    public var kinds: [EventKind]
    public var rotationId: String?
    /// Most recent first when set; all when nil.
    public var limit: Int?
    /// Only records with these sequence numbers (a copy reads a history in pages).
    public var seqs: ClosedRange<Int64>?

    public init(
        policy: String? = nil,
        since: Date? = nil,
        until: Date? = nil,
        kinds: [EventKind] = [],
        rotationId: String? = nil,
        limit: Int? = nil,
        seqs: ClosedRange<Int64>? = nil
    ) {
        self.policy = policy
        self.since = since
        self.until = until
        self.kinds = kinds
        self.rotationId = rotationId
        self.limit = limit
        self.seqs = seqs
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

/// A problem with the history database, phrased for the operator: what, where, and what to do.
public struct HistoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The audit history and rotation journal: what the rotation engine, the CLI and the dashboard code against, with a
/// backend per database (``SQLiteHistoryStore``; PostgreSQL for replicas). Every call is asynchronous: a backend
/// never blocks a thread of the concurrency pool on its disk or its network.
///
/// One write operation, ``record(_:at:)``: a journal step (rotation, keys, sinks, policy state) and its events,
/// atomically and durably, the events numbered and chained (``HashChain``) by the backend.
public protocol HistoryStore: Sendable {
    /// The random per-database key under which secrets are fingerprinted.
    func fingerprintKey() async throws -> SymmetricKey

    /// Writes a journal step and its events atomically and durably; returns the events as recorded. Steps recorded
    /// at the same moment may share one transaction and one sync (group commit).
    @discardableResult func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent]

    func activeRotation(policy: String) async throws -> RotationRecord?
    func rotation(id: String) async throws -> RotationRecord?
    func keys(policy: String) async throws -> [KeyRecord]
    /// What each delivery destination of the policy holds.
    func sinks(policy: String) async throws -> [SinkRecord]
    func policyState(policy: String) async throws -> PolicyState
    func policyStates() async throws -> [PolicyState]

    func events(_ filter: EventFilter) async throws -> [HistoryEvent]
    /// Re-checks the whole hash chain.
    func verifyChain() async throws -> ChainVerification
    /// The newest record's sequence number and chain hash (the anchor an operator records elsewhere).
    func head() async throws -> (seq: Int64, hash: String)?
    /// The chain hash recorded for record `seq`; nil when there is no such record.
    func chainHash(seq: Int64) async throws -> String?

    /// Appends records chained elsewhere (a copy of another history), verbatim, in one transaction, after checking
    /// that they continue this history's chain (``HashChain/Verifier``); throws and writes nothing otherwise.
    func appendChained(_ events: [HistoryEvent]) async throws

    /// The backend's own check of its storage for `audit verify` (SQLite's integrity check); nil for a backend
    /// without one of its own (a database server checks its pages itself).
    func storageCheck() async throws -> StorageCheck?
}

extension HistoryStore {
    public func storageCheck() async throws -> StorageCheck? { nil }
}

/// The outcome of a backend's own storage check.
public struct StorageCheck: Sendable, Equatable {
    /// What was checked, e.g. "SQLite integrity".
    public var name: String
    /// Empty when the storage is sound; else up to a few problems, one line each.
    public var problems: [String]

    public init(name: String, problems: [String]) {
        self.name = name
        self.problems = problems
    }
}
