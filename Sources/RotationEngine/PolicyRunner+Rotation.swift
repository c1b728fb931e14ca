import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// How a rotation's run ended for now.
enum RotationOutcome: Sendable {
    /// With the zone's keys as they now are, when known without listing them again.
    case completed([SCIMKey]?)
    /// The step failed. A rotation that created nothing ended; one whose key exists stays in progress and is
    /// resumed after the back-off (a failed sink is retried with the same key).
    case failed(String)
    case blocked(String)
    /// A shutdown was requested before the key was created; the rotation resumes on the next start.
    case interrupted
    /// A fail point simulated a crash: nothing was cleaned up.
    case crashed(String)
    /// Delivered to a person; promotion waits for `scim-rotator confirm`.
    case waiting(String)
}

/// A rotation in flight: its journal record, the zone's keys as known, and the new key's secret while this process
/// has it.
struct RotationRun {
    var rotation: RotationRecord
    var zone: [SCIMKey]
    var secret: Secret?
}

/// The rotation as a state machine: one step per journaled state, each journaling the next state before the side
/// effect it announces, so that resuming is continuing from the state the journal shows.
///
///     started ─(retire what serves no one)→ roomMade → creating → created → verified
///       → delivering (each sink journaled before and after) → delivered | awaitingConfirmation
///       → promoted → completed          (and: failed, blocked)
///
/// After a crash: `creating` abandons the one key that appeared during the call and starts over; `created` and
/// `verified` abandon the key (its secret died with the process, and no sink has it); `delivering` recovers the
/// secret from the process's cache or a readable sink that holds it and delivers the same key to the rest, or, when
/// some consumer may hold the key and its secret cannot be recovered, blocks; `delivered` and later promote.
extension PolicyRunner {
    /// A rotation that has to start over (a crash or lost reply cost its key) this many times is given up.
    static let maxAttempts = 5

    func start(
        trigger: RotationTrigger,
        reason: String,
        input: PlanInput,
        _ request: RotationRequest?
    ) async throws -> RotationRecord {
        let current = input.currentRecord
        var rotation = RotationRecord(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            trigger: trigger,
            reason: request?.reason ?? reason,
            oldKeyId: current?.keyId,
            deleteOld: request?.deleteOld ?? false,
            now: clock.now()
        )
        if let consent = request?.retire, !consent.isEmpty { rotation.consentedRetire = consent }
        var detail: [String: String] = [:]
        if rotation.deleteOld { detail["deleteOld"] = "true" }
        if let consent = rotation.consentedRetire { detail["consentToRetire"] = consent.joined(separator: ",") }
        try await journal(
            rotation,
            events: [
                event(
                    .rotationStarted,
                    rotation: rotation,
                    keyId: current?.keyId,
                    reason: rotation.reason,
                    detail: detail
                )
            ]
        )
        return rotation
    }

    /// A request that arrives while a rotation is in progress applies to it: it resumes at once (back-off or
    /// not), an emergency makes it an emergency (the other keys are disabled when it completes), and a consent to
    /// retire joins it.
    func take(_ request: RotationRequest, into rotation: inout RotationRecord) async throws {
        if request.trigger == .emergency, rotation.trigger != .emergency {
            rotation.trigger = .emergency
            rotation.deleteOld = request.deleteOld
        }
        if !request.retire.isEmpty { rotation.consentedRetire = (rotation.consentedRetire ?? []) + request.retire }
        rotation.updatedAt = clock.now()
        try await journal(
            rotation,
            events: [
                event(
                    .rotationResumed,
                    rotation: rotation,
                    keyId: rotation.newKeyId,
                    actor: request.trigger == .emergency ? .emergency : .manual,
                    reason: "\(request.trigger.rawValue) request: \(request.reason ?? "-"); continuing rotation "
                        + "\(rotation.id.prefix(8)) at \(rotation.state.rawValue)"
                )
            ]
        )
    }

    /// Runs a rotation from the state its record shows until it completes, waits, blocks or fails.
    func run(_ rotation: RotationRecord, zone: [SCIMKey], input: PlanInput) async -> RotationOutcome {
        var run = RotationRun(rotation: rotation, zone: zone, secret: secrets.secret(rotation: rotation.id))
        do {
            while true {
                if let outcome = try await step(&run) { return outcome }
            }
        } catch let crash as SimulatedCrash {
            return .crashed(crash.point)
        } catch {
            return await failed(&run, error)
        }
    }

    /// One step: the work of the state the rotation is in. Nil to go on with the next state.
    func step(_ run: inout RotationRun) async throws -> RotationOutcome? {
        switch run.rotation.state {
        case .started: return try await makeRoom(&run)
        case .roomMade: return try await create(&run)
        case .creating: return try await recoverCreate(&run)
        case .created: return try await verify(&run)
        case .verified, .delivering: return try await deliver(&run)
        case .awaitingConfirmation where run.rotation.confirmedAt == nil:
            return .waiting(run.rotation.waitingFor ?? "waiting for confirmation")
        case .delivered, .awaitingConfirmation: return try await promote(&run)
        case .promoted: return try await complete(&run, promotion: nil)
        case .completed: return .completed(nil)
        case .failed: return .failed(run.rotation.lastError ?? "failed")
        case .blocked: return .blocked(run.rotation.lastError ?? "blocked")
        }
    }

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
                let sync = JournalSync.reconcile(
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
                    try await abandon(
                        keyId,
                        rotation: run.rotation,
                        reason: "CreateSCIMCredential's reply was lost; the key it made has no known secret and "
                            + "reached no sink"
                    )
                    run.zone.removeAll { $0.id == keyId }
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
            try await abandon(
                orphan.keyId,
                rotation: run.rotation,
                reason:
                    "made by the CreateSCIMCredential a crash interrupted; its secret is gone and it reached no sink"
            )
            run.zone.removeAll { $0.id == orphan.keyId }
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

    // MARK: created → verified

    /// An authenticated SCIM request with the new key. A key that fails is never handed to anyone: abandoned.
    func verify(_ run: inout RotationRun) async throws -> RotationOutcome? {
        guard let keyId = run.rotation.newKeyId else { return try await restart(&run, "no key was recorded") }
        guard let secret = run.secret else {
            try await abandon(
                keyId,
                rotation: run.rotation,
                reason: "the process stopped before verifying it; the secret is gone and no sink has it"
            )
            run.zone.removeAll { $0.id == keyId }
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
            if (try? await provider.syncStatus()) == .disabled {
                message +=
                    "; SCIM synchronization is disabled in this zone, so its SCIM endpoint refuses every key: "
                    + "enable it (scim-rotator sync enable \(policy.name))"
            }
            try await abandon(keyId, rotation: run.rotation, reason: "failed verification; never handed to anyone")
            run.zone.removeAll { $0.id == keyId }
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
            var record = try await sinkRecord(for: sink)
            if record.keyId == keyId { continue }
            guard let secret = try await obtainSecret(&run, context: context) else {
                return try await unrecoverable(&run)
            }
            record.attemptKeyId = keyId
            record.attemptAt = clock.now()
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
                record.attemptKeyId = nil
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
            record.keyId = keyId
            record.deliveredAt = clock.now()
            record.rotationId = run.rotation.id
            record.attemptKeyId = nil
            record.attemptAt = nil
            record.lastError = nil
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
            try await journal(
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
            try await abandon(
                keyId,
                rotation: run.rotation,
                reason:
                    "the secret is gone (the process stopped at \(run.rotation.state.rawValue)) and no sink holds the key"
            )
            run.zone.removeAll { $0.id == keyId }
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
            try await delete(
                others.map(\.id),
                reason: "emergency: the previous key is presumed leaked; no grace period, and "
                    + "\(provider.kind.traits.serviceName) cannot disable a key, so it is deleted",
                actor: .emergency,
                rotationId: run.rotation.id
            )
            run.zone.removeAll { $0.id != run.rotation.newKeyId }
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
                try await delete(
                    others.map(\.id),
                    reason: "emergency --delete-old",
                    actor: .emergency,
                    rotationId: run.rotation.id
                )
                run.zone.removeAll { $0.id != run.rotation.newKeyId }
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

    // MARK: Ending

    /// Any other failure. A rotation that created nothing ends (failed); one whose key exists stays in progress
    /// with the error, and the next attempt, after the back-off, resumes it where the journal says.
    func failed(_ run: inout RotationRun, _ error: any Error) async -> RotationOutcome {
        let message = "\(error)".redacting(run.secret.map { [$0] } ?? [])
        do {
            let retiring = try await store.keys(policy: policy.name).contains { $0.intent == .retire }
            if [.started, .roomMade].contains(run.rotation.state), !retiring {
                try await end(&run.rotation, as: .failed, .rotationFailed, message)
            } else {
                // A key is half retired (or the new key exists): the rotation must go on from here, not end.
                return try await retryLater(&run, message)
            }
        } catch {
            logger.error("cannot record the failure", metadata: ["error": "\(error)"])
        }
        return .failed(message)
    }

    /// A failed attempt of a rotation whose key exists: it stays in progress, and the next attempt (after the
    /// back-off) resumes it where the journal says. Recorded as `rotation.failed` with `willRetry`.
    func retryLater(
        _ run: inout RotationRun,
        _ message: String,
        sinks: [SinkRecord] = []
    ) async throws
        -> RotationOutcome
    {
        run.rotation.lastError = message
        run.rotation.updatedAt = clock.now()
        try await journal(
            run.rotation,
            sinks: sinks,
            events: [
                event(
                    .rotationFailed,
                    rotation: run.rotation,
                    keyId: run.rotation.newKeyId,
                    reason: message,
                    detail: ["willRetry": "true", "state": run.rotation.state.rawValue]
                )
            ]
        )
        return .failed(message)
    }

    func block(_ run: inout RotationRun, _ message: String) async throws -> RotationOutcome {
        secrets.forget(rotation: run.rotation.id)
        try await end(&run.rotation, as: .blocked, .rotationBlocked, message)
        return .blocked(message)
    }

    /// Ends a rotation that did not complete: its state, the reason, the metric, and the event, in one commit.
    func end(
        _ rotation: inout RotationRecord,
        as state: RotationState,
        _ kind: EventKind,
        _ message: String
    )
        async throws
    {
        let now = clock.now()
        rotation.state = state
        rotation.lastError = message
        RotatorMetrics.rotation(policy: policy.name, trigger: rotation.trigger, outcome: state.rawValue)
        rotation.updatedAt = now
        rotation.finishedAt = now
        try await journal(
            rotation,
            events: [event(kind, rotation: rotation, keyId: rotation.newKeyId, reason: message)]
        )
    }

    /// Which of this policy's sinks may hold which key, as journaled now.
    func holdings() async throws -> Safety.Holdings {
        Safety.Holdings(
            records: try await store.sinks(policy: policy.name),
            configured: sinks.map(\.identity),
            readable: sinks.filter { $0 is any ReadableSink }.map(\.identity)
        )
    }
}
