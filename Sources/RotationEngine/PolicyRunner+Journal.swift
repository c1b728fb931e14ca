import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// Journal helpers: every step is written (records and events, atomically and durably) before what it announces.
extension PolicyRunner {
    /// Writes one journaled step (records and events, atomically and durably), logs and publishes its events.
    @discardableResult
    func journal(_ write: JournalWrite) async throws -> [HistoryEvent] {
        let recorded = try await store.record(write, at: clock.now())
        for event in recorded {
            var metadata: Logger.Metadata = ["event": "\(event.kind)"]
            if let rotation = event.rotationId { metadata["rotation"] = "\(rotation)" }
            if let key = event.keyId { metadata["key"] = "\(key)" }
            if let reason = event.reason { metadata["reason"] = "\(reason)" }
            logger.info("\(event.kind)", metadata: metadata)
            onEvent(event)
        }
        try failPoints.journaled()
        return recorded
    }

    @discardableResult
    func journal(
        _ rotation: RotationRecord? = nil,
        keys: [KeyRecord] = [],
        sinks: [SinkRecord] = [],
        state: PolicyState? = nil,
        events: [NewEvent] = []
    ) async throws -> [HistoryEvent] {
        try await journal(
            JournalWrite(rotation: rotation, keys: keys, sinks: sinks, policyState: state, events: events)
        )
    }

    /// An event of this policy; a rotation's events carry its id and actor.
    func event(
        _ kind: EventKind,
        rotation: RotationRecord? = nil,
        rotationId: String? = nil,
        keyId: String? = nil,
        actor: Actor? = nil,
        reason: String?,
        requestId: String? = nil,
        detail: [String: String] = [:]
    ) -> NewEvent {
        NewEvent(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            rotationId: rotation?.id ?? rotationId,
            kind: kind,
            keyId: keyId,
            actor: actor ?? rotation?.actor ?? .scheduler,
            reason: reason,
            requestId: requestId,
            detail: detail
        )
    }

    /// The journal's record of a key (a new one, in `roleIfNew`, when it has none).
    func keyRecord(for keyId: String, roleIfNew: KeyRole = .other) async throws -> KeyRecord {
        try await store.keys(policy: policy.name).first { $0.keyId == keyId }
            ?? KeyRecord(policy: policy.name, keyId: keyId, role: roleIfNew, firstSeen: clock.now())
    }

    /// The journal's record of a sink (a new empty one when it has none).
    func sinkRecord(for sink: any DeliverySink) async throws -> SinkRecord {
        try await store.sinks(policy: policy.name).first { $0.sink == sink.identity }
            ?? SinkRecord(policy: policy.name, sink: sink.identity)
    }
}
