import Foundation
import SCIMRotatorCore

/// Where a rotation is. Each state is written before the side effect of the next step (write-ahead), so a crash
/// anywhere is resumed from here.
public enum RotationState: String, Sendable, Codable, CaseIterable {
    case started
    /// The zone has room for one more key (keys that serve no one were retired, or none had to be).
    case roomMade
    /// CreateSCIMCredential is about to be (or was) called; the new key id is not known yet. The zone's key ids
    /// before the call are journaled with this state, so that a key the call made is recognised after a crash.
    case creating
    /// The key exists; its secret lives only in this process's memory.
    case created
    case verified
    /// Sinks are being written, each journaled before and after (``SinkRecord``); a failed sink is retried with the
    /// same key.
    case delivering
    /// A sink handed the key to a person (`manual`): promotion waits for `scim-rotator confirm`.
    case awaitingConfirmation
    /// The issuer has no key API (``ProviderTraits/canCreate``): a person makes the key in its console and hands it
    /// over with `scim-rotator rotate POLICY --token-stdin`.
    case awaitingToken
    /// Every sink has the key: resume at promote.
    case delivered
    case promoted
    case completed
    case failed
    case blocked

    public var isTerminal: Bool { self == .completed || self == .failed || self == .blocked }
}

/// Why a rotation runs.
public enum RotationTrigger: String, Sendable, Codable {
    case scheduled
    case manual
    case emergency
}

/// One rotation, the journal's unit of work.
public struct RotationRecord: Sendable, Codable, Equatable {
    public var id: String
    public var policy: String
    public var provider: String
    public var zone: String
    public var trigger: RotationTrigger
    public var reason: String?
    public var state: RotationState
    public var newKeyId: String?
    public var newKeyFingerprint: String?
    /// The current key when the rotation started.
    public var oldKeyId: String?
    /// Emergency: also delete the other keys after disabling them.
    public var deleteOld: Bool
    public var attempts: Int
    public var startedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    public var lastError: String?
    /// What a person must do before promotion (manual delivery), and when they confirmed it.
    public var waitingFor: String?
    public var confirmedAt: Date?
    /// The zone's key ids just before CreateSCIMCredential (every key outside this set that appears is explained).
    public var keysBeforeCreate: [String]?
    /// Keys the operator consented to retire (`rotate --retire KEY_ID`), should room be needed.
    public var consentedRetire: [String]?

    public init(
        id: String = UUID().uuidString.lowercased(),
        policy: String,
        provider: ProviderKind,
        zone: String,
        trigger: RotationTrigger,
        reason: String?,
        oldKeyId: String?,
        deleteOld: Bool = false,
        now: Date
    ) {
        self.id = id
        self.policy = policy
        self.provider = provider.rawValue
        self.zone = zone
        self.trigger = trigger
        self.reason = reason
        self.state = .started
        self.oldKeyId = oldKeyId
        self.deleteOld = deleteOld
        self.attempts = 1
        self.startedAt = now
        self.updatedAt = now
    }

    public var actor: Actor {
        switch trigger {
        case .scheduled: return .scheduler
        case .manual: return .manual
        case .emergency: return .emergency
        }
    }
}

/// What a key is to this tool.
public enum KeyRole: String, Sendable, Codable {
    /// Created by a rotation that has not promoted it yet.
    case pending
    /// The key identity providers should be using: the most recently promoted (or adopted) one.
    case current
    /// The current key before the last promotion; disabled after the grace period.
    case previous
    /// Seen in the zone, not created by this tool (a console user, another tool, or before first contact).
    case other
    /// Disabled and deleted to make room at the key limit.
    case retired
    /// Created, but its secret was lost (crash, failure) before delivery: disabled and deleted.
    case abandoned
    /// Deleted by this tool after `deleteAfter`.
    case deleted
    /// Disappeared without this tool deleting it.
    case vanished

    /// Roles of keys that no longer exist.
    public var isGone: Bool { self == .retired || self == .abandoned || self == .deleted || self == .vanished }
}

/// A side effect announced before it is made (write-ahead), finished when the cloud shows its outcome.
public enum KeyIntent: String, Sendable, Codable {
    case disable
    case delete
    case retire
    case abandon
}

/// The journal's view of one key in one policy's zone.
public struct KeyRecord: Sendable, Codable, Equatable {
    public var policy: String
    public var keyId: String
    public var role: KeyRole
    public var status: KeyStatus?
    public var createdAt: Date?
    public var expiresAt: Date?
    public var firstSeen: Date
    public var lastSeen: Date?
    public var promotedAt: Date?
    public var disabledAt: Date?
    /// This tool disabled it (only such keys are deleted after `deleteAfter`).
    public var disabledByUs: Bool
    public var deletedAt: Date?
    /// HMAC-SHA256 of the secret under the database's fingerprint key (keys this tool created).
    public var fingerprint: String?
    public var intent: KeyIntent?
    public var intentAt: Date?
    public var rotationId: String?

    public init(policy: String, keyId: String, role: KeyRole, firstSeen: Date) {
        self.policy = policy
        self.keyId = keyId
        self.role = role
        self.firstSeen = firstSeen
        self.disabledByUs = false
    }

    public mutating func observe(_ key: SCIMKey, at now: Date) {
        status = key.status
        createdAt = key.createdAt
        expiresAt = key.expiresAt
        lastSeen = now
    }
}

/// Per-policy scheduling state: failures and back-off, the last success, stuck/blocked flags.
public struct PolicyState: Sendable, Codable, Equatable {
    public var policy: String
    public var failures: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
    public var lastSuccessAt: Date?
    public var lastCheckedAt: Date?
    public var nextCheckAt: Date?
    public var stuck: Bool
    public var blocked: Bool
    public var syncStatus: SyncStatus?
    /// When the current key was last proven against the SCIM endpoint (or created and verified).
    public var currentCheckedAt: Date?
    /// Why the current key does not work (SCIM refused it, it expired, it was disabled), nil while it works.
    public var currentProblem: String?
    /// The key ``currentProblem`` is about.
    public var currentProblemKeyId: String?

    public init(policy: String) {
        self.policy = policy
        self.failures = 0
        self.stuck = false
        self.blocked = false
    }
}

/// What one delivery destination of a policy holds, as far as the journal knows: the key it last reported success
/// for, and an attempt whose outcome is not recorded (a crash mid-delivery). A consumer *may hold* both.
public struct SinkRecord: Sendable, Codable, Equatable {
    public var policy: String
    /// The sink's identity (``DeliverySink/identity``): stable across runs and policy edits that keep it.
    public var sink: String
    /// The key this sink last reported success for.
    public var keyId: String?
    public var deliveredAt: Date?
    /// The rotation that delivered ``keyId``.
    public var rotationId: String?
    /// A delivery started for this key and its outcome is not recorded yet.
    public var attemptKeyId: String?
    public var attemptAt: Date?
    /// Keys of earlier attempts whose outcome was never recorded, superseded by a later attempt for another key
    /// (a crash mid-delivery, then a new rotation): the consumer may still hold any of them until a delivery to
    /// this sink succeeds.
    public var earlierAttemptKeyIds: [String]?
    /// The last failure of this sink, cleared by its next success.
    public var lastError: String?

    public init(policy: String, sink: String) {
        self.policy = policy
        self.sink = sink
    }

    /// The keys a consumer behind this sink may hold.
    public var mayHold: [String] {
        var keys: [String] = []
        for key in [keyId, attemptKeyId].compactMap({ $0 }) + (earlierAttemptKeyIds ?? []) where !keys.contains(key) {
            keys.append(key)
        }
        return keys
    }

    /// Starts an attempt to hand `keyId` to this sink: an earlier attempt for another key whose outcome is unknown
    /// is kept, since the consumer may hold that key too.
    public mutating func beginAttempt(_ keyId: String, at now: Date) {
        if let earlier = attemptKeyId, earlier != keyId, earlier != self.keyId,
            earlierAttemptKeyIds?.contains(earlier) != true
        {
            earlierAttemptKeyIds = (earlierAttemptKeyIds ?? []) + [earlier]
        }
        attemptKeyId = keyId
        attemptAt = now
    }

    /// The sink reported success for `keyId` (or holds it, read back): it holds that one key and nothing else.
    public mutating func holds(_ keyId: String, rotationId: String?, at now: Date) {
        self.keyId = keyId
        self.rotationId = rotationId
        deliveredAt = now
        attemptKeyId = nil
        attemptAt = nil
        earlierAttemptKeyIds = nil
        lastError = nil
    }
}

/// Everything one journaled step writes, in one transaction.
public struct JournalWrite: Sendable {
    public var rotation: RotationRecord?
    public var keys: [KeyRecord]
    public var sinks: [SinkRecord]
    public var policyState: PolicyState?
    public var events: [NewEvent]

    public init(
        rotation: RotationRecord? = nil,
        keys: [KeyRecord] = [],
        sinks: [SinkRecord] = [],
        policyState: PolicyState? = nil,
        events: [NewEvent] = []
    ) {
        self.rotation = rotation
        self.keys = keys
        self.sinks = sinks
        self.policyState = policyState
        self.events = events
    }

    public var isEmpty: Bool {
        rotation == nil && keys.isEmpty && sinks.isEmpty && policyState == nil && events.isEmpty
    }
}
