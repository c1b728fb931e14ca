import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// Set when the process is asked to stop: runners finish the step they are in (a rotation that has created its key
/// runs on to promotion, so its secret is not lost) and start nothing new.
public final class ShutdownSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func request() { flag.store(true, ordering: .relaxed) }
    public var isRequested: Bool { flag.load(ordering: .relaxed) }
}

/// What one pass over a policy did.
public struct PassResult: Sendable {
    public enum Outcome: String, Sendable, Codable {
        /// Nothing was due.
        case idle
        /// Work was done (a rotation, disable, delete, adoption) and nothing failed.
        case changed
        /// A rotation is due but waits for its window or a back-off.
        case waiting
        case failed
        case blocked
        /// Stopped early because of a shutdown request.
        case interrupted
    }

    public var policy: String
    public var outcome: Outcome
    public var message: String
    public var nextCheck: Date?
    public var rotations: [String]
    /// When the current key falls due (for metrics and plan).
    public var dueAt: Date?

    public var isFailure: Bool { outcome == .failed || outcome == .blocked }

    public init(policy: String, outcome: Outcome, message: String, nextCheck: Date?, rotations: [String] = []) {
        self.policy = policy
        self.outcome = outcome
        self.message = message
        self.nextCheck = nextCheck
        self.rotations = rotations
    }
}

/// Runs one policy: observes the zone, reconciles the journal, asks the planner, executes its decision, journaling
/// every step before and after its side effect, until nothing more is due now.
public struct PolicyRunner: Sendable {
    public let policy: Policy
    public let provider: any SCIMKeyProvider
    public let store: any HistoryStore
    public let sinks: [any DeliverySink]
    public let verifier: SCIMVerifier
    public let clock: any RotatorClock
    public let logger: Logger
    public let shutdown: ShutdownSignal
    /// Named stopping points for the crash suite (inert unless configured).
    public let failPoints: FailPoints
    /// Called with every event as it is recorded (the demo prints them; notifications hook in here).
    public let onEvent: @Sendable (HistoryEvent) -> Void

    public init(
        policy: Policy,
        provider: any SCIMKeyProvider,
        store: any HistoryStore,
        sinks: [any DeliverySink],
        verifier: SCIMVerifier,
        clock: any RotatorClock,
        logger: Logger,
        shutdown: ShutdownSignal = ShutdownSignal(),
        failPoints: FailPoints = .none,
        onEvent: @escaping @Sendable (HistoryEvent) -> Void = { _ in }
    ) {
        self.policy = policy
        self.provider = provider
        self.store = store
        self.sinks = sinks
        self.verifier = verifier
        self.clock = clock
        var logger = logger
        logger[metadataKey: "policy"] = "\(policy.name)"
        logger[metadataKey: "zone"] = "\(policy.zone)"
        self.logger = logger
        self.shutdown = shutdown
        self.failPoints = failPoints
        self.onEvent = onEvent
    }

    /// One pass: everything due now, then the time to look again. Afterwards, if the current key is close to
    /// expiry (less than `warnBefore` left), `key.expiring` is recorded, at most once a day per key.
    public func pass(request: RotationRequest? = nil) async -> PassResult {
        let result = await work(request: request)
        if result.outcome != .interrupted {
            do {
                try await warnIfExpiring()
                RotatorMetrics.record(
                    policy: policy,
                    keys: try store.keys(policy: policy.name),
                    state: try store.policyState(policy: policy.name),
                    dueAt: result.dueAt
                )
            } catch {
                logger.warning("cannot check the current key's expiry", metadata: ["error": "\(error)"])
            }
        }
        return result
    }

    func warnIfExpiring() async throws {
        let now = clock.now()
        guard let current = try store.keys(policy: policy.name).first(where: { $0.role == .current }),
            let expires = current.expiresAt
        else { return }
        let left = expires.timeIntervalSince(now)
        guard left < policy.rotation.effectiveWarnBefore.timeInterval else { return }
        let last = try store.events(EventFilter(policy: policy.name, kinds: [EventKind.keyExpiring.rawValue], limit: 1))
            .first
        if let last, last.keyId == current.keyId, let at = last.date, now.timeIntervalSince(at) < 86_400 { return }
        let state = try store.policyState(policy: policy.name)
        let why = left <= 0 ? "has expired" : "expires in \(Planner.span(left))"
        try await commit(
            JournalWrite(events: [
                event(
                    .keyExpiring,
                    rotationId: nil,
                    keyId: current.keyId,
                    actor: .scheduler,
                    reason: "the current key \(why) and no rotation has replaced it"
                        + (state.lastError.map { "; last error: \($0)" } ?? ""),
                    detail: ["expires": HistoryTime.format(expires), "failures": String(state.failures)]
                )
            ])
        )
    }

    func work(request: RotationRequest?) async -> PassResult {
        var request = request
        var changed = false
        var rotations: [String] = []
        var knownZone: [SCIMKey]?
        do {
            for _ in 0..<16 {
                if shutdown.isRequested {
                    return PassResult(
                        policy: policy.name,
                        outcome: .interrupted,
                        message: "stopped on request",
                        nextCheck: clock.now(),
                        rotations: rotations
                    )
                }
                // After a rotation the zone's keys are known without asking; otherwise list them.
                let observed: [SCIMKey]
                if let known = knownZone {
                    observed = known
                } else {
                    observed = try await provider.listKeys()
                }
                knownZone = nil
                let now = clock.now()
                let records = try store.keys(policy: policy.name)
                let sync = JournalSync.reconcile(policy: policy, observed: observed, records: records, now: now)
                if !sync.keys.isEmpty || !sync.events.isEmpty { try await commit(sync) }
                let input = PlanInput(
                    policy: policy,
                    observed: observed,
                    keys: try store.keys(policy: policy.name),
                    activeRotation: try store.activeRotation(policy: policy.name),
                    state: try store.policyState(policy: policy.name),
                    now: now,
                    request: request
                )
                let plan = Planner.plan(input)
                logger.debug("plan", metadata: ["action": "\(plan.action)", "reason": "\(plan.reason)"])
                switch plan.action {
                case .idle, .wait:
                    return try await finish(plan: plan, changed: changed, rotations: rotations)
                case .adopt(let keyId):
                    try await adopt(keyId, observed: observed)
                case .finishIntents(let keyIds):
                    try await finishIntents(keyIds, input: input)
                case .disable(let keyIds):
                    try await disable(keyIds, reason: plan.reason, actor: .scheduler, rotationId: nil)
                case .delete(let keyIds):
                    try await delete(keyIds, reason: plan.reason, actor: .scheduler, rotationId: nil)
                case .resume(let rotationId):
                    guard let rotation = try store.rotation(id: rotationId) else { continue }
                    rotations.append(rotation.id)
                    let outcome = await drive(resuming: rotation, input: input)
                    if let result = try await conclude(outcome, rotations: rotations) { return result }
                case .rotate(let trigger):
                    let rotation = try await start(
                        trigger: trigger,
                        reason: request?.reason ?? plan.reason,
                        deleteOld: request?.deleteOld ?? false,
                        input: input
                    )
                    request = nil
                    rotations.append(rotation.id)
                    let outcome = await drive(rotation, input: input)
                    if case .completed(let zone) = outcome { knownZone = zone }
                    if let result = try await conclude(outcome, rotations: rotations) { return result }
                }
                changed = true
            }
            return PassResult(
                policy: policy.name,
                outcome: .changed,
                message: "stopped after 16 steps in one pass; continuing on the next",
                nextCheck: clock.now(),
                rotations: rotations
            )
        } catch let crash as SimulatedCrash {
            return PassResult(
                policy: policy.name,
                outcome: .interrupted,
                message: "simulated crash at \(crash.point)",
                nextCheck: clock.now(),
                rotations: rotations
            )
        } catch {
            let message = describe(error)
            logger.error("pass failed", metadata: ["error": "\(message)"])
            let nextCheck =
                await (try? recordFailure(message, rotationId: nil, blocked: false))
                ?? clock.now().addingTimeInterval(policy.rotation.minBackoff.timeInterval)
            return PassResult(
                policy: policy.name,
                outcome: .failed,
                message: message,
                nextCheck: nextCheck,
                rotations: rotations
            )
        }
    }

    /// After a rotation: nil to keep going; a result when the pass must stop.
    func conclude(_ outcome: RotationOutcome, rotations: [String]) async throws -> PassResult? {
        switch outcome {
        case .completed:
            return nil
        case .waiting(let instructions):
            return PassResult(
                policy: policy.name,
                outcome: .waiting,
                message: "waiting for a person: \(instructions)",
                nextCheck: nil,
                rotations: rotations
            )
        case .crashed(let point):
            return PassResult(
                policy: policy.name,
                outcome: .interrupted,
                message: "simulated crash at \(point)",
                nextCheck: clock.now(),
                rotations: rotations
            )
        case .interrupted:
            return PassResult(
                policy: policy.name,
                outcome: .interrupted,
                message: "stopped on request before creating a key",
                nextCheck: clock.now(),
                rotations: rotations
            )
        case .failed(let message):
            let next = try await recordFailure(message, rotationId: rotations.last, blocked: false)
            return PassResult(
                policy: policy.name,
                outcome: .failed,
                message: message,
                nextCheck: next,
                rotations: rotations
            )
        case .blocked(let message):
            let next = try await recordFailure(message, rotationId: rotations.last, blocked: true)
            return PassResult(
                policy: policy.name,
                outcome: .blocked,
                message: message,
                nextCheck: next,
                rotations: rotations
            )
        }
    }

    func finish(plan: Plan, changed: Bool, rotations: [String]) async throws -> PassResult {
        let stored = try store.policyState(policy: policy.name)
        var state = stored
        let now = clock.now()
        state.nextCheckAt = plan.nextCheck
        if plan.action == .idle, !changed || state.failures > 0 {
            // Nothing is due and nothing failed: earlier failures are over.
            if state.failures > 0 || state.stuck || state.blocked {
                state.failures = 0
                state.stuck = false
                state.blocked = false
                state.nextAttemptAt = nil
            }
        }
        if state != stored || stored.lastCheckedAt == nil {
            state.lastCheckedAt = now
            try await commit(JournalWrite(policyState: state))
        }
        let outcome: PassResult.Outcome = plan.action == .wait ? .waiting : (changed ? .changed : .idle)
        var result = PassResult(
            policy: policy.name,
            outcome: outcome,
            message: plan.reason,
            nextCheck: plan.nextCheck,
            rotations: rotations
        )
        result.dueAt = plan.dueAt
        return result
    }

    /// Records a failure: back-off doubling from minBackoff to maxBackoff, stuck after stuckAfter in a row.
    func recordFailure(_ message: String, rotationId: String?, blocked: Bool) async throws -> Date {
        var state = try store.policyState(policy: policy.name)
        let now = clock.now()
        let settings = policy.rotation
        state.failures += 1
        state.lastError = message
        state.blocked = blocked
        let delay = min(
            settings.maxBackoff.timeInterval,
            settings.minBackoff.timeInterval * pow(2, Double(min(state.failures - 1, 30)))
        )
        let next = now.addingTimeInterval(delay)
        state.nextAttemptAt = next
        state.nextCheckAt = next
        state.lastCheckedAt = now
        var events: [NewEvent] = []
        if state.failures >= settings.stuckAfter, !state.stuck {
            state.stuck = true
            events.append(
                event(
                    .policyStuck,
                    rotationId: rotationId,
                    actor: .scheduler,
                    reason: "\(state.failures) consecutive failures; last: \(message)",
                    detail: ["failures": "\(state.failures)"]
                )
            )
        }
        try await commit(JournalWrite(policyState: state, events: events))
        return next
    }

    // MARK: Journal helpers

    @discardableResult
    func commit(_ write: JournalWrite) async throws -> [HistoryEvent] {
        let recorded = try await store.record(write, at: clock.now())
        for event in recorded {
            var metadata: Logger.Metadata = ["event": "\(event.kind)"]
            if let rotation = event.rotationId { metadata["rotation"] = "\(rotation)" }
            if let key = event.keyId { metadata["key"] = "\(key)" }
            if let reason = event.reason { metadata["reason"] = "\(reason)" }
            logger.info("\(event.kind)", metadata: metadata)
            onEvent(event)
        }
        return recorded
    }

    func event(
        _ kind: EventKind,
        rotationId: String?,
        keyId: String? = nil,
        actor: Actor,
        reason: String?,
        requestId: String? = nil,
        detail: [String: String] = [:]
    ) -> NewEvent {
        NewEvent(
            policy: policy.name,
            provider: policy.provider,
            zone: policy.zone,
            rotationId: rotationId,
            kind: kind,
            keyId: keyId,
            actor: actor,
            reason: reason,
            requestId: requestId,
            detail: detail
        )
    }

    func record(_ keyId: String) throws -> KeyRecord {
        try store.keys(policy: policy.name).first { $0.keyId == keyId }
            ?? KeyRecord(policy: policy.name, keyId: keyId, role: .other, firstSeen: clock.now())
    }

    func describe(_ error: any Error) -> String {
        "\(error)"
    }
}
