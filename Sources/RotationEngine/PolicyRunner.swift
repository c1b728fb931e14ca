import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// Runs one policy: observes the zone, reconciles the journal, asks the planner, executes its decision, journaling
/// every step before and after its side effect, until nothing more is due now.
public struct PolicyRunner: Sendable {
    public let policy: Policy
    public let provider: any SCIMKeyProvider
    public let store: any HistoryStore
    /// The policy's sinks in delivery order: readable ones (file, manual, Vault, Kubernetes) first, so that a new
    /// key's secret can be recovered from them after a crash or a failure.
    public let sinks: [any DeliverySink]
    public let verifier: SCIMVerifier
    public let clock: any RotatorClock
    public let logger: Logger
    public let shutdown: ShutdownSignal
    /// Named stopping points for the crash suite (inert unless configured).
    public let failPoints: FailPoints
    /// New keys' secrets for as long as this process lives (shared by the runners of one process).
    public let secrets: SecretCache
    /// Called with every event as it is recorded (the demo prints them; notifications hook in here).
    public let onEvent: @Sendable (HistoryEvent) -> Void
    /// Held around every pass and confirmation; nil when no other process can reach the zone's journal.
    public let lock: PolicyLock?

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
        secrets: SecretCache = SecretCache(),
        lock: PolicyLock? = nil,
        onEvent: @escaping @Sendable (HistoryEvent) -> Void = { _ in }
    ) {
        self.policy = policy
        self.provider = provider
        self.store = store
        self.sinks = sinks.filter { $0 is any ReadableSink } + sinks.filter { !($0 is any ReadableSink) }
        self.verifier = verifier
        self.clock = clock
        var logger = logger
        logger[metadataKey: "policy"] = "\(policy.name)"
        logger[metadataKey: "zone"] = "\(policy.zone)"
        self.logger = logger
        self.shutdown = shutdown
        self.failPoints = failPoints
        self.secrets = secrets
        self.onEvent = onEvent
        self.lock = lock
    }

    /// One pass, holding the policy's lock: everything due now, then the time to look again. Afterwards, if the
    /// current key is close to expiry (less than `warnBefore` left), `key.expiring` is recorded, at most once a day
    /// per key.
    public func pass(request: RotationRequest? = nil) async -> PassResult {
        await exclusive { await passHoldingLock(request: request) }
    }

    func passHoldingLock(request: RotationRequest?) async -> PassResult {
        let result = await work(request: request)
        if result.outcome != .interrupted {
            do {
                try await warnIfExpiring()
                RotatorMetrics.record(
                    policy: policy,
                    keys: try await store.keys(policy: policy.name),
                    state: try await store.policyState(policy: policy.name),
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
        guard let current = try await store.keys(policy: policy.name).first(where: { $0.role == .current }),
            let expires = current.expiresAt
        else { return }
        let left = expires.timeIntervalSince(now)
        guard left < policy.rotation.effectiveWarnBefore.timeInterval else { return }
        guard try await !recentlyRecorded(.keyExpiring, keyId: current.keyId) else { return }
        let state = try await store.policyState(policy: policy.name)
        let why = left <= 0 ? "has expired" : "expires in \(TimeText.span(left))"
        try await journal(
            events: [
                event(
                    .keyExpiring,
                    keyId: current.keyId,
                    reason: "the current key \(why) and no rotation has replaced it"
                        + (state.lastError.map { "; last error: \($0)" } ?? ""),
                    detail: ["expires": HistoryTime.format(expires), "failures": String(state.failures)]
                )
            ]
        )
    }

    /// Whether `kind` was recorded for `keyId` in the last day (warnings fire at most once a day per key).
    func recentlyRecorded(_ kind: EventKind, keyId: String) async throws -> Bool {
        let last = try await store.events(EventFilter(policy: policy.name, kinds: [kind], limit: 1)).first
        guard let last, last.keyId == keyId, let at = last.date else { return false }
        return clock.now().timeIntervalSince(at) < 86_400
    }

    /// What a pass carries from one step to the next.
    struct PassState {
        var request: RotationRequest?
        /// The zone's keys, when known without listing them again (nil: list).
        var known: [SCIMKey]?
        var changed = false
        var rotations: [String] = []
        /// The current key was proven (or found broken) in this pass.
        var checkedCurrent = false
    }

    func work(request: RotationRequest?) async -> PassResult {
        var pass = PassState(request: request)
        do {
            for _ in 0..<16 {
                if shutdown.isRequested {
                    return result(.interrupted, "stopped on request", next: clock.now(), pass)
                }
                let observed: [SCIMKey]
                if let known = pass.known {
                    observed = known
                } else {
                    observed = try await provider.listKeys()
                }
                pass.known = observed
                let input = try await observe(observed, request: pass.request)
                let plan = Planner.plan(input)
                logger.debug(
                    "plan",
                    metadata: ["action": "\(Planner.describe(plan.action))", "reason": "\(plan.reason)"]
                )
                switch plan.action {
                case .idle, .wait:
                    if !pass.checkedCurrent {
                        pass.checkedCurrent = true
                        if try await checkCurrentKey(input) { continue }  // it does not work: plan again
                    }
                    return try await finish(plan: plan, input: input, pass)
                case .adopt(let keyId):
                    try await adopt(keyId, observed: observed)
                case .finishIntents(let keyIds):
                    try await finishIntents(keyIds, input: input)
                    pass.known = nil
                case .disable(let keyIds):
                    try await disable(keyIds, reason: plan.reason, actor: .scheduler, rotationId: nil)
                    pass.known = observed.map { key in
                        var key = key
                        if keyIds.contains(key.id) { key.status = .disabled }
                        return key
                    }
                case .delete(let keyIds):
                    let deleted = try await delete(keyIds, reason: plan.reason, actor: .scheduler, rotationId: nil)
                    // A key the cloud kept (the zone's last) or a person is to delete (no key API) stays listed.
                    pass.known = observed.filter { !deleted.contains($0.id) }
                case .abandon(let keyIds):
                    var gone: Set<String> = []
                    for keyId in keyIds where try await abandon(keyId, rotation: nil, reason: plan.reason) {
                        gone.insert(keyId)
                    }
                    pass.known = observed.filter { !gone.contains($0.id) }
                case .supersede(let rotationId):
                    guard var rotation = try await store.rotation(id: rotationId) else { continue }
                    try await end(&rotation, as: .failed, .rotationFailed, "superseded: \(plan.reason)")
                case .resume(let rotationId):
                    guard var rotation = try await store.rotation(id: rotationId) else { continue }
                    let token = pass.request?.token
                    if token != nil, ![.started, .awaitingToken].contains(rotation.state) {
                        return result(
                            .failed,
                            "rotation \(rotation.id.prefix(8)) is at \(rotation.state.rawValue) with key "
                                + "\(rotation.newKeyId ?? "-"): the token was not used and nothing was changed; delete it "
                                + "in \(traits.consoleName) (see `scim-rotator status \(policy.name)`)",
                            next: clock.now(),
                            pass
                        )
                    }
                    if let request = pass.request {
                        try await take(request, into: &rotation)
                        pass.request = nil
                    }
                    pass.rotations.append(rotation.id)
                    let outcome = await run(rotation, zone: observed, input: input, token: token)
                    if let stop = try await conclude(outcome, input: input, &pass) { return stop }
                case .rotate(let trigger):
                    let rotation = try await start(trigger: trigger, reason: plan.reason, input: input, pass.request)
                    let token = pass.request?.token
                    pass.request = nil
                    pass.rotations.append(rotation.id)
                    let outcome = await run(rotation, zone: observed, input: input, token: token)
                    if let stop = try await conclude(outcome, input: input, &pass) { return stop }
                }
                pass.changed = true
            }
            return result(
                .changed,
                "stopped after 16 steps in one pass; continuing on the next",
                next: clock.now(),
                pass
            )
        } catch let crash as SimulatedCrash {
            return result(.interrupted, "simulated crash at \(crash.point)", next: clock.now(), pass)
        } catch {
            let message = "\(error)"
            logger.error("pass failed", metadata: ["error": "\(message)"])
            var next = clock.now().addingTimeInterval(policy.rotation.minBackoff.timeInterval)
            do {
                next = try await recordFailure(message, rotationId: nil, blocked: false)
            } catch {
                logger.error("cannot record the failure", metadata: ["error": "\(error)"])
            }
            return result(.failed, message, next: next, pass)
        }
    }

    func result(_ outcome: PassResult.Outcome, _ message: String, next: Date?, _ pass: PassState) -> PassResult {
        PassResult(policy: policy.name, outcome: outcome, message: message, nextCheck: next, rotations: pass.rotations)
    }

    /// Records that the current key does not work: `key.unusable` (at most once a day per key), which fires a
    /// `failure` notification.
    func reportUnusable(_ keyId: String, _ problem: String) async throws {
        guard try await !recentlyRecorded(.keyUnusable, keyId: keyId) else { return }
        try await journal(events: [event(.keyUnusable, keyId: keyId, reason: problem)])
    }

    /// After a rotation: nil to keep going; a result when the pass must stop.
    func conclude(_ outcome: RotationOutcome, input: PlanInput, _ pass: inout PassState) async throws -> PassResult? {
        switch outcome {
        case .completed(let zone):
            pass.known = zone
            pass.checkedCurrent = true  // the new key was verified moments ago
            return nil
        case .waiting:
            // The planner says what the wait is for and when to look again; the zone is listed again, since the
            // rotation may have created a key the keys known before it do not show.
            pass.known = nil
            return nil
        case .crashed(let point):
            return result(.interrupted, "simulated crash at \(point)", next: clock.now(), pass)
        case .interrupted:
            return result(.interrupted, "stopped on request before creating a key", next: clock.now(), pass)
        case .failed(let message):
            let next = try await recordFailure(message, rotationId: pass.rotations.last, blocked: false)
            return result(.failed, message, next: next, pass)
        case .blocked(let message):
            let next = try await recordFailure(message, rotationId: pass.rotations.last, blocked: true)
            return result(.blocked, message, next: next, pass)
        }
    }

    func finish(plan: Plan, input: PlanInput, _ pass: PassState) async throws -> PassResult {
        let stored = try await store.policyState(policy: policy.name)
        var state = stored
        let now = clock.now()
        state.nextCheckAt = plan.nextCheck
        if plan.action == .idle, input.currentProblem == nil, !pass.changed || state.failures > 0 {
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
            try await journal(JournalWrite(policyState: state))
        }
        var outcome: PassResult.Outcome = plan.action == .wait ? .waiting : (pass.changed ? .changed : .idle)
        var message = plan.reason
        if plan.action == .wait, state.failures > 0, let retry = state.nextAttemptAt, retry > now {
            // Backing off after a failure is still failing: cron's reconcile keeps exiting non-zero meanwhile.
            outcome = state.blocked ? .blocked : .failed
            message = "\(message) (last error: \(state.lastError ?? "?"))"
        }
        if let expires = plan.unreplacedExpiry, [.waiting, .idle].contains(outcome) {
            outcome = .expiring
            message = "the current token expires \(TimeText.minute(expires)) and none has replaced it; \(message)"
        }
        if let problem = input.currentProblem, !message.contains(problem) {
            outcome = .unusable
            message = "\(problem); \(message)"
        } else if input.currentProblem != nil {
            outcome = .unusable
        }
        var result = result(outcome, message, next: plan.nextCheck, pass)
        result.dueAt = plan.dueAt
        return result
    }

    /// Records a failure: back-off doubling from minBackoff to maxBackoff, stuck after stuckAfter in a row.
    func recordFailure(_ message: String, rotationId: String?, blocked: Bool) async throws -> Date {
        var state = try await store.policyState(policy: policy.name)
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
                    reason: "\(state.failures) consecutive failures; last: \(message)",
                    detail: ["failures": "\(state.failures)"]
                )
            )
        }
        try await journal(JournalWrite(policyState: state, events: events))
        return next
    }
}
