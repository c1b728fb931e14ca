import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// How a rotation ended.
enum RotationOutcome: Sendable {
    /// With the zone's keys as they now are, when known without listing them again.
    case completed([SCIMKey]?)
    case failed(String)
    case blocked(String)
    /// A shutdown was requested before the key was created; the rotation resumes on the next start.
    case interrupted
    /// A fail point simulated a crash: nothing was cleaned up.
    case crashed(String)
    /// Delivered to a person; promotion waits for `scim-rotator confirm`.
    case waiting(String)
}

/// The rotation protocol: create → verify → deliver → promote, then (after the grace period, by the planner)
/// disable and delete. Every state is journaled before the side effect of the next step.
extension PolicyRunner {
    /// Resumed rotations that crash this many times are given up.
    static let maxAttempts = 5

    func start(
        trigger: RotationTrigger,
        reason: String,
        deleteOld: Bool,
        input: PlanInput
    ) async throws -> RotationRecord {
        let current = input.keys.first { $0.role == .current }
        let rotation = RotationRecord(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            trigger: trigger,
            reason: reason,
            oldKeyId: current?.keyId,
            deleteOld: deleteOld,
            now: clock.now()
        )
        try await commit(
            JournalWrite(
                rotation: rotation,
                events: [
                    event(
                        .rotationStarted,
                        rotationId: rotation.id,
                        keyId: current?.keyId,
                        actor: rotation.actor,
                        reason: reason,
                        detail: deleteOld ? ["deleteOld": "true"] : [:]
                    )
                ]
            )
        )
        return rotation
    }

    /// Continues a rotation that a crash interrupted.
    func drive(resuming rotation: RotationRecord, input: PlanInput) async -> RotationOutcome {
        var rotation = rotation
        do {
            switch rotation.state {
            case .awaitingConfirmation where rotation.confirmedAt == nil:
                return .waiting(rotation.waitingFor ?? "waiting for confirmation")
            case .delivered, .promoted, .awaitingConfirmation:
                guard let newKeyId = rotation.newKeyId, input.observed.contains(where: { $0.id == newKeyId }) else {
                    return try await fail(
                        &rotation,
                        "the delivered key \(rotation.newKeyId ?? "?") is gone from the zone; starting over on the next attempt"
                    )
                }
                try await commit(
                    JournalWrite(events: [
                        event(
                            .rotationResumed,
                            rotationId: rotation.id,
                            keyId: newKeyId,
                            actor: rotation.actor,
                            reason:
                                "resuming at \(rotation.state == .delivered ? "promote" : "completion"): every sink already has the key"
                        )
                    ])
                )
                if rotation.state == .promoted { return try await complete(&rotation, zone: nil) }
                return try await promoteAndComplete(&rotation, zone: nil)
            case .started, .creating, .created, .verified, .delivering:
                if rotation.attempts >= Self.maxAttempts {
                    return try await fail(
                        &rotation,
                        "interrupted \(rotation.attempts) times; giving up this rotation (a new one starts on the next attempt)"
                    )
                }
                // The new key's secret lived only in the process that died: abandon the key, start over.
                if let keyId = rotation.newKeyId, input.observed.contains(where: { $0.id == keyId }) {
                    try await abandon(
                        keyId,
                        rotation: rotation,
                        reason:
                            "the process stopped at \(rotation.state.rawValue); the secret is gone, so the key can never be delivered"
                    )
                } else if rotation.state == .creating {
                    for orphan in orphans(of: rotation, input: input) {
                        try await abandon(
                            orphan.id,
                            rotation: rotation,
                            reason:
                                "created by a CreateSCIMCredential whose reply was lost in a crash; the secret is gone"
                        )
                    }
                }
                let from = rotation.state
                rotation.state = .started
                rotation.newKeyId = nil
                rotation.newKeyFingerprint = nil
                rotation.attempts += 1
                rotation.updatedAt = clock.now()
                try await commit(
                    JournalWrite(
                        rotation: rotation,
                        events: [
                            event(
                                .rotationResumed,
                                rotationId: rotation.id,
                                actor: rotation.actor,
                                reason: "interrupted at \(from.rawValue); starting over (attempt \(rotation.attempts))"
                            )
                        ]
                    )
                )
                let fresh = try await provider.listKeys()
                var refreshed = input
                refreshed.observed = fresh
                refreshed.keys = try store.keys(policy: policy.name)
                return await drive(rotation, input: refreshed)
            case .completed, .failed, .blocked:
                return .completed(nil)
            }
        } catch let crash as SimulatedCrash {
            return .crashed(crash.point)
        } catch {
            return await (try? fail(&rotation, describe(error))) ?? .failed(describe(error))
        }
    }

    /// Keys that appeared in the zone while a crashed Create was in flight.
    func orphans(of rotation: RotationRecord, input: PlanInput) -> [SCIMKey] {
        let records = Dictionary(input.keys.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        let since = rotation.updatedAt.addingTimeInterval(-300)
        return input.observed.filter { key in
            guard let record = records[key.id] else { return true }
            return record.role == .other && key.createdAt >= since
        }
    }

    /// Runs a rotation from `started` to the end.
    func drive(_ rotation: RotationRecord, input: PlanInput) async -> RotationOutcome {
        var rotation = rotation
        var secret: Secret?
        do {
            if shutdown.isRequested { return .interrupted }
            let emergency = rotation.trigger == .emergency
            // 1. Room at the key limit.
            var observed = input.observed
            if let blocked = try await makeRoom(&observed, rotation: rotation, input: input, emergency: emergency) {
                return try await block(&rotation, blocked)
            }
            // 2. Create (intent first: a crash from here on is resumed by abandoning what was created).
            rotation.state = .creating
            rotation.updatedAt = clock.now()
            try await commit(JournalWrite(rotation: rotation))
            try await failPoints.hit("before:create")
            let created = try await createKey(&rotation, observed: observed, input: input)
            guard let created else { return .blocked(rotation.lastError ?? "blocked") }
            secret = created.secret
            try await failPoints.hit("after:create")
            let fingerprint = created.secret.fingerprint(key: try store.fingerprintKey())
            var record = KeyRecord(policy: policy.name, keyId: created.key.id, role: .pending, firstSeen: clock.now())
            record.observe(created.key, at: clock.now())
            record.fingerprint = fingerprint
            record.rotationId = rotation.id
            rotation.state = .created
            rotation.newKeyId = created.key.id
            rotation.newKeyFingerprint = fingerprint
            rotation.updatedAt = clock.now()
            try await commit(
                JournalWrite(
                    rotation: rotation,
                    keys: [record],
                    events: [
                        event(
                            .keyCreated,
                            rotationId: rotation.id,
                            keyId: created.key.id,
                            actor: rotation.actor,
                            reason: nil,
                            requestId: created.requestId,
                            detail: ["fingerprint": fingerprint, "expires": HistoryTime.format(created.key.expiresAt)]
                        )
                    ]
                )
            )
            try await failPoints.hit("after:created")

            // 3. Verify: an authenticated SCIM request with the new key.
            let scimURL = policy.verify.scimURL ?? provider.scimBaseURL
            do {
                let attempts = try await verifier.verify(created.secret, scimBaseURL: scimURL)
                rotation.state = .verified
                rotation.updatedAt = clock.now()
                try await commit(
                    JournalWrite(
                        rotation: rotation,
                        events: [
                            event(
                                .keyVerified,
                                rotationId: rotation.id,
                                keyId: created.key.id,
                                actor: rotation.actor,
                                reason: nil,
                                detail: ["url": scimURL.absoluteString, "attempts": "\(attempts)"]
                            )
                        ]
                    )
                )
            } catch let crash as SimulatedCrash {
                throw crash
            } catch {
                try await abandon(
                    created.key.id,
                    rotation: rotation,
                    reason: "failed verification; never handed to anyone"
                )
                return try await fail(&rotation, "verify: \(describe(error))")
            }

            try await failPoints.hit("after:verify")

            // 4. Deliver to every sink, in order. (Journaled as `verified` meanwhile: a crash during delivery is
            // recovered exactly as one after verification, by abandoning the key.)
            let context = DeliveryContext(
                policy: policy.name,
                provider: policy.provider,
                zone: policy.zone,
                keyId: created.key.id,
                createdAt: created.key.createdAt,
                expiresAt: created.key.expiresAt,
                scimURL: scimURL
            )
            var waitingFor: [String] = []
            for sink in sinks {
                let receipt: DeliveryReceipt
                do {
                    receipt = try await sink.deliver(created.secret, context: context)
                } catch {
                    let message = describe(error).redacting([created.secret])
                    try await abandon(
                        created.key.id,
                        rotation: rotation,
                        reason: "delivery to \(sink.summary) failed; the old key stays current"
                    )
                    return try await fail(&rotation, "deliver: \(message)")
                }
                try await commit(
                    JournalWrite(events: [
                        event(
                            .keyDelivered,
                            rotationId: rotation.id,
                            keyId: created.key.id,
                            actor: rotation.actor,
                            reason: receipt.awaitingConfirmation,
                            detail: receipt.detail.merging(["sink": sink.summary]) { _, sink in sink }
                        )
                    ])
                )
                if let instructions = receipt.awaitingConfirmation { waitingFor.append(instructions) }
            }
            try await failPoints.hit("after:deliver")
            if !waitingFor.isEmpty {
                // A person must act: the key is delivered (so a crash no longer abandons it), not yet promoted.
                rotation.state = .awaitingConfirmation
                rotation.waitingFor = waitingFor.joined(separator: " ")
                rotation.updatedAt = clock.now()
                try await commit(
                    JournalWrite(
                        rotation: rotation,
                        events: [
                            event(
                                .rotationWaiting,
                                rotationId: rotation.id,
                                keyId: created.key.id,
                                actor: rotation.actor,
                                reason: rotation.waitingFor
                            )
                        ]
                    )
                )
                return .waiting(rotation.waitingFor ?? "")
            }
            rotation.state = .delivered
            rotation.updatedAt = clock.now()
            try await commit(JournalWrite(rotation: rotation))
            secret = nil
            try await failPoints.hit("after:delivered")

            // 5. Promote; 6. complete (and, in an emergency, disable the others now).
            return try await promoteAndComplete(&rotation, zone: observed + [created.key])
        } catch let crash as SimulatedCrash {
            return .crashed(crash.point)
        } catch {
            let message = describe(error).redacting(secret.map { [$0] } ?? [])
            if secret != nil, let keyId = rotation.newKeyId,
                ![.delivered, .promoted, .awaitingConfirmation].contains(rotation.state)
            {
                try? await abandon(
                    keyId,
                    rotation: rotation,
                    reason: "the rotation failed before delivery finished; the secret is gone"
                )
            }
            return await (try? fail(&rotation, message)) ?? .failed(message)
        }
    }

    /// Retires keys until one more fits. Returns a reason when no key is safe to retire.
    func makeRoom(
        _ observed: inout [SCIMKey],
        rotation: RotationRecord,
        input: PlanInput,
        emergency: Bool
    ) async throws -> String? {
        let limit = policy.keyLimit
        let currentId = input.keys.first { $0.role == .current }?.keyId
        let now = clock.now()
        while observed.count >= limit {
            let candidates = observed.filter { $0.id != currentId }.sorted { a, b in
                // Prefer disabled, then expired, then the oldest.
                let rank = { (k: SCIMKey) in k.status == .disabled ? 0 : (k.isExpired(at: now) ? 1 : 2) }
                return (rank(a), a.createdAt) < (rank(b), b.createdAt)
            }
            if let victim = candidates.first {
                try await retire(
                    victim,
                    rotation: rotation,
                    reason:
                        "the zone holds \(observed.count) of \(limit) keys; retiring the oldest key that is safe to retire"
                )
                observed.removeAll { $0.id == victim.id }
            } else if emergency, let compromised = observed.first(where: { $0.id == currentId }) {
                try await retire(
                    compromised,
                    rotation: rotation,
                    reason:
                        "emergency at the key limit: retiring the compromised current key first; provisioning pauses until the new key is delivered",
                    detail: ["syncGap": "true"]
                )
                observed.removeAll { $0.id == compromised.id }
            } else {
                let names = observed.map {
                    "\($0.id) (\($0.status.rawValue), expires \(HistoryTime.format($0.expiresAt)))"
                }.joined(separator: ", ")
                return
                    "the zone holds \(observed.count) of \(limit) keys and none is safe to retire: \(names). The current key is never retired; delete a key you know is unused, or rotate with --emergency"
            }
        }
        return nil
    }

    /// CreateSCIMCredential, with the two recoveries the protocol allows once each: a racing console key at the limit
    /// (list, retire one more, retry) and a lost reply (abandon the key it created, retry).
    func createKey(_ rotation: inout RotationRecord, observed: [SCIMKey], input: PlanInput) async throws -> CreatedKey?
    {
        let lifetime = provider.supportsKeyLifetime ? policy.effectiveKeyLifetime : nil
        var retriedLimit = false
        var retriedLost = false
        // The keys just observed (minus what was retired) spare the lost-reply check a List; after a recovery the
        // zone has changed, so it lists again.
        var known: [SCIMKey]? = observed
        while true {
            do {
                return try await provider.createKey(lifetime: lifetime, knownKeys: known)
            } catch let error as ProviderError where error.kind == .limitExceeded && !retriedLimit {
                retriedLimit = true
                known = nil
                var fresh = try await provider.listKeys()
                let sync = JournalSync.reconcile(
                    policy: policy,
                    observed: fresh,
                    records: try store.keys(policy: policy.name),
                    now: clock.now()
                )
                if !sync.keys.isEmpty || !sync.events.isEmpty { try await commit(sync) }
                var refreshed = input
                refreshed.keys = try store.keys(policy: policy.name)
                if fresh.count < policy.keyLimit {
                    // The cloud counts differently from the list (or a key was deleted meanwhile): make room for one.
                    if let oldest = fresh.filter({ $0.id != refreshed.keys.first { $0.role == .current }?.keyId }).min(
                        by: { $0.createdAt < $1.createdAt })
                    {
                        try await retire(
                            oldest,
                            rotation: rotation,
                            reason: "CreateSCIMCredential answered LimitExceeded; retiring one more key"
                        )
                    }
                } else if let reason = try await makeRoom(
                    &fresh,
                    rotation: rotation,
                    input: refreshed,
                    emergency: rotation.trigger == .emergency
                ) {
                    _ = try await block(&rotation, "LimitExceeded: \(reason)")
                    return nil
                }
            } catch let error as ProviderError where error.kind == .limitExceeded {
                _ = try await block(
                    &rotation,
                    "CreateSCIMCredential still answers LimitExceeded after retiring a key (\(error.code ?? "")); someone keeps adding keys in the console"
                )
                return nil
            } catch let error as ProviderError where error.kind == .createdWithoutSecret && !retriedLost {
                retriedLost = true
                known = nil
                if let keyId = error.keyId {
                    try await abandon(
                        keyId,
                        rotation: rotation,
                        reason: "CreateSCIMCredential's reply was lost; the key it created has no known secret"
                    )
                }
            }
        }
    }

    /// The journal write that makes the new key current and the old one previous (not committed yet).
    func promotion(_ rotation: inout RotationRecord) throws -> JournalWrite {
        guard let newKeyId = rotation.newKeyId else { return JournalWrite() }
        let now = clock.now()
        var changes: [KeyRecord] = []
        for var record in try store.keys(policy: policy.name) {
            if record.keyId == newKeyId {
                record.role = .current
                record.promotedAt = now
                changes.append(record)
            } else if record.role == .current {
                record.role = .previous
                changes.append(record)
            }
        }
        rotation.state = .promoted
        rotation.updatedAt = now
        return JournalWrite(
            rotation: rotation,
            keys: changes,
            events: [
                event(
                    .keyPromoted,
                    rotationId: rotation.id,
                    keyId: newKeyId,
                    actor: rotation.actor,
                    reason: nil,
                    detail: rotation.oldKeyId.map { ["previous": $0] } ?? [:]
                )
            ]
        )
    }

    func promote(_ rotation: inout RotationRecord) async throws {
        try await commit(try promotion(&rotation))
        try await failPoints.hit("after:promote")
    }

    /// Promotes and completes in one commit (a normal rotation: nothing happens in between), or, in an emergency,
    /// promotes, disables the others, then completes.
    func promoteAndComplete(_ rotation: inout RotationRecord, zone: [SCIMKey]?) async throws -> RotationOutcome {
        if rotation.trigger == .emergency {
            try await promote(&rotation)
            return try await complete(&rotation, zone: zone)
        }
        let promotion = try promotion(&rotation)
        let outcome = try await complete(&rotation, zone: zone, with: promotion)
        try await failPoints.hit("after:promote")
        return outcome
    }

    /// `zone`: the keys the zone holds after this rotation, if known (saves the next List).
    func complete(
        _ rotation: inout RotationRecord,
        zone: [SCIMKey]?,
        with promotion: JournalWrite? = nil
    )
        async throws -> RotationOutcome
    {
        var zone = zone
        if rotation.trigger == .emergency {
            let others = try await provider.listKeys().filter { $0.id != rotation.newKeyId }
            let enabled = others.filter { $0.status == .enabled }.map(\.id)
            try await disable(
                enabled,
                reason: "emergency: the previous key is presumed leaked; no grace period",
                actor: .emergency,
                rotationId: rotation.id
            )
            zone = nil  // statuses changed: list again
            if rotation.deleteOld {
                try await delete(
                    others.map(\.id),
                    reason: "emergency --delete-old",
                    actor: .emergency,
                    rotationId: rotation.id
                )
            }
        }
        let now = clock.now()
        rotation.state = .completed
        rotation.updatedAt = now
        rotation.finishedAt = now
        RotatorMetrics.rotation(policy: policy.name, trigger: rotation.trigger, outcome: "completed")
        var state = try store.policyState(policy: policy.name)
        state.failures = 0
        state.stuck = false
        state.blocked = false
        state.nextAttemptAt = nil
        state.lastError = nil
        state.lastSuccessAt = now
        try await commit(
            JournalWrite(
                rotation: rotation,
                keys: promotion?.keys ?? [],
                policyState: state,
                events: (promotion?.events ?? []) + [
                    event(
                        .rotationCompleted,
                        rotationId: rotation.id,
                        keyId: rotation.newKeyId,
                        actor: rotation.actor,
                        reason: rotation.reason,
                        detail: ["attempts": "\(rotation.attempts)"]
                    )
                ]
            )
        )
        return .completed(zone)
    }

    func fail(_ rotation: inout RotationRecord, _ message: String) async throws -> RotationOutcome {
        try await end(&rotation, as: .failed, .rotationFailed, message, keyId: rotation.newKeyId)
        return .failed(message)
    }

    func block(_ rotation: inout RotationRecord, _ message: String) async throws -> RotationOutcome {
        try await end(&rotation, as: .blocked, .rotationBlocked, message, keyId: nil)
        return .blocked(message)
    }

    /// Ends a rotation that did not complete: its state, the reason, the metric, and the event, in one commit.
    private func end(
        _ rotation: inout RotationRecord,
        as state: RotationState,
        _ kind: EventKind,
        _ message: String,
        keyId: String?
    ) async throws {
        let now = clock.now()
        rotation.state = state
        rotation.lastError = message
        RotatorMetrics.rotation(policy: policy.name, trigger: rotation.trigger, outcome: state.rawValue)
        rotation.updatedAt = now
        rotation.finishedAt = now
        try await commit(
            JournalWrite(
                rotation: rotation,
                events: [event(kind, rotationId: rotation.id, keyId: keyId, actor: rotation.actor, reason: message)]
            )
        )
    }
}
