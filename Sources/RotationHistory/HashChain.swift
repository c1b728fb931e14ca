import Crypto
import Foundation
import SCIMRotatorCore

/// The audit history's SHA-256 chain: one encoding, used when a record is appended and when the chain is verified,
/// by every backend, so that the same history has the same head wherever it is stored.
///
/// A record's hash is SHA-256 over `prevHash "\n"` followed by each field, length-prefixed so that no two records
/// encode alike: `len ":" bytes ";"`, or `-;` for NULL. The fields, in order: `seq` (decimal), then ``columns``.
/// The first record's `prevHash` is empty.
public enum HashChain {
    /// The chained columns after `seq`, in the order they are encoded (verifiers select them in this order).
    public static let columns = [
        "time", "policy", "provider", "zone", "rotationId", "kind", "keyId", "actor", "reason", "requestId", "detail",
    ]

    /// The hash of `event`, whose `prevHash` is the previous record's hash.
    public static func hash(_ event: HistoryEvent) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        encode(prevHash: event.prevHash.utf8, seq: event.seq, fields: fields(event), into: &buffer)
        return SHA256.hash(data: buffer).hexString
    }

    /// Encodes one record into `buffer` (cleared first): what SHA-256 is taken over. `fields` are the bytes of
    /// ``columns`` in order (nil for NULL).
    @inlinable
    public static func encode<Prev: Collection<UInt8>, Field: Collection<UInt8>>(
        prevHash: Prev,
        seq: Int64,
        fields: [Field?],
        into buffer: inout [UInt8]
    ) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: prevHash)
        buffer.append(UInt8(ascii: "\n"))
        appendField(String(seq).utf8, to: &buffer)
        for field in fields { appendField(field, to: &buffer) }
    }

    /// One field: `len ":" bytes ";"`, or `-;` for NULL.
    @inlinable
    public static func appendField<Field: Collection<UInt8>>(_ bytes: Field?, to buffer: inout [UInt8]) {
        guard let bytes else {
            buffer.append(contentsOf: "-;".utf8)
            return
        }
        buffer.append(contentsOf: String(bytes.count).utf8)
        buffer.append(UInt8(ascii: ":"))
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: ";"))
    }

    /// An event's details as stored and chained: a JSON object with sorted keys and unescaped slashes.
    public static func detailJSON(_ detail: [String: String]) -> String? {
        guard !detail.isEmpty else { return nil }
        let data =
            (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The records `events` become after the record `(seq, hash)`: numbered, timed and chained.
    public static func chain(
        _ events: [NewEvent],
        after last: (seq: Int64, hash: String)?,
        at now: Date
    )
        -> [HistoryEvent]
    {
        var seq = last?.seq ?? 0
        var prevHash = last?.hash ?? ""
        let time = HistoryTime.format(now)
        return events.map { event in
            seq += 1
            var record = HistoryEvent(
                seq: seq,
                time: time,
                policy: event.policy,
                provider: event.provider,
                zone: event.zone,
                rotationId: event.rotationId,
                kind: event.kind,
                keyId: event.keyId,
                actor: event.actor,
                reason: event.reason,
                requestId: event.requestId,
                detail: detailJSON(event.detail),
                prevHash: prevHash,
                hash: ""
            )
            record.hash = hash(record)
            prevHash = record.hash
            return record
        }
    }

    /// The fields of `event` in ``columns`` order, as chained.
    public static func fields(_ event: HistoryEvent) -> [String.UTF8View?] {
        [
            event.time, event.policy, event.provider.rawValue, event.zone, event.rotationId, event.kind.rawValue,
            event.keyId, event.actor.rawValue, event.reason, event.requestId, event.detail,
        ].map { $0?.utf8 }
    }

    /// Walks records in `seq` order and checks each: consecutive numbers, linked to the one before, hashed from its
    /// contents. Every backend's `verifyChain` (and a copy's check that records continue a history) runs the records
    /// it reads through one of these, so the same damage gets the same verdict everywhere.
    public struct Verifier {
        @usableFromInline var prevHash: [UInt8]
        @usableFromInline var computed: [UInt8] = []
        @usableFromInline var buffer: [UInt8] = []
        public var expectedSeq: Int64
        public var checked = 0

        /// Starts after the record `(seq, hash)`; from the first record when nil.
        public init(after last: (seq: Int64, hash: String)? = nil) {
            prevHash = Array((last?.hash ?? "").utf8)
            expectedSeq = (last?.seq ?? 0) + 1
            buffer.reserveCapacity(1_024)
        }

        /// Checks the next record; nil when it is sound, else what is wrong with it.
        @inlinable
        public mutating func check<Field: Collection<UInt8>, Link: Collection<UInt8>>(
            seq: Int64,
            fields: [Field?],
            prevHash storedPrev: Link?,
            hash: Link?
        ) -> (seq: Int64, problem: String)? {
            checked += 1
            if seq != expectedSeq {
                return (seq, "sequence jumps from \(expectedSeq - 1) to \(seq): records were deleted")
            }
            guard let storedPrev, storedPrev.elementsEqual(prevHash) else {
                return (seq, "its link to record \(seq - 1) does not match: a record before it was changed or removed")
            }
            HashChain.encode(prevHash: prevHash, seq: seq, fields: fields, into: &buffer)
            computed.removeAll(keepingCapacity: true)
            SHA256.hash(data: buffer).appendHex(to: &computed)
            guard let hash, hash.elementsEqual(computed) else {
                return (seq, "its hash does not match its contents: the record was edited")
            }
            swap(&prevHash, &computed)
            expectedSeq += 1
            return nil
        }

        /// Checks a record as a backend returned it.
        public mutating func check(_ event: HistoryEvent) -> (seq: Int64, problem: String)? {
            check(seq: event.seq, fields: HashChain.fields(event), prevHash: event.prevHash.utf8, hash: event.hash.utf8)
        }
    }
}
