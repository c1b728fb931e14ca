import Foundation
import SCIMRotatorCore

/// An event kind. The raw values are a contract (history filters, notifications, scripts): add, never rename.
public struct EventKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: EventKind, rhs: EventKind) -> Bool { lhs.rawValue < rhs.rawValue }

    public static let rotationStarted = EventKind(rawValue: "rotation.started")
    public static let rotationResumed = EventKind(rawValue: "rotation.resumed")
    public static let rotationCompleted = EventKind(rawValue: "rotation.completed")
    public static let rotationFailed = EventKind(rawValue: "rotation.failed")
    public static let rotationBlocked = EventKind(rawValue: "rotation.blocked")
    public static let policyStuck = EventKind(rawValue: "policy.stuck")
    /// Delivered to a person (`manual` sink): promotion waits for `scim-rotator confirm`.
    public static let rotationWaiting = EventKind(rawValue: "rotation.waiting")
    public static let keyConfirmed = EventKind(rawValue: "key.confirmed")
    /// The current key has less than `warnBefore` left (at most once a day per key).
    public static let keyExpiring = EventKind(rawValue: "key.expiring")
    /// The current key does not work: SCIM refuses it, or it expired or was disabled (at most once a day per key).
    public static let keyUnusable = EventKind(rawValue: "key.unusable")
    public static let notificationSent = EventKind(rawValue: "notification.sent")
    public static let notificationFailed = EventKind(rawValue: "notification.failed")
    public static let keyCreated = EventKind(rawValue: "key.created")
    public static let keyVerified = EventKind(rawValue: "key.verified")
    public static let keyDelivered = EventKind(rawValue: "key.delivered")
    public static let keyPromoted = EventKind(rawValue: "key.promoted")
    public static let keyDisabled = EventKind(rawValue: "key.disabled")
    public static let keyDeleted = EventKind(rawValue: "key.deleted")
    public static let keyRetired = EventKind(rawValue: "key.retired")
    public static let keyAdopted = EventKind(rawValue: "key.adopted")
    public static let keyAbandoned = EventKind(rawValue: "key.abandoned")
    /// A key appeared that this tool did not create (a console user, another tool).
    public static let keyDiscovered = EventKind(rawValue: "key.discovered")
    /// A key this tool knew disappeared without this tool deleting it.
    public static let keyVanished = EventKind(rawValue: "key.vanished")
    public static let syncEnabled = EventKind(rawValue: "sync.enabled")
    public static let syncDisabled = EventKind(rawValue: "sync.disabled")
    /// A person registered the key in use, which this tool cannot list (`track`: an issuer without a key API).
    public static let keyTracked = EventKind(rawValue: "key.tracked")
    /// A replica took the policy's lease from another (PostgreSQL replicas; not recorded for renewals).
    public static let leaseAcquired = EventKind(rawValue: "lease.acquired")
    /// A replica's lease expired while it held it (frozen, cut off, killed); recorded by the replica that took over.
    public static let leaseLost = EventKind(rawValue: "lease.lost")
    /// A cloud call's reply arrived after its replica had lost the lease: an effect the next holder reconciles.
    public static let leaseUnfencedEffect = EventKind(rawValue: "lease.unfenced-effect")

    /// Every kind defined here, for `--event` help and validation.
    public static let known: [EventKind] = [
        .rotationStarted, .rotationResumed, .rotationCompleted, .rotationFailed, .rotationBlocked, .policyStuck,
        .rotationWaiting, .keyConfirmed, .keyExpiring, .keyUnusable, .notificationSent, .notificationFailed,
        .keyCreated, .keyVerified, .keyDelivered, .keyPromoted, .keyDisabled, .keyDeleted, .keyRetired, .keyAdopted,
        .keyAbandoned, .keyDiscovered, .keyVanished, .syncEnabled, .syncDisabled, .keyTracked, .leaseAcquired,
        .leaseLost, .leaseUnfencedEffect,
    ]
}

/// Who caused an event.
public enum Actor: String, Sendable, Codable, CaseIterable {
    /// The daemon or `reconcile`, on schedule.
    case scheduler
    /// A person: `rotate`, `sync enable`, ...
    case manual
    /// `rotate --emergency`.
    case emergency
}

/// An event to append. The store adds the sequence number, the time and the hash chain.
public struct NewEvent: Sendable {
    public var policy: String
    public var provider: ProviderKind
    public var zone: String
    public var rotationId: String?
    public var kind: EventKind
    public var keyId: String?
    public var actor: Actor
    public var reason: String?
    public var requestId: String?
    /// Flat string details (sink names, fingerprints, error codes), never secrets.
    public var detail: [String: String]

    public init(
        policy: String,
        provider: ProviderKind,
        zone: String,
        rotationId: String? = nil,
        kind: EventKind,
        keyId: String? = nil,
        actor: Actor,
        reason: String? = nil,
        requestId: String? = nil,
        detail: [String: String] = [:]
    ) {
        self.policy = policy
        self.provider = provider
        self.zone = zone
        self.rotationId = rotationId
        self.kind = kind
        self.keyId = keyId
        self.actor = actor
        self.reason = reason
        self.requestId = requestId
        self.detail = detail
    }
}

/// A recorded event, with its place in the SHA-256 chain (``HashChain``).
public struct HistoryEvent: Sendable, Codable, Equatable {
    public var seq: Int64
    /// UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public var time: String
    public var policy: String
    public var provider: ProviderKind
    public var zone: String
    public var rotationId: String?
    public var kind: EventKind
    public var keyId: String?
    public var actor: Actor
    public var reason: String?
    public var requestId: String?
    /// JSON object with sorted keys, or nil.
    public var detail: String?
    public var prevHash: String
    public var hash: String

    public init(
        seq: Int64,
        time: String,
        policy: String,
        provider: ProviderKind,
        zone: String,
        rotationId: String?,
        kind: EventKind,
        keyId: String?,
        actor: Actor,
        reason: String?,
        requestId: String?,
        detail: String?,
        prevHash: String,
        hash: String
    ) {
        self.seq = seq
        self.time = time
        self.policy = policy
        self.provider = provider
        self.zone = zone
        self.rotationId = rotationId
        self.kind = kind
        self.keyId = keyId
        self.actor = actor
        self.reason = reason
        self.requestId = requestId
        self.detail = detail
        self.prevHash = prevHash
        self.hash = hash
    }

    public var date: Date? { HistoryTime.parse(time) }

    /// ``detail`` as a dictionary (empty when there is none).
    public var details: [String: String] {
        guard let detail, let decoded = try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))
        else { return [:] }
        return decoded
    }
}

/// Fixed-width UTC timestamps with milliseconds, so that text order is time order.
public enum HistoryTime {
    public static func format(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1_000).rounded(.down))
        let seconds = Int((Double(millis) / 1_000).rounded(.down))
        let ms = Int(millis - Int64(seconds) * 1_000)
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = CivilDate.fromDays(days)
        return "\(y.zeroPadded(4))-\(m.zeroPadded(2))-\(d.zeroPadded(2))T\((secondOfDay / 3_600).zeroPadded(2)):"
            + "\((secondOfDay % 3_600 / 60).zeroPadded(2)):\((secondOfDay % 60).zeroPadded(2)).\(ms.zeroPadded(3))Z"
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
