import Foundation

/// Copies one history into another (SQLite into PostgreSQL, or any backend into any other) with its chain intact:
/// the records verbatim (same numbers, times and hashes, so the same head), then the journal (rotations, keys,
/// sinks, policy state). Backend-neutral: it reads and writes through ``HistoryStore`` only.
///
/// The target must be empty, or hold a prefix of the source's chain (an earlier copy: the chains join at the
/// target's head); anything else is refused before a record is written. Running it again after an interruption
/// continues where it stopped.
public enum HistoryCopy {
    public struct Summary: Sendable, Equatable {
        /// Records appended to the target.
        public var copied: Int
        /// Records the target already had.
        public var alreadyThere: Int
        public var rotations: Int
        public var policies: Int
        /// The target's head afterwards (the source's).
        public var headSeq: Int64
        public var headHash: String
    }

    /// Records per read and per append transaction.
    public static let page: Int64 = 5_000

    public static func copy(from source: any HistoryStore, to target: any HistoryStore) async throws -> Summary {
        let verification = try await source.verifyChain()
        if let broken = verification.firstBroken {
            throw HistoryError(
                "the source history is broken at record #\(broken.seq) (\(broken.problem)); nothing was copied. Run `audit verify` on it"
            )
        }
        let sourceHead = try await source.head()
        let targetHead = try await target.head()
        if let targetHead {
            try await checkJoin(source: source, target: target, sourceHead: sourceHead, targetHead: targetHead)
            if let sourceHead, sourceHead.seq <= targetHead.seq {
                // The target already holds the whole source chain (and perhaps newer records): nothing to copy.
                return Summary(
                    copied: 0,
                    alreadyThere: Int(sourceHead.seq),
                    rotations: 0,
                    policies: 0,
                    headSeq: targetHead.seq,
                    headHash: targetHead.hash
                )
            }
        }
        var policies = Set(try await source.policyStates().map(\.policy))
        var rotations = Set<String>()
        var copied = 0
        let last = sourceHead?.seq ?? 0
        var start: Int64 = 1
        while start <= last {
            let events = try await source.events(EventFilter(seqs: start...min(start + page - 1, last)))
            for event in events {
                policies.insert(event.policy)
                if let rotation = event.rotationId { rotations.insert(rotation) }
            }
            let fresh = events.filter { $0.seq > (targetHead?.seq ?? 0) }
            try await target.appendChained(fresh)
            copied += fresh.count
            start += page
        }
        for id in rotations.sorted() {
            if let rotation = try await source.rotation(id: id) {
                try await target.record(JournalWrite(rotation: rotation), at: Date())
            }
        }
        for policy in policies.sorted() {
            try await target.record(
                JournalWrite(
                    keys: try await source.keys(policy: policy),
                    sinks: try await source.sinks(policy: policy),
                    policyState: try await source.policyState(policy: policy)
                ),
                at: Date()
            )
        }
        let head = try await target.head()
        guard head?.seq == sourceHead?.seq, head?.hash == sourceHead?.hash else {
            throw HistoryError(
                "after the copy the target's head is #\(head?.seq ?? 0), not the source's #\(sourceHead?.seq ?? 0); another writer appended to the target meanwhile? Stop it and run the copy again"
            )
        }
        return Summary(
            copied: copied,
            alreadyThere: Int(targetHead?.seq ?? 0),
            rotations: rotations.count,
            policies: policies.count,
            headSeq: head?.seq ?? 0,
            headHash: head?.hash ?? ""
        )
    }

    /// A non-empty target must share the source's chain up to the shorter one's head.
    static func checkJoin(
        source: any HistoryStore,
        target: any HistoryStore,
        sourceHead: (seq: Int64, hash: String)?,
        targetHead: (seq: Int64, hash: String)
    ) async throws {
        guard let sourceHead else {
            throw HistoryError(
                "the source history is empty and the target is not (#\(targetHead.seq)); nothing to copy"
            )
        }
        let seq = min(sourceHead.seq, targetHead.seq)
        let sourceHash = try await source.chainHash(seq: seq)
        let targetHash = try await target.chainHash(seq: seq)
        guard let sourceHash, sourceHash == targetHash else {
            throw HistoryError(
                "the target already holds another history (record #\(seq) is \(targetHash.map { $0.prefix(12) + "..." } ?? "absent") there, \(sourceHash.map { $0.prefix(12) + "..." } ?? "absent") in the source): the chains do not join, and nothing was copied. Copy into an empty database"
            )
        }
    }
}
