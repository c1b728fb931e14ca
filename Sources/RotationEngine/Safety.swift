import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The first rule, as pure functions: **never break a consumer.**
///
/// 1. A key that a consumer may hold is never disabled or deleted by a normal rotation. A consumer *may hold* a key
///    when any sink reported success for it, or a sink attempt for it started and its outcome is not recorded (a
///    crash mid-exec counts). Such a key is retired only the normal way: after a newer key has reached every sink and
///    the grace period has passed. Only an emergency rotation or an operator's consent (`--retire KEY_ID`) cuts that
///    short.
/// 2. At the key limit only a key that serves no one is retired without consent: a disabled key, an expired key, a
///    key this tool created and provably handed to no sink, or the previous key once its grace period is over.
///    Anything else in the way blocks the rotation, naming the key and why.
/// 3. Room is made only for a rotation that goes ahead, from keys that serve no one: a failing Create never costs a
///    key someone uses.
/// 4. A new key that some consumer may hold is finished with *that* key (recovered from a readable sink, checked
///    against its fingerprint), never replaced by another; if its secret cannot be recovered the rotation blocks.
/// 5. Every key in the zone is explained: a key that appears while this tool's Create is in flight is its own.
public enum Safety {
    // MARK: Who may hold what

    /// Which sinks may hold which key. Only the policy's configured sinks count: a sink removed from the policy
    /// no longer receives keys.
    public struct Holdings: Sendable, Equatable {
        /// key id → identities of the sinks that may hold it, in the policy's order.
        public private(set) var byKey: [String: [String]] = [:]
        /// The sinks' records, by identity (configured sinks only).
        public private(set) var sinks: [String: SinkRecord] = [:]
        /// The configured sinks whose stored secret can be read back.
        public private(set) var readable: Set<String> = []

        public init(records: [SinkRecord], configured: [String], readable: [String] = []) {
            self.readable = Set(readable).intersection(configured)
            let byIdentity = Dictionary(records.map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
            for identity in configured {
                guard let record = byIdentity[identity] else { continue }
                sinks[identity] = record
                for keyId in record.mayHold where byKey[keyId]?.contains(identity) != true {
                    byKey[keyId, default: []].append(identity)
                }
            }
        }

        public init() {}

        public func holders(of keyId: String) -> [String] { byKey[keyId] ?? [] }
        /// Whether a readable sink may hold the key (its secret can then be read back and checked).
        public func readableHolder(of keyId: String) -> Bool { holders(of: keyId).contains(where: readable.contains) }
        public func mayBeHeld(_ keyId: String) -> Bool { !(byKey[keyId] ?? []).isEmpty }

        /// Sinks whose consumers may hold a key other than `current`, with that key: a rotation left them apart.
        public func divergent(from current: String?) -> [(sink: String, keyId: String)] {
            sinks.values.sorted { $0.sink < $1.sink }.flatMap { record in
                record.mayHold.filter { $0 != current }.map { (record.sink, $0) }
            }
        }
    }

    // MARK: What a key is to its consumers

    /// Whether a key may be retired without anyone's consent, and why.
    public enum Standing: Sendable, Equatable {
        case servesNoOne(rank: Int, why: String)
        case inUse(why: String)

        public var servesNoOne: Bool {
            if case .servesNoOne = self { return true }
            return false
        }

        public var why: String {
            switch self {
            case .servesNoOne(_, let why), .inUse(let why): return why
            }
        }
    }

    /// The standing of `key` in a zone whose journal says `records` and whose sinks hold `holdings`.
    public static func standing(
        of key: SCIMKey,
        records: [String: KeyRecord],
        holdings: Holdings,
        policy: Policy,
        now: Date
    ) -> Standing {
        let record = records[key.id]
        if key.status == .disabled { return .servesNoOne(rank: 0, why: "disabled") }
        if key.isExpired(at: now) {
            return .servesNoOne(rank: 1, why: "expired \(HistoryTime.format(key.expiresAt))")
        }
        let holders = holdings.holders(of: key.id)
        if !holders.isEmpty { return .inUse(why: "held by \(holders.joined(separator: ", "))") }
        switch record?.role {
        case .current?:
            return .inUse(why: "the current key")
        case .pending?, .abandoned?:
            return .servesNoOne(rank: 2, why: "created by this tool and handed to no sink")
        case .previous?:
            let current = records.values.first { $0.role == .current }
            let graceEnds = (current?.promotedAt ?? record?.promotedAt ?? now)
                .addingTimeInterval(policy.rotation.gracePeriod.timeInterval)
            if graceEnds <= now { return .servesNoOne(rank: 3, why: "the previous key, its grace period over") }
            return .inUse(why: "the previous key, in its grace period until \(HistoryTime.format(graceEnds))")
        default:
            return .inUse(why: "enabled and unexpired, and not created by this tool: someone may use it")
        }
    }

    // MARK: Room at the key limit

    /// One key to retire before Create.
    public struct Retirement: Sendable, Equatable {
        public var key: SCIMKey
        public var why: String
        /// The operator consented (`--retire`).
        public var consented: Bool
        /// An emergency retires a key someone may still use (the compromised current key): provisioning pauses
        /// until the new key is delivered.
        public var syncGap: Bool

        public init(key: SCIMKey, why: String, consented: Bool, syncGap: Bool) {
            self.key = key
            self.why = why
            self.consented = consented
            self.syncGap = syncGap
        }
    }

    public enum RoomDecision: Sendable, Equatable {
        /// Below the limit: create at once.
        case enough
        /// Retire these (in this order), then create.
        case retire([Retirement])
        /// Nothing that may be retired: the reason names every key in the way and what to do.
        case blocked(String)
    }

    /// What to retire so that one more key fits, under the rules above. `consent`: key ids the operator allowed to
    /// retire. An emergency may also retire keys in use, the current (compromised) one last.
    public static func makeRoom(
        observed: [SCIMKey],
        records: [KeyRecord],
        holdings: Holdings,
        policy: Policy,
        now: Date,
        emergency: Bool,
        consent: [String],
        limit: Int? = nil
    ) -> RoomDecision {
        let limit = limit ?? policy.keyLimit
        let needed = observed.count - limit + 1
        guard needed > 0 else { return .enough }
        let byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        let currentId = records.first { $0.role == .current }?.keyId
        let standings = observed.map {
            ($0, standing(of: $0, records: byId, holdings: holdings, policy: policy, now: now))
        }
        var chosen: [Retirement] = []
        func take(_ candidates: [(SCIMKey, Standing)], consented: Bool = false, syncGap: Bool = false) {
            for (key, standing) in candidates where chosen.count < needed && !chosen.contains(where: { $0.key == key })
            {
                chosen.append(Retirement(key: key, why: standing.why, consented: consented, syncGap: syncGap))
            }
        }
        take(standings.filter { consent.contains($0.0.id) }, consented: true)
        take(
            standings.compactMap { key, standing -> (SCIMKey, Standing, Int)? in
                guard case .servesNoOne(let rank, _) = standing else { return nil }
                return (key, standing, rank)
            }
            .sorted { ($0.2, $0.0.createdAt, $0.0.id) < ($1.2, $1.0.createdAt, $1.0.id) }
            .map { ($0.0, $0.1) }
        )
        if emergency {
            let inUse = standings.filter { !$0.1.servesNoOne }.sorted { a, b in
                // The compromised current key last: the others are disabled when the rotation completes anyway.
                (a.0.id == currentId ? 1 : 0, a.0.createdAt, a.0.id) < (
                    b.0.id == currentId ? 1 : 0, b.0.createdAt, b.0.id
                )
            }
            for (key, standing) in inUse {
                take([(key, standing)], syncGap: key.id == currentId || holdings.mayBeHeld(key.id))
            }
        }
        if policy.provider.traits.protectsLastKey, needed >= observed.count {
            let keys = observed.map { "\($0.id) (expires \(HistoryTime.format($0.expiresAt)))" }
            return .blocked(
                "the zone holds \(observed.count) of \(limit) keys (\(keys.joined(separator: "; "))) and "
                    + "\(policy.provider.traits.serviceName) refuses to delete a zone's last key, so no room can be made "
                    + "for a new one\(emergency ? ", not even in an emergency" : ""): nothing was deleted. Raise `keyLimit` "
                    + "to at least 2 (the cloud's limit allowing)"
            )
        }
        if chosen.count >= needed { return .retire(chosen) }
        let inTheWay = standings.filter { pair in !chosen.contains { $0.key == pair.0 } }
            .map { key, standing in "\(key.id) (\(standing.why), expires \(HistoryTime.format(key.expiresAt)))" }
        return .blocked(
            "the zone holds \(observed.count) of \(limit) keys and none of them may be retired: "
                + inTheWay.joined(separator: "; ")
                + ". If one of them is unused, run `scim-rotator rotate \(policy.name) --retire KEY_ID` to retire it; "
                + "if the current key is compromised, `scim-rotator rotate \(policy.name) --emergency --reason TEXT`"
        )
    }

    // MARK: Maintenance after a rotation

    /// Keys whose grace period is over and that serve no one any more: the previous keys, once no sink holds them.
    /// Keys this tool did not create are never disabled on its own initiative. A cloud that cannot disable
    /// (``ProviderTraits/canDisable``) deletes them instead (``deleteTimes(observed:records:holdings:policy:)``).
    public static func disableTimes(
        observed: [SCIMKey],
        records: [KeyRecord],
        holdings: Holdings,
        policy: Policy
    ) -> [(keyId: String, at: Date)] {
        guard policy.provider.traits.canDisable else { return [] }
        return graceEnds(observed: observed, records: records, holdings: holdings, policy: policy)
    }

    /// Keys this tool disabled are deleted `deleteAfter` later (never, when deleteAfter is "never"), unless a sink
    /// still holds them. On a cloud without disable, the previous keys are deleted when their grace period ends, once
    /// no sink holds them and the current key is in the zone (so the last key is never the one deleted).
    public static func deleteTimes(
        observed: [SCIMKey],
        records: [KeyRecord],
        holdings: Holdings,
        policy: Policy
    ) -> [(keyId: String, at: Date)] {
        guard policy.provider.traits.canDisable else {
            return graceEnds(observed: observed, records: records, holdings: holdings, policy: policy)
        }
        guard let deleteAfter = policy.rotation.deleteAfter else { return [] }
        let disabled = Set(observed.filter { $0.status == .disabled }.map(\.id))
        return records.filter {
            $0.disabledByUs && disabled.contains($0.keyId) && $0.role != .current && !holdings.mayBeHeld($0.keyId)
        }
        .compactMap { record in
            record.disabledAt.map { (record.keyId, $0.addingTimeInterval(deleteAfter.timeInterval)) }
        }
    }

    /// When the grace period of each enabled previous key that no sink holds ends, beside a current key the zone
    /// lists.
    static func graceEnds(
        observed: [SCIMKey],
        records: [KeyRecord],
        holdings: Holdings,
        policy: Policy
    ) -> [(keyId: String, at: Date)] {
        guard let current = records.first(where: { $0.role == .current }),
            observed.contains(where: { $0.id == current.keyId })
        else { return [] }
        let byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        let anchor = current.promotedAt ?? current.firstSeen
        return observed.compactMap { key in
            guard key.status == .enabled, key.id != current.keyId, let record = byId[key.id],
                record.role == .previous, record.intent == nil, !holdings.mayBeHeld(key.id)
            else { return nil }
            return (key.id, max(anchor, record.firstSeen).addingTimeInterval(policy.rotation.gracePeriod.timeInterval))
        }
    }

    /// Keys this tool created that no rotation is working on and no sink holds (a rotation that failed before
    /// delivery, whose abandon did not finish): they serve no one and are abandoned.
    /// The zone's only key, where the cloud refuses to delete a zone's last key (``ProviderTraits/protectsLastKey``):
    /// no removal of it is planned or retried until another key exists.
    public static func lastKeyKept(observed: [SCIMKey], policy: Policy) -> String? {
        guard policy.provider.traits.protectsLastKey, observed.count == 1 else { return nil }
        return observed[0].id
    }

    public static func strays(
        observed: [SCIMKey],
        records: [KeyRecord],
        holdings: Holdings,
        active: RotationRecord?
    )
        -> [String]
    {
        let present = Set(observed.map(\.id))
        return records.filter {
            $0.role == .pending && present.contains($0.keyId) && $0.intent == nil && $0.keyId != active?.newKeyId
                && !holdings.mayBeHeld($0.keyId)
        }
        .map(\.keyId)
    }

    /// Keys a person was asked to delete in the console of an issuer that cannot delete (``ProviderTraits/canDelete``),
    /// until they confirm (`confirm --old-deleted`).
    public static func awaitingDeletion(records: [KeyRecord], policy: Policy) -> [KeyRecord] {
        guard !policy.provider.traits.canDelete else { return [] }
        return records.filter { $0.intent == .delete && !$0.role.isGone }
    }

    // MARK: Explaining keys

    /// Keys that appeared while a rotation's CreateSCIMCredential was in flight (outside the zone's keys journaled
    /// just before the call). One is that call's key; several cannot be told apart from a console user's, so none
    /// is claimed.
    public static func createdDuringCall(
        _ rotation: RotationRecord,
        observed: [SCIMKey],
        records: [KeyRecord]
    )
        -> (ours: SCIMKey?, unexplained: [SCIMKey])
    {
        guard rotation.state == .creating, let before = rotation.keysBeforeCreate else { return (nil, []) }
        let known = Set(before)
        let claimed = Set(records.filter { $0.rotationId != nil && $0.rotationId != rotation.id }.map(\.keyId))
        let appeared = observed.filter { !known.contains($0.id) && !claimed.contains($0.id) }
        if appeared.count == 1 { return (appeared[0], []) }
        return (nil, appeared)
    }
}
