import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The current key between rotations: its periodic SCIM check (`verify.current`), and a manual delivery's
/// confirmation.
extension PolicyRunner {
    /// Proves the current key against the SCIM endpoint with its secret, read from this process's cache or a
    /// readable sink that holds it (checked against the key's fingerprint). Returns true when it was found not to
    /// work: `key.unusable` is recorded and the planner decides again (a rotation replaces it).
    ///
    /// Keys this tool did not create (adopted at first contact) have no fingerprint: which secret belongs to them
    /// cannot be known, so they are not checked.
    func checkCurrentKey(_ input: PlanInput) async throws -> Bool {
        guard policy.verify.current != nil, input.currentProblem == nil,
            input.activeRotation == nil
                || [.awaitingConfirmation, .awaitingToken].contains(input.activeRotation?.state),
            let current = input.currentRecord, let fingerprint = current.fingerprint,
            let key = input.observed.first(where: { $0.id == current.keyId })
        else { return false }
        guard let secret = try await currentSecret(current, fingerprint: fingerprint, key: key) else { return false }
        let url = policy.verify.scimURL ?? provider.scimBaseURL
        var state = try await store.policyState(policy: policy.name)
        state.currentCheckedAt = clock.now()
        let status: Int
        do {
            status = try await verifier.check(secret, scimBaseURL: url)
        } catch {
            logger.warning(
                "cannot check the current key against SCIM",
                metadata: ["key": "\(key.id)", "error": "\("\(error)".redacting([secret]))"]
            )
            try await journal(state: state)
            return false
        }
        guard status == 401 || status == 403 else {
            if status == 200, state.currentProblemKeyId == key.id {
                state.currentProblem = nil
                state.currentProblemKeyId = nil
            }
            try await journal(state: state)
            return false
        }
        var problem = "SCIM refused the current key \(key.id) (HTTP \(status) from \(url.absoluteString))"
        if await syncKnownDisabled() {
            state.syncStatus = .disabled
            problem += ": SCIM synchronization is disabled in this zone (scim-rotator sync enable \(policy.name))"
        } else {
            problem += ": identity providers using it fail too"
        }
        state.currentProblem = problem
        state.currentProblemKeyId = key.id
        try await journal(state: state)
        try await reportUnusable(key.id, problem)
        return true
    }

    /// The current key's secret, if this process or a readable sink has it.
    func currentSecret(_ current: KeyRecord, fingerprint: String, key: SCIMKey) async throws -> Secret? {
        if let rotationId = current.rotationId, let secret = secrets.secret(rotation: rotationId) { return secret }
        let holders = Set(try await holdings().holders(of: current.keyId))
        let fingerprintKey = try await store.fingerprintKey()
        for case let sink as any ReadableSink in sinks where holders.contains(sink.identity) {
            do {
                if let secret = try await sink.read(context: deliveryContext(key)),
                    secret.fingerprint(key: fingerprintKey) == fingerprint
                {
                    return secret
                }
            } catch {
                logger.warning(
                    "cannot read the current key back",
                    metadata: ["sink": "\(sink.summary)", "error": "\(error)"]
                )
            }
        }
        return nil
    }

    /// A person finished a manual delivery: records the confirmation (`key.confirmed`) and runs a pass, which
    /// promotes the key, all under the policy's lock.
    public func confirm(reason: String?) async -> PassResult {
        await exclusive { await confirmHoldingLock(reason: reason) }
    }

    func confirmHoldingLock(reason: String?) async -> PassResult {
        do {
            guard var rotation = try await store.activeRotation(policy: policy.name),
                rotation.state == .awaitingConfirmation
            else {
                return PassResult(
                    policy: policy.name,
                    outcome: .failed,
                    message: "nothing is waiting for confirmation (see `scim-rotator status \(policy.name)`)",
                    nextCheck: nil
                )
            }
            let now = clock.now()
            rotation.confirmedAt = now
            rotation.updatedAt = now
            try await journal(
                rotation,
                events: [
                    event(
                        .keyConfirmed,
                        rotation: rotation,
                        keyId: rotation.newKeyId,
                        actor: .manual,
                        reason: reason ?? "confirmed from the CLI"
                    )
                ]
            )
        } catch {
            return PassResult(policy: policy.name, outcome: .failed, message: "\(error)", nextCheck: nil)
        }
        return await passHoldingLock(request: nil)
    }

    /// Whether the zone's SCIM synchronization is known to be disabled: a hint for the message of a SCIM refusal.
    /// Not knowing (the call failed) is logged, and counts as not known to be disabled.
    func syncKnownDisabled() async -> Bool {
        guard traits.hasSyncSwitch else { return false }
        do {
            return try await provider.syncStatus() == .disabled
        } catch {
            logger.notice(
                "could not read the zone's SCIM synchronization status",
                metadata: ["error": "\(error)"]
            )
            return false
        }
    }
}
