import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The new key proven against SCIM, then handed to every sink, each attempt journaled before and after.
extension PolicyRunner {
    // MARK: created → verified

    /// An authenticated SCIM request with the new key. A key that fails is never handed to anyone: abandoned.
    func verify(_ run: inout RotationRun) async throws -> RotationOutcome? {
        guard let keyId = run.rotation.newKeyId else { return try await restart(&run, "no key was recorded") }
        guard let secret = run.secret else {
            let gone = try await abandon(
                keyId,
                rotation: run.rotation,
                reason: "the process stopped before verifying it; the secret is gone and no sink has it"
            )
            if gone { run.zone.removeAll { $0.id == keyId } }
            return try await restart(&run, "interrupted at \(run.rotation.state.rawValue)")
        }
        let scimURL = policy.verify.scimURL ?? provider.scimBaseURL
        let attempts: Int
        do {
            attempts = try await verifier.verify(secret, scimBaseURL: scimURL)
        } catch let crash as SimulatedCrash {
            throw crash
        } catch {
            var message = "verify: \("\(error)".redacting([secret]))"
            if await syncKnownDisabled() {
                message +=
                    "; SCIM synchronization is disabled in this zone, so its SCIM endpoint refuses every key: "
                    + "enable it (scim-rotator sync enable \(policy.name))"
            }
            let gone = try await abandon(
                keyId,
                rotation: run.rotation,
                reason: "failed verification; never handed to anyone"
            )
            if gone {
                run.zone.removeAll { $0.id == keyId }
            } else {
                message +=
                    "; \(keyId) was handed to no one, but it is the zone's only key and "
                    + "\(provider.kind.traits.serviceName) refuses to delete a zone's last key: it stays, to be deleted "
                    + "once another key exists"
            }
            secrets.forget(rotation: run.rotation.id)
            try await end(&run.rotation, as: .failed, .rotationFailed, message)
            return .failed(message)
        }
        run.rotation.state = .verified
        run.rotation.updatedAt = clock.now()
        try await journal(
            run.rotation,
            events: [
                event(
                    .keyVerified,
                    rotation: run.rotation,
                    keyId: keyId,
                    reason: nil,
                    detail: ["url": scimURL.absoluteString, "attempts": "\(attempts)"]
                )
            ]
        )
        try await failPoints.hit("after:verify")
        return nil
    }

    // MARK: verified → delivering → delivered | awaitingConfirmation

    /// Every sink, readable ones first, each journaled before (an attempt: a consumer may hold the key from here)
    /// and after (it holds it, or the failure). Sinks that already hold the key are skipped, so a resumed or retried
    /// delivery hands the *same* key to the rest.
    func deliver(_ run: inout RotationRun) async throws -> RotationOutcome? {
        guard let keyId = run.rotation.newKeyId, let key = run.zone.first(where: { $0.id == keyId }) else {
            return try await restart(
                &run,
                "the new key \(run.rotation.newKeyId ?? "?") is gone from the zone (deleted outside this tool)"
            )
        }
        let context = deliveryContext(key)
        for sink in sinks {
            if try await sinkRecord(for: sink).keyId == keyId { continue }
            guard let secret = try await obtainSecret(&run, context: context) else {
                return try await unrecoverable(&run)
            }
            // Read again: recovering the secret from this very sink proved that it holds the key.
            var record = try await sinkRecord(for: sink)
            if record.keyId == keyId { continue }
            // An earlier attempt whose outcome is unknown may have reached the consumer: if this one fails, that
            // proves nothing about the earlier one, and the sink still may hold the key.
            let mayAlreadyHold = record.attemptKeyId == keyId
            record.beginAttempt(keyId, at: clock.now())
            run.rotation.state = .delivering
            run.rotation.updatedAt = clock.now()
            try await journal(run.rotation, sinks: [record])
            try await failPoints.hit("before:sink")
            let receipt: DeliveryReceipt
            do {
                receipt = try await sink.deliver(secret, context: context)
            } catch let crash as SimulatedCrash {
                throw crash
            } catch {
                let message = "\(error)".redacting([secret])
                if !mayAlreadyHold {
                    record.attemptKeyId = nil
                    record.attemptAt = nil
                }
                record.lastError = message
                let holders = try await holdings().holders(of: keyId)
                let kept =
                    holders.isEmpty
                    ? "no sink holds the key yet" : "\(holders.joined(separator: ", ")) already hold(s) it"
                let failure =
                    "deliver: \(message); \(kept): the same key \(keyId) is delivered again after the back-off, and "
                    + "the current key stays enabled meanwhile"
                return try await retryLater(&run, failure, sinks: [record])
            }
            try await failPoints.hit("after:sink")
            record.holds(keyId, rotationId: run.rotation.id, at: clock.now())
            if let instructions = receipt.awaitingConfirmation {
                run.rotation.waitingFor = [run.rotation.waitingFor, instructions].compactMap { $0 }.joined(
                    separator: " "
                )
            }
            run.rotation.lastError = nil
            run.rotation.updatedAt = clock.now()
            try await journal(
                run.rotation,
                sinks: [record],
                events: [
                    event(
                        .keyDelivered,
                        rotation: run.rotation,
                        keyId: keyId,
                        reason: receipt.awaitingConfirmation,
                        detail: receipt.detail.merging(["sink": sink.summary]) { _, sink in sink }
                    )
                ]
            )
        }
        try await failPoints.hit("after:deliver")
        if let waitingFor = run.rotation.waitingFor, run.rotation.confirmedAt == nil {
            // A person must act: every sink has the key, which is not promoted until they confirm.
            run.rotation.state = .awaitingConfirmation
            run.rotation.updatedAt = clock.now()
            try await journal(
                run.rotation,
                events: [event(.rotationWaiting, rotation: run.rotation, keyId: keyId, reason: waitingFor)]
            )
            return .waiting(waitingFor)
        }
        run.rotation.state = .delivered
        run.rotation.updatedAt = clock.now()
        try await journal(run.rotation)
        try await failPoints.hit("after:delivered")
        return nil
    }

    func deliveryContext(_ key: SCIMKey) -> DeliveryContext {
        DeliveryContext(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            keyId: key.id,
            createdAt: key.createdAt,
            expiresAt: key.expiresAt,
            scimURL: policy.verify.scimURL ?? provider.scimBaseURL
        )
    }

    /// The new key's secret: from this process (it created the key, or read it back before), else from a readable
    /// sink that may hold it, checked against the journaled fingerprint. A readable sink whose delivery was
    /// interrupted and that holds something else provably did not get the key: its attempt is cleared.
    func obtainSecret(_ run: inout RotationRun, context: DeliveryContext) async throws -> Secret? {
        if let secret = run.secret { return secret }
        guard let keyId = run.rotation.newKeyId, let fingerprint = run.rotation.newKeyFingerprint else { return nil }
        let holdings = try await holdings()
        let fingerprintKey = try await store.fingerprintKey()
        for case let sink as any ReadableSink in sinks where holdings.holders(of: keyId).contains(sink.identity) {
            let stored: Secret?
            do {
                stored = try await sink.read(context: context)
            } catch let crash as SimulatedCrash {
                throw crash
            } catch {
                logger.warning(
                    "cannot read the new key back",
                    metadata: ["sink": "\(sink.summary)", "error": "\(error)"]
                )
                continue
            }
            guard let stored, stored.fingerprint(key: fingerprintKey) == fingerprint else {
                if var record = holdings.sinks[sink.identity], record.attemptKeyId == keyId {
                    record.attemptKeyId = nil
                    record.attemptAt = nil
                    try await journal(
                        sinks: [record],
                        events: [
                            event(
                                .rotationResumed,
                                rotation: run.rotation,
                                keyId: keyId,
                                reason: "\(sink.summary) was being written when the process stopped, and it does not "
                                    + "hold the new key: it provably did not get it"
                            )
                        ]
                    )
                }
                continue
            }
            run.secret = stored
            secrets.store(stored, rotation: run.rotation.id)
            // The sink holds the key (read back, fingerprint matching), whatever its last attempt recorded.
            var holder = holdings.sinks[sink.identity] ?? SinkRecord(policy: policy.name, sink: sink.identity)
            holder.holds(keyId, rotationId: run.rotation.id, at: clock.now())
            try await journal(
                sinks: [holder],
                events: [
                    event(
                        .rotationResumed,
                        rotation: run.rotation,
                        keyId: keyId,
                        reason: "recovered the new key's secret from \(sink.summary) (its fingerprint matches); "
                            + "the remaining sinks get the same key",
                        detail: ["recoveredFrom": sink.summary]
                    )
                ]
            )
            return stored
        }
        return nil
    }

    /// The new key's secret is gone. No consumer may hold the key: abandon it and start over. Some may: block
    /// (partial delivery), both keys stay enabled, and a person decides.
    func unrecoverable(_ run: inout RotationRun) async throws -> RotationOutcome? {
        guard let keyId = run.rotation.newKeyId else { return try await restart(&run, "no key was recorded") }
        let holdings = try await holdings()
        let holders = holdings.holders(of: keyId)
        if holders.isEmpty {
            let gone = try await abandon(
                keyId,
                rotation: run.rotation,
                reason:
                    "the secret is gone (the process stopped at \(run.rotation.state.rawValue)) and no sink holds the key"
            )
            if gone { run.zone.removeAll { $0.id == keyId } }
            return try await restart(&run, "interrupted at \(run.rotation.state.rawValue)")
        }
        let others = sinks.map(\.identity).filter { !holders.contains($0) }
        let current = run.rotation.oldKeyId ?? "the current key"
        return try await block(
            &run,
            "partial delivery: \(holders.joined(separator: ", ")) may hold the new key \(keyId), but its secret "
                + "cannot be recovered (no readable sink holds it) to finish \(others.joined(separator: ", ")), which "
                + "still use \(current). Both keys stay enabled. Decide: `scim-rotator rotate \(policy.name) --retire "
                + "\(keyId)` (those sinks get the next key) or `--emergency`"
        )
    }
}
