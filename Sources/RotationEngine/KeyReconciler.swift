import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Brings the journal's key records in line with what the cloud lists now.
///
/// - a key the journal does not know is recorded as `other` (`key.discovered`), unless it appeared while a
///   rotation's CreateSCIMCredential was in flight: then it is that call's key, recorded as `pending` for the
///   rotation to abandon (its secret died with the reply);
/// - a recorded key that is gone: if this tool announced deleting it (intent), the deletion is finished
///   (`key.deleted`, `key.retired` or `key.abandoned`); otherwise it `vanished` (`key.vanished`);
/// - a key announced for disabling that the cloud lists as disabled is finished (`key.disabled`).
public enum KeyReconciler {
    public static func reconcile(
        policy: Policy,
        observed: [SCIMKey],
        records: [KeyRecord],
        active: RotationRecord? = nil,
        now: Date
    ) -> JournalWrite {
        let orphan = active.flatMap { Safety.createdDuringCall($0, observed: observed, records: records).ours }
        let byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        var changed: [String: KeyRecord] = [:]
        var events: [NewEvent] = []
        func event(
            _ kind: EventKind,
            _ record: KeyRecord,
            actor: Actor = .scheduler,
            reason: String,
            detail: [String: String] = [:]
        ) {
            events.append(
                NewEvent(
                    policy: policy.name,
                    provider: policy.provider,
                    zone: policy.zone,
                    rotationId: record.rotationId,
                    kind: kind,
                    keyId: record.keyId,
                    actor: actor,
                    reason: reason,
                    detail: detail
                )
            )
        }
        for key in observed {
            if var record = byId[key.id], !record.role.isGone {
                let before = record
                record.observe(key, at: now)
                if record.intent == .disable, key.status == .disabled {
                    record.intent = nil
                    record.disabledByUs = true
                    record.disabledAt = record.intentAt ?? now
                    event(.keyDisabled, record, reason: "finished after an interruption")
                }
                var unchanged = record
                unchanged.lastSeen = before.lastSeen
                if unchanged != before { changed[key.id] = record }  // lastSeen alone is not worth a write
            } else if let orphan, orphan.id == key.id, let active {
                var record = KeyRecord(policy: policy.name, keyId: key.id, role: .pending, firstSeen: now)
                record.observe(key, at: now)
                record.rotationId = active.id
                changed[key.id] = record
                event(
                    .keyDiscovered,
                    record,
                    reason:
                        "made by this tool's CreateSCIMCredential (rotation \(active.id.prefix(8))), whose reply was "
                        + "lost: the only key outside the zone's keys journaled before the call",
                    detail: [
                        "status": key.status.rawValue, "expires": HistoryTime.format(key.expiresAt),
                        "orphanOf": active.id,
                    ]
                )
            } else {
                var record = KeyRecord(policy: policy.name, keyId: key.id, role: .other, firstSeen: now)
                record.observe(key, at: now)
                changed[key.id] = record
                event(
                    .keyDiscovered,
                    record,
                    reason: "a key this tool did not create is in the zone",
                    detail: ["status": key.status.rawValue, "expires": HistoryTime.format(key.expiresAt)]
                )
            }
        }
        let present = Set(observed.map(\.id))
        for record in records where !record.role.isGone && !present.contains(record.keyId) {
            var gone = record
            gone.deletedAt = now
            switch record.intent {
            case .delete?:
                gone.role = .deleted
                event(.keyDeleted, gone, reason: "finished after an interruption")
            case .retire?:
                gone.role = .retired
                let consented = active?.consentedRetire?.contains(record.keyId) ?? false
                event(
                    .keyRetired,
                    gone,
                    actor: consented ? .manual : .scheduler,
                    reason: "finished after an interruption",
                    detail: consented ? ["consent": "true"] : [:]
                )
            case .abandon?:
                gone.role = .abandoned
                event(.keyAbandoned, gone, reason: "finished after an interruption")
            default:
                gone.role = .vanished
                event(
                    .keyVanished,
                    gone,
                    reason: record.role == .current
                        ? "the current key was deleted outside this tool" : "deleted outside this tool",
                    detail: ["role": record.role.rawValue]
                )
            }
            gone.intent = nil
            changed[record.keyId] = gone
        }
        return JournalWrite(keys: changed.values.sorted { $0.keyId < $1.keyId }, events: events)
    }
}
