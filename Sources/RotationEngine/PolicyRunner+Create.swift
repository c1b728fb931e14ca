import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The rotation's first steps: room at the key limit, then CreateSCIMCredential, journaled before and after.
extension PolicyRunner {
    // MARK: started → roomMade

    /// Retires keys that serve no one (or that the operator consented to, or an emergency's) until one more key
    /// fits; blocks, naming every key in the way, when none may go. Room is made right before Create and only when a
    /// rotation goes ahead.
    func makeRoom(_ run: inout RotationRun, limit: Int? = nil) async throws -> RotationOutcome? {
        if shutdown.isRequested { return .interrupted }
        let decision = Safety.makeRoom(
            observed: run.zone,
            records: try await store.keys(policy: policy.name),
            holdings: try await holdings(),
            policy: policy,
            now: clock.now(),
            emergency: run.rotation.trigger == .emergency,
            consent: run.rotation.consentedRetire ?? [],
            limit: limit
        )
        // A retirement announced earlier (before a failure) that this decision does not repeat is withdrawn, as long
        // as nothing was done to the key yet: room is made only for the rotation that goes ahead now.
        let chosen: Set<String>
        if case .retire(let retirements) = decision { chosen = Set(retirements.map(\.key.id)) } else { chosen = [] }
        for record in try await store.keys(policy: policy.name)
        where record.intent == .retire && !chosen.contains(record.keyId) {
            if run.zone.first(where: { $0.id == record.keyId })?.status == .enabled {
                try await withdraw(record, reason: "no longer needed to make room")
            }
        }
        switch decision {
        case .blocked(let why):
            return try await block(&run, why)
        case .retire(let retirements):
            for retirement in retirements {
                let reason =
                    retirement.consented
                    ? "the operator consented to retiring it (rotate --retire)"
                    : retirement.syncGap
                        ? "emergency at the key limit: provisioning with this key stops until the new key is delivered"
                        : "the zone is at its limit of \(policy.keyLimit) keys; this key serves no one (\(retirement.why))"
                try await retire(retirement, rotation: run.rotation, reason: reason)
                run.zone.removeAll { $0.id == retirement.key.id }
            }
        case .enough:
            break
        }
        run.rotation.state = .roomMade
        return nil
    }

    // MARK: roomMade → creating → created

    /// CreateSCIMCredential, journaled as `creating` with the zone's key ids first, with the two recoveries the
    /// protocol allows once each: a racing console key at the limit (list, make room again, retry) and a lost reply
    /// (abandon the key it made, retry).
    func create(_ run: inout RotationRun) async throws -> RotationOutcome? {
        run.rotation.state = .creating
        run.rotation.keysBeforeCreate = run.zone.map(\.id)
        run.rotation.updatedAt = clock.now()
        try await journal(run.rotation)
        try await failPoints.hit("before:create")
        let lifetime = provider.supportsKeyLifetime ? policy.effectiveKeyLifetime : nil
        var retriedLimit = false
        var retriedLost = false
        var created: CreatedKey?
        while created == nil {
            do {
                created = try await provider.createKey(lifetime: lifetime, knownKeys: run.zone)
            } catch let error as ProviderError where error.kind == .limitExceeded && !retriedLimit {
                // The cloud counts more keys than the zone showed (a console user was quicker): look again.
                retriedLimit = true
                run.zone = try await provider.listKeys()
                let sync = KeyReconciler.reconcile(
                    policy: policy,
                    observed: run.zone,
                    records: try await store.keys(policy: policy.name),
                    now: clock.now()
                )
                if !sync.isEmpty { try await journal(sync) }
                run.rotation.state = .started
                if let stop = try await makeRoom(&run, limit: min(policy.keyLimit, run.zone.count)) {
                    return stop
                }
                run.rotation.state = .creating
                run.rotation.keysBeforeCreate = run.zone.map(\.id)
                try await journal(run.rotation)
            } catch let error as ProviderError where error.kind == .limitExceeded {
                return try await block(
                    &run,
                    "CreateSCIMCredential still answers LimitExceeded after making room (\(error.code ?? "")); someone keeps adding keys in the console"
                )
            } catch let error as ProviderError where error.kind == .createdWithoutSecret && !retriedLost {
                retriedLost = true
                if let keyId = error.keyId {
                    let gone = try await abandon(
                        keyId,
                        rotation: run.rotation,
                        reason: "CreateSCIMCredential's reply was lost; the key it made has no known secret and "
                            + "reached no sink"
                    )
                    if gone {
                        run.zone.removeAll { $0.id == keyId }
                    } else {
                        // Kept as the zone's last key: the zone as listed now counts it (it is no new key).
                        run.zone = try await provider.listKeys()
                    }
                } else {
                    run.zone = try await provider.listKeys()
                }
                run.rotation.keysBeforeCreate = run.zone.map(\.id)
                try await journal(run.rotation)
            }
        }
        guard let created else { return nil }
        secrets.store(created.secret, rotation: run.rotation.id)
        run.secret = created.secret
        try await failPoints.hit("after:create")
        let now = clock.now()
        let fingerprint = created.secret.fingerprint(key: try await store.fingerprintKey())
        var record = KeyRecord(policy: policy.name, keyId: created.key.id, role: .pending, firstSeen: now)
        record.observe(created.key, at: now)
        record.fingerprint = fingerprint
        record.rotationId = run.rotation.id
        run.rotation.state = .created
        run.rotation.newKeyId = created.key.id
        run.rotation.newKeyFingerprint = fingerprint
        run.rotation.updatedAt = now
        run.zone.append(created.key)
        try await journal(
            run.rotation,
            keys: [record],
            events: [
                event(
                    .keyCreated,
                    rotation: run.rotation,
                    keyId: created.key.id,
                    reason: nil,
                    requestId: created.requestId,
                    detail: ["fingerprint": fingerprint, "expires": HistoryTime.format(created.key.expiresAt)]
                )
            ]
        )
        try await failPoints.hit("after:created")
        return nil
    }

    /// Resumes a rotation interrupted during CreateSCIMCredential. The key the call made, if any, is the one key
    /// that appeared outside the zone's keys journaled before the call (the pass's reconciliation recorded it as
    /// this rotation's): its secret died with the reply and no sink has it, so it is abandoned. Then start over.
    func recoverCreate(_ run: inout RotationRun) async throws -> RotationOutcome? {
        let records = try await store.keys(policy: policy.name)
        let present = Set(run.zone.map(\.id))
        for orphan in records
        where orphan.role == .pending && orphan.rotationId == run.rotation.id && present.contains(orphan.keyId) {
            let gone = try await abandon(
                orphan.keyId,
                rotation: run.rotation,
                reason:
                    "made by the CreateSCIMCredential a crash interrupted; its secret is gone and it reached no sink"
            )
            if gone { run.zone.removeAll { $0.id == orphan.keyId } }
        }
        let unexplained = Safety.createdDuringCall(run.rotation, observed: run.zone, records: records).unexplained
        var why = "interrupted during CreateSCIMCredential"
        if !unexplained.isEmpty {
            why +=
                "; \(unexplained.map(\.id).joined(separator: ", ")) appeared meanwhile and cannot be told apart "
                + "from a console user's, so they are kept"
        }
        return try await restart(&run, why)
    }

    /// Starts the rotation over with a new key (its key was abandoned), or gives it up after ``maxAttempts``.
    func restart(_ run: inout RotationRun, _ why: String) async throws -> RotationOutcome? {
        secrets.forget(rotation: run.rotation.id)
        run.secret = nil
        if run.rotation.attempts >= Self.maxAttempts {
            try await end(
                &run.rotation,
                as: .failed,
                .rotationFailed,
                "\(why); started over \(run.rotation.attempts) times, giving this rotation up (a new one starts on "
                    + "the next attempt)"
            )
            return .failed(run.rotation.lastError ?? why)
        }
        run.rotation.state = .started
        run.rotation.newKeyId = nil
        run.rotation.newKeyFingerprint = nil
        run.rotation.keysBeforeCreate = nil
        run.rotation.lastError = nil
        run.rotation.attempts += 1
        run.rotation.updatedAt = clock.now()
        try await journal(
            run.rotation,
            events: [
                event(
                    .rotationResumed,
                    rotation: run.rotation,
                    reason: "\(why); starting over (attempt \(run.rotation.attempts))"
                )
            ]
        )
        return nil
    }
}
