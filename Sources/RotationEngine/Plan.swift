import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// A rotation someone asked for (`rotate`), as opposed to one the schedule calls for.
public struct RotationRequest: Sendable, Equatable {
    public var trigger: RotationTrigger
    public var reason: String?
    /// Emergency: delete the other keys too, not only disable them (a cloud that cannot disable always deletes them).
    public var deleteOld: Bool
    /// Keys the operator consents to retire, should the zone be at its limit (`--retire KEY_ID`).
    public var retire: [String]
    /// A key a person made in the console of an issuer without a key API (`rotate --token-stdin`).
    public var token: HandedToken?

    public init(
        trigger: RotationTrigger,
        reason: String?,
        deleteOld: Bool = false,
        retire: [String] = [],
        token: HandedToken? = nil
    ) {
        self.trigger = trigger
        self.reason = reason
        self.deleteOld = deleteOld
        self.retire = retire
        self.token = token
    }
}

/// A token a person made in an issuer's console and handed over on stdin: it becomes the rotation's new key.
public struct HandedToken: Sendable, Equatable {
    public var secret: Secret
    public var expiresAt: Date
    /// Who entered it (the login name), for the history.
    public var enteredBy: String

    public init(secret: Secret, expiresAt: Date, enteredBy: String) {
        self.secret = secret
        self.expiresAt = expiresAt
        self.enteredBy = enteredBy
    }

    /// The id this tool gives a key it cannot list: derived from its fingerprint, so the same token is the same key.
    public static func keyId(fingerprint: String) -> String { "tok-" + String(fingerprint.prefix(16)) }
}

/// What the planner decides to do next for one policy.
public enum PlannedAction: Sendable, Equatable {
    /// Nothing to do before `Plan.nextCheck`.
    case idle
    /// A rotation is due but waits (window, back-off, a person) until `Plan.nextCheck`.
    case wait
    /// First contact: make this existing key the current one.
    case adopt(keyId: String)
    /// Continue the rotation the journal shows in progress (interrupted, or retrying a failed sink).
    case resume(rotationId: String)
    /// An emergency replaces a rotation that waits for a person's confirmation.
    case supersede(rotationId: String)
    /// Finish side effects announced before a crash (disable, delete, retire, abandon).
    case finishIntents(keyIds: [String])
    case rotate(trigger: RotationTrigger)
    /// Grace period over: disable these keys.
    case disable(keyIds: [String])
    /// `deleteAfter` over: delete these keys (this tool disabled them).
    case delete(keyIds: [String])
    /// Keys this tool created that no rotation carries on and no sink holds: they serve no one.
    case abandon(keyIds: [String])
}

/// A decision with its reason, and when to look again.
public struct Plan: Sendable, Equatable {
    public var action: PlannedAction
    public var reason: String
    /// When this policy next needs attention (nil: only on resync).
    public var nextCheck: Date?
    /// When the current key falls due for rotation (before jitter and window), for `plan` and metrics.
    public var dueAt: Date?
    public var warnings: [String]
    /// What follows at once (after an adoption, the rotation the adopted key may already need), for `plan`.
    public var then: String?
    /// When the current key expires, if that is within `warnBefore` and only a person can replace it (an issuer
    /// without a key API): `status` and `reconcile` exit non-zero until they do.
    public var unreplacedExpiry: Date?

    public init(
        action: PlannedAction,
        reason: String,
        nextCheck: Date? = nil,
        dueAt: Date? = nil,
        warnings: [String] = []
    ) {
        self.action = action
        self.reason = reason
        self.nextCheck = nextCheck
        self.dueAt = dueAt
        self.warnings = warnings
    }
}

/// Everything the planner looks at. Nothing else: the planner is a pure function of this.
public struct PlanInput: Sendable {
    public var policy: Policy
    /// The zone's keys as the cloud lists them now.
    public var observed: [SCIMKey]
    /// The journal's key records, already reconciled with `observed`.
    public var keys: [KeyRecord]
    public var activeRotation: RotationRecord?
    public var state: PolicyState
    public var now: Date
    public var request: RotationRequest?
    public var syncStatus: SyncStatus?
    /// Which of the policy's sinks may hold which key.
    public var holdings: Safety.Holdings

    public init(
        policy: Policy,
        observed: [SCIMKey],
        keys: [KeyRecord],
        activeRotation: RotationRecord? = nil,
        state: PolicyState,
        now: Date,
        request: RotationRequest? = nil,
        syncStatus: SyncStatus? = nil,
        holdings: Safety.Holdings = Safety.Holdings()
    ) {
        self.policy = policy
        self.observed = observed
        self.keys = keys
        self.activeRotation = activeRotation
        self.state = state
        self.now = now
        self.request = request
        self.syncStatus = syncStatus
        self.holdings = holdings
    }

    /// The current key as the journal knows it.
    public var currentRecord: KeyRecord? { keys.first { $0.role == .current } }

    /// Why the current key does not work now, if it does not: disabled or expired as listed, or refused by SCIM
    /// at the last check.
    public var currentProblem: String? {
        guard let record = currentRecord else { return nil }
        guard let key = observed.first(where: { $0.id == record.keyId }) else { return nil }
        if key.status == .disabled { return "the current key \(key.id) was disabled outside this tool" }
        if key.isExpired(at: now) { return "the current key \(key.id) has expired" }
        if state.currentProblemKeyId == key.id, let problem = state.currentProblem { return problem }
        return nil
    }
}

/// The rotation planner: policy + observed keys + journal + now → decision and reason. Pure and deterministic.
