import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Key-level steps: adopt, disable, delete, retire, abandon. Each announces its intent in the journal before calling
/// the cloud and records the outcome after, so a crash in between is finished on the next pass.
extension PolicyRunner {
    func adopt(_ keyId: String, observed: [SCIMKey]) async throws {
        var record = try await keyRecord(for: keyId)
        if let key = observed.first(where: { $0.id == keyId }) { record.observe(key, at: clock.now()) }
        record.role = .current
        record.promotedAt = clock.now()
        try await journal(
            keys: [record],
            events: [
                event(
                    .keyAdopted,
                    keyId: keyId,
                    reason: "first contact: the newest enabled unexpired key becomes current",
                    detail: ["expires": record.expiresAt.map(HistoryTime.format) ?? ""]
                )
            ]
        )
    }

    /// Journals the intent before the side effect. `roleIfNew`: the role of a key the journal does not know yet (a
    /// lost reply's key is this tool's own, pending).
    func announce(
        _ keyId: String,
        intent: KeyIntent,
        rotationId: String?,
        roleIfNew: KeyRole = .other
    ) async throws
        -> KeyRecord
    {
        var record = try await keyRecord(for: keyId, roleIfNew: roleIfNew)
        record.intent = intent
        record.intentAt = clock.now()
        if let rotationId, record.rotationId == nil { record.rotationId = rotationId }
        try await journal(keys: [record])
        return record
    }

    /// Disables keys (the grace period is over, or an emergency).
    func disable(_ keyIds: [String], reason: String, actor: Actor, rotationId: String?) async throws {
        for keyId in keyIds {
            var record = try await announce(keyId, intent: .disable, rotationId: nil)
            try await provider.setStatus(of: keyId, to: .disabled)
            try await failPoints.hit("after:disable")
            record.intent = nil
            record.status = .disabled
            record.disabledByUs = true
            record.disabledAt = clock.now()
            try await journal(
                keys: [record],
                events: [
                    event(
                        .keyDisabled,
                        rotationId: rotationId,
                        keyId: keyId,
                        actor: actor,
                        reason: reason,
                        detail: ["role": record.role.rawValue]
                    )
                ]
            )
        }
    }

    /// Deletes keys this tool disabled (deleteAfter is over, or an emergency with --delete-old). Returns the keys it
    /// deleted: a cloud that refuses to delete a zone's last key keeps it, and an issuer without a key API keeps
    /// them all until a person deletes them (they are asked to).
    @discardableResult
    func delete(_ keyIds: [String], reason: String, actor: Actor, rotationId: String?) async throws -> Set<String> {
        guard traits.canDelete else {
            try await askDeletion(keyIds, reason: reason, actor: actor, rotationId: rotationId)
            return []
        }
        var deleted: Set<String> = []
        for keyId in keyIds {
            let record = try await announce(keyId, intent: .delete, rotationId: nil)
            let existed: Bool
            do {
                existed = try await provider.deleteKey(keyId)
            } catch let error as ProviderError where error.kind == .lastKeyProtected {
                // The rest of the zone went meanwhile (a console user): the last key stays; nothing was done to it.
                try await withdraw(
                    record,
                    reason: "the cloud refuses to delete the zone's last key (\(error.code ?? ""))"
                )
                continue
            }
            try await failPoints.hit("after:delete")
            deleted.insert(keyId)
            try await recordDeleted(
                record,
                reason: reason,
                actor: actor,
                rotationId: rotationId,
                detail: ["alreadyGone": existed ? "false" : "true"]
            )
        }
        return deleted
    }

    /// Journals a key as deleted (`key.deleted`, with the role it had), its intent finished.
    func recordDeleted(
        _ record: KeyRecord,
        reason: String,
        actor: Actor,
        rotationId: String?,
        detail: [String: String] = [:]
    ) async throws {
        var record = record
        let role = record.role
        record.intent = nil
        record.role = .deleted
        record.deletedAt = clock.now()
        try await journal(
            keys: [record],
            events: [
                event(
                    .keyDeleted,
                    rotationId: rotationId,
                    keyId: record.keyId,
                    actor: actor,
                    reason: reason,
                    detail: detail.merging(["role": role.rawValue]) { _, role in role }
                )
            ]
        )
    }

    /// Makes room at the key limit: disable if enabled (where the cloud can), then delete, journaled as `key.retired` with why the key
    /// could go (it served no one, the operator consented, or an emergency).
    func retire(_ retirement: Safety.Retirement, rotation: RotationRecord, reason: String) async throws {
        let key = retirement.key
        var record = try await announce(key.id, intent: .retire, rotationId: nil)
        if key.status == .enabled, canDisable {
            try await provider.setStatus(of: key.id, to: .disabled)
        }
        try await provider.deleteKey(key.id)
        try await failPoints.hit("after:retire")
        let role = record.role
        record.intent = nil
        record.role = .retired
        record.status = .disabled
        record.deletedAt = clock.now()
        var detail = [
            "wasStatus": key.status.rawValue, "role": role.rawValue, "created": HistoryTime.format(key.createdAt),
            "expires": HistoryTime.format(key.expiresAt), "standing": retirement.why,
        ]
        if retirement.consented { detail["consent"] = "true" }
        if retirement.syncGap { detail["syncGap"] = "true" }
        try await journal(
            keys: [record],
            events: [
                event(
                    .keyRetired,
                    rotation: rotation,
                    keyId: key.id,
                    actor: retirement.consented ? .manual : nil,
                    reason: reason,
                    detail: detail
                )
            ]
        )
    }

    /// A key this tool created that provably reached no sink (its secret lost, or it failed verification) can never
    /// be handed to anyone: disable (where the cloud can) and delete it, journaled as `key.abandoned`. Returns false
    /// when the cloud refuses because it is the zone's last key (``ProviderTraits/protectsLastKey``): the key stays,
    /// its `abandon` intent journaled, and is abandoned once another key exists.
    @discardableResult
    func abandon(_ keyId: String, rotation: RotationRecord?, reason: String) async throws -> Bool {
        guard traits.canDelete else {
            // Only a person can delete it, in the console: it stays listed (and counted) until they say so. The tool
            // hands it to no one from here.
            try await askDeletion(
                [keyId],
                reason: reason,
                actor: rotation?.actor ?? .scheduler,
                rotationId: rotation?.id
            )
            return true
        }
        var record = try await announce(keyId, intent: .abandon, rotationId: rotation?.id, roleIfNew: .pending)
        do {
            if canDisable { try await provider.setStatus(of: keyId, to: .disabled) }
        } catch let error as ProviderError where error.kind == .keyNotFound {
            // Already gone: deleting below is a no-op too.
        }
        do {
            try await provider.deleteKey(keyId)
        } catch let error as ProviderError where error.kind == .lastKeyProtected {
            logger.warning(
                "the zone's last key cannot be deleted; it stays until another key exists",
                metadata: ["key": "\(keyId)", "reason": "\(reason)", "code": "\(error.code ?? "")"]
            )
            return false
        }
        try await failPoints.hit("after:abandon")
        record.intent = nil
        record.role = .abandoned
        record.status = .disabled
        record.deletedAt = clock.now()
        try await journal(
            keys: [record],
            events: [
                event(
                    .keyAbandoned,
                    rotation: rotation,
                    rotationId: record.rotationId,
                    keyId: keyId,
                    reason: reason
                )
            ]
        )
        return true
    }

    /// Whether the cloud can disable a key (``ProviderTraits/canDisable``): without it, keys are only deleted.
    var canDisable: Bool { provider.kind.traits.canDisable }

    /// Clears an intent whose side effect never happened and is no longer wanted.
    func withdraw(_ record: KeyRecord, reason: String) async throws {
        var record = record
        logger.info(
            "withdrawing an announced \(record.intent?.rawValue ?? "step")",
            metadata: ["key": "\(record.keyId)", "reason": "\(reason)"]
        )
        record.intent = nil
        record.intentAt = nil
        try await journal(keys: [record])
    }

    /// Re-runs side effects a crash interrupted; each is idempotent.
    func finishIntents(_ keyIds: [String], input: PlanInput) async throws {
        let observed = Dictionary(input.observed.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let reason = "finished after an interruption"
        for record in input.keys where keyIds.contains(record.keyId) {
            guard let intent = record.intent else { continue }
            var rotation: RotationRecord?
            if let rotationId = record.rotationId { rotation = try await store.rotation(id: rotationId) }
            switch intent {
            case .disable:
                try await disable([record.keyId], reason: reason, actor: .scheduler, rotationId: record.rotationId)
            case .delete:
                try await delete([record.keyId], reason: reason, actor: .scheduler, rotationId: record.rotationId)
            case .retire:
                guard let key = observed[record.keyId] else {
                    try await abandon(record.keyId, rotation: rotation, reason: reason)
                    continue
                }
                if key.status == .enabled {
                    // The rotation that wanted the room has ended: nothing was done to the key, so nothing is.
                    try await withdraw(record, reason: "its rotation ended before the key was retired")
                    continue
                }
                // Half retired (disabled, not deleted): it serves no one now; finish.
                let announcer = try await store.activeRotation(policy: policy.name) ?? rotation
                guard let announcer else {
                    try await abandon(record.keyId, rotation: rotation, reason: reason)
                    continue
                }
                let consented = announcer.consentedRetire?.contains(record.keyId) ?? false
                let retirement = Safety.Retirement(key: key, why: "disabled", consented: consented, syncGap: false)
                try await retire(retirement, rotation: announcer, reason: reason)
            case .abandon:
                try await abandon(record.keyId, rotation: rotation, reason: reason)
            }
        }
    }

    /// Reconciles the journal with the zone's keys as listed, records a current key that stopped working, and
    /// gathers everything the planner looks at.
    func observe(_ observed: [SCIMKey], request: RotationRequest?) async throws -> PlanInput {
        let now = clock.now()
        let active = try await store.activeRotation(policy: policy.name)
        var records = try await store.keys(policy: policy.name)
        let sync = KeyReconciler.reconcile(
            policy: policy,
            observed: observed,
            records: records,
            active: active,
            now: now
        )
        if !sync.isEmpty {
            try await journal(sync)
            records = try await store.keys(policy: policy.name)
        }
        let input = Self.planInput(
            policy: policy,
            observed: observed,
            keys: records,
            sinkRecords: try await store.sinks(policy: policy.name),
            configuredSinks: sinks.map(\.identity),
            readableSinks: sinks.filter { $0 is any ReadableSink }.map(\.identity),
            active: active,
            state: try await store.policyState(policy: policy.name),
            now: now,
            request: request
        )
        if let problem = input.currentProblem, let current = input.currentRecord {
            try await reportUnusable(current.keyId, problem)
        }
        return input
    }

    /// What the planner looks at, from what the journal holds (pure: `plan` and `status` use it too).
    public static func planInput(
        policy: Policy,
        observed: [SCIMKey],
        keys: [KeyRecord],
        sinkRecords: [SinkRecord],
        configuredSinks: [String],
        readableSinks: [String] = [],
        active: RotationRecord?,
        state: PolicyState,
        now: Date,
        request: RotationRequest? = nil,
        syncStatus: SyncStatus? = nil
    ) -> PlanInput {
        PlanInput(
            policy: policy,
            observed: observed,
            keys: keys,
            activeRotation: active,
            state: state,
            now: now,
            request: request,
            syncStatus: syncStatus,
            holdings: Safety.Holdings(records: sinkRecords, configured: configuredSinks, readable: readableSinks)
        )
    }
}
