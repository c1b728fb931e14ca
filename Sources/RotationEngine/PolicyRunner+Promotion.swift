import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The delivered key made current, and the rotation completed.
extension PolicyRunner {
    // MARK: delivered → promoted → completed

    /// The new key becomes current and the old one previous. A normal rotation promotes and completes in one commit;
    /// an emergency promotes, disables every other key at once, then completes.
    func promote(_ run: inout RotationRun) async throws -> RotationOutcome? {
        let promotion = try await self.promotion(&run.rotation)
        if run.rotation.trigger == .emergency {
            try await journal(promotion)
            try await failPoints.hit("after:promote")
            return try await complete(&run, promotion: nil)
        }
        let outcome = try await complete(&run, promotion: promotion)
        try await failPoints.hit("after:promote")
        return outcome
    }

    /// The journal write that makes the new key current and the old one previous (not committed yet).
    func promotion(_ rotation: inout RotationRecord) async throws -> JournalWrite {
        guard let newKeyId = rotation.newKeyId else { return JournalWrite() }
        let now = clock.now()
        var changes: [KeyRecord] = []
        for var record in try await store.keys(policy: policy.name) {
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
                    rotation: rotation,
                    keyId: newKeyId,
                    reason: nil,
                    detail: rotation.oldKeyId.map { ["previous": $0] } ?? [:]
                )
            ]
        )
    }

    /// Completes the rotation (after an emergency's disabling), clearing failures and the current key's problem.
    func complete(_ run: inout RotationRun, promotion: JournalWrite?) async throws -> RotationOutcome {
        if run.rotation.trigger == .emergency, !canDisable {
            // No disabled state: the presumed-leaked keys are deleted at once (the new key stays, so never the last).
            let others = run.zone.filter { $0.id != run.rotation.newKeyId }
            let deleted = try await delete(
                others.map(\.id),
                reason: "emergency: the previous key is presumed leaked; no grace period, and "
                    + "\(provider.kind.traits.serviceName) cannot disable a key, so it is deleted",
                actor: .emergency,
                rotationId: run.rotation.id
            )
            run.zone.removeAll { deleted.contains($0.id) }
        } else if run.rotation.trigger == .emergency {
            let others = run.zone.filter { $0.id != run.rotation.newKeyId }
            try await disable(
                others.filter { $0.status == .enabled }.map(\.id),
                reason: "emergency: the previous key is presumed leaked; no grace period",
                actor: .emergency,
                rotationId: run.rotation.id
            )
            for index in run.zone.indices where run.zone[index].id != run.rotation.newKeyId {
                run.zone[index].status = .disabled
            }
            if run.rotation.deleteOld {
                let deleted = try await delete(
                    others.map(\.id),
                    reason: "emergency --delete-old",
                    actor: .emergency,
                    rotationId: run.rotation.id
                )
                run.zone.removeAll { deleted.contains($0.id) }
            }
        }
        let now = clock.now()
        run.rotation.state = .completed
        run.rotation.updatedAt = now
        run.rotation.finishedAt = now
        run.rotation.lastError = nil
        RotatorMetrics.rotation(policy: policy.name, trigger: run.rotation.trigger, outcome: "completed")
        var state = try await store.policyState(policy: policy.name)
        state.failures = 0
        state.stuck = false
        state.blocked = false
        state.nextAttemptAt = nil
        state.lastError = nil
        state.lastSuccessAt = now
        state.currentCheckedAt = now
        state.currentProblem = nil
        state.currentProblemKeyId = nil
        try await journal(
            run.rotation,
            keys: promotion?.keys ?? [],
            state: state,
            events: (promotion?.events ?? []) + [
                event(
                    .rotationCompleted,
                    rotation: run.rotation,
                    keyId: run.rotation.newKeyId,
                    reason: run.rotation.reason,
                    detail: ["attempts": "\(run.rotation.attempts)"]
                )
            ]
        )
        secrets.forget(rotation: run.rotation.id)
        if run.rotation.waitingFor != nil { removeManualFiles() }
        return .completed(run.zone)
    }

    /// A manual delivery's file holds the live secret for the person who pastes it; once the key is promoted it has
    /// done its job and is erased.
    func removeManualFiles() {
        for case let manual as ManualSink in sinks {
            do {
                if try manual.removeFile() {
                    logger.info("removed the manual delivery's key file", metadata: ["file": "\(manual.file)"])
                }
            } catch {
                logger.warning(
                    "cannot remove the manual delivery's key file; remove it by hand",
                    metadata: ["file": "\(manual.file)", "error": "\(error)"]
                )
            }
        }
    }
}
