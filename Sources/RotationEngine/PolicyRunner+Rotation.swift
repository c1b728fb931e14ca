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
    /// The key a person handed over, for an issuer without a key API.
    var token: HandedToken?
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
    public static let maxAttempts = 5

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
    func run(
        _ rotation: RotationRecord,
        zone: [SCIMKey],
        input: PlanInput,
        token: HandedToken? = nil
    ) async -> RotationOutcome {
        var run = RotationRun(
            rotation: rotation,
            zone: zone,
            secret: secrets.secret(rotation: rotation.id),
            token: token
        )
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
        // Without a key API the console enforces the limit: the person makes room there (asked to, if need be).
        case .started where !traits.canCreate: return try await handOver(&run)
        case .awaitingToken: return try await handOver(&run)
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
