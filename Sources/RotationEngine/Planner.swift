import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// A rotation someone asked for (`rotate`), as opposed to one the schedule calls for.
public struct RotationRequest: Sendable, Equatable {
    public var trigger: RotationTrigger
    public var reason: String?
    /// Emergency: delete the other keys too, not only disable them.
    public var deleteOld: Bool

    public init(trigger: RotationTrigger, reason: String?, deleteOld: Bool = false) {
        self.trigger = trigger
        self.reason = reason
        self.deleteOld = deleteOld
    }
}

/// What the planner decides to do next for one policy.
public enum PlannedAction: Sendable, Equatable {
    /// Nothing to do before `Plan.nextCheck`.
    case idle
    /// A rotation is due but waits (window, back-off) until `Plan.nextCheck`.
    case wait
    /// First contact: make this existing key the current one.
    case adopt(keyId: String)
    /// Continue a rotation a crash interrupted.
    case resume(rotationId: String)
    /// Finish side effects announced before a crash (disable, delete, retire, abandon).
    case finishIntents(keyIds: [String])
    case rotate(trigger: RotationTrigger)
    /// Grace period over: disable these keys.
    case disable(keyIds: [String])
    /// `deleteAfter` over: delete these keys (this tool disabled them).
    case delete(keyIds: [String])
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

    public init(
        policy: Policy,
        observed: [SCIMKey],
        keys: [KeyRecord],
        activeRotation: RotationRecord? = nil,
        state: PolicyState,
        now: Date,
        request: RotationRequest? = nil,
        syncStatus: SyncStatus? = nil
    ) {
        self.policy = policy
        self.observed = observed
        self.keys = keys
        self.activeRotation = activeRotation
        self.state = state
        self.now = now
        self.request = request
        self.syncStatus = syncStatus
    }
}

/// The rotation planner: policy + observed keys + journal + now → decision and reason. Pure and deterministic.
public enum Planner {
    public static func plan(_ input: PlanInput) -> Plan {
        var plan = decide(input)
        if input.syncStatus == .disabled {
            plan.warnings.append(
                "SCIM synchronization is disabled in this zone: its keys serve no identity provider until it is enabled (scim-rotator sync enable \(input.policy.name))"
            )
        }
        if input.state.stuck {
            plan.warnings.append(
                "stuck: \(input.state.failures) consecutive failures; last: \(input.state.lastError ?? "?")"
            )
        }
        return plan
    }

    static func decide(_ input: PlanInput) -> Plan {
        let now = input.now
        let policy = input.policy
        let settings = policy.rotation
        if let rotation = input.activeRotation, rotation.state == .awaitingConfirmation, rotation.confirmedAt == nil {
            return Plan(
                action: .wait,
                reason:
                    "key \(rotation.newKeyId ?? "?") was handed to a person (manual delivery) \(format(rotation.updatedAt)); "
                    + "the current key stays enabled until someone runs `scim-rotator confirm \(policy.name)`",
                nextCheck: nil
            )
        }
        if let rotation = input.activeRotation {
            return Plan(
                action: .resume(rotationId: rotation.id),
                reason: "rotation \(rotation.id.prefix(8)) was interrupted at \(rotation.state.rawValue); resuming",
                nextCheck: now
            )
        }
        let observedById = Dictionary(input.observed.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let pendingIntents = input.keys.filter { $0.intent != nil && !$0.role.isGone }.map(\.keyId)
        if !pendingIntents.isEmpty {
            return Plan(
                action: .finishIntents(keyIds: pendingIntents),
                reason: "finishing \(pendingIntents.count) step(s) interrupted by a crash",
                nextCheck: now
            )
        }
        if let request = input.request {
            return Plan(
                action: .rotate(trigger: request.trigger),
                reason: request.reason ?? "\(request.trigger.rawValue) rotation requested",
                nextCheck: now
            )
        }
        let backoffUntil = input.state.nextAttemptAt.flatMap { $0 > now ? $0 : nil }

        let currentRecord = input.keys.first { $0.role == .current }
        guard let currentRecord, let current = observedById[currentRecord.keyId] else {
            let hadCurrent = input.keys.contains { $0.promotedAt != nil }
            if !hadCurrent,
                let newest = input.observed.filter({ $0.isUsable(at: now) }).max(by: { $0.createdAt < $1.createdAt })
            {
                return Plan(
                    action: .adopt(keyId: newest.id),
                    reason: "first contact: adopting \(newest.id), the newest enabled unexpired key, as current",
                    nextCheck: now
                )
            }
            let why =
                hadCurrent
                ? "the current key \(currentRecord?.keyId ?? "") is gone from the zone" : "the zone has no usable key"
            if let backoffUntil {
                return Plan(
                    action: .wait,
                    reason:
                        "\(why); backing off after \(input.state.failures) failure(s) until \(format(backoffUntil))",
                    nextCheck: backoffUntil
                )
            }
            return Plan(action: .rotate(trigger: .scheduled), reason: "\(why): rotating now", nextCheck: now)
        }

        if !current.isUsable(at: now) {
            let why =
                current.status == .disabled
                ? "the current key \(current.id) was disabled outside this tool"
                : "the current key \(current.id) has expired"
            if let backoffUntil {
                return Plan(
                    action: .wait,
                    reason: "\(why); backing off until \(format(backoffUntil))",
                    nextCheck: backoffUntil
                )
            }
            return Plan(action: .rotate(trigger: .scheduled), reason: "\(why): rotating now", nextCheck: now)
        }

        // When is the current key due?
        let expiryDue = current.expiresAt.addingTimeInterval(-settings.rotateBefore.timeInterval)
        let ageDue = settings.maxAge.map { current.createdAt.addingTimeInterval($0.timeInterval) }
        let dueAt = min(expiryDue, ageDue ?? .distantFuture)
        let startAt = dueAt.addingTimeInterval(-jitterOffset(policy))
        var candidates: [Date] = []
        if now >= startAt {
            let remaining = current.expiresAt.timeIntervalSince(now)
            let because =
                dueAt == expiryDue
                ? "the current key \(current.id) expires in \(span(remaining)) (rotateBefore \(settings.rotateBefore))"
                : "the current key \(current.id) is \(span(now.timeIntervalSince(current.createdAt))) old (maxAge \(settings.maxAge!))"
            if let backoffUntil {
                candidates.append(backoffUntil)
                let maintenance = self.maintenance(input, current: currentRecord)
                if let maintenance { return maintenance }
                return Plan(
                    action: .wait,
                    reason:
                        "\(because); backing off after \(input.state.failures) failure(s) until \(format(backoffUntil))",
                    nextCheck: backoffUntil,
                    dueAt: dueAt
                )
            }
            if let window = settings.window, !window.contains(now) {
                let urgentAt = current.expiresAt.addingTimeInterval(-settings.rotateBefore.timeInterval / 2)
                if now >= urgentAt {
                    return Plan(
                        action: .rotate(trigger: .scheduled),
                        reason:
                            "\(because); outside the window \(window.summary), but less than half of rotateBefore remains: rotating anyway",
                        nextCheck: now,
                        dueAt: dueAt
                    )
                }
                let opening = window.nextOpening(atOrAfter: now) ?? urgentAt
                let wake = min(opening, urgentAt)
                if let maintenance = self.maintenance(input, current: currentRecord) { return maintenance }
                return Plan(
                    action: .wait,
                    reason: "\(because); waiting for the window \(window.summary) (at \(format(wake)))",
                    nextCheck: earliest([wake] + maintenanceTimes(input, current: currentRecord)),
                    dueAt: dueAt
                )
            }
            return Plan(action: .rotate(trigger: .scheduled), reason: because, nextCheck: now, dueAt: dueAt)
        }
        candidates.append(startAt)
        if let maintenance = self.maintenance(input, current: currentRecord) { return maintenance }
        candidates += maintenanceTimes(input, current: currentRecord)
        return Plan(
            action: .idle,
            reason:
                "the current key \(current.id) expires \(format(current.expiresAt)); next rotation due \(format(startAt))",
            nextCheck: earliest(candidates),
            dueAt: dueAt
        )
    }

    /// Disable/delete work whose time has come, if any.
    static func maintenance(_ input: PlanInput, current: KeyRecord) -> Plan? {
        let now = input.now
        let toDisable = disableTimes(input, current: current).filter { $0.at <= now }.map(\.keyId)
        if !toDisable.isEmpty {
            return Plan(
                action: .disable(keyIds: toDisable),
                reason:
                    "grace period (\(input.policy.rotation.gracePeriod)) over for \(toDisable.joined(separator: ", ")): disabling every enabled key but the current one",
                nextCheck: now
            )
        }
        let toDelete = deleteTimes(input).filter { $0.at <= now }.map(\.keyId)
        if !toDelete.isEmpty {
            return Plan(
                action: .delete(keyIds: toDelete),
                reason:
                    "disabled more than deleteAfter (\(input.policy.rotation.deleteAfter!)) ago: deleting \(toDelete.joined(separator: ", "))",
                nextCheck: now
            )
        }
        return nil
    }

    static func maintenanceTimes(_ input: PlanInput, current: KeyRecord) -> [Date] {
        disableTimes(input, current: current).map(\.at) + deleteTimes(input).map(\.at)
    }

    /// Every enabled key but the current one is disabled `gracePeriod` after the current one was promoted (or after
    /// the key was first seen, if later).
    static func disableTimes(_ input: PlanInput, current: KeyRecord) -> [(keyId: String, at: Date)] {
        let records = Dictionary(input.keys.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        let anchor = current.promotedAt ?? current.firstSeen
        return input.observed.filter {
            $0.status == .enabled && $0.id != current.keyId && records[$0.id]?.role != .pending
        }
        .map { key in
            let seen = records[key.id]?.firstSeen ?? input.now
            return (key.id, max(anchor, seen).addingTimeInterval(input.policy.rotation.gracePeriod.timeInterval))
        }
    }

    /// Keys this tool disabled are deleted `deleteAfter` later (never, when deleteAfter is "never").
    static func deleteTimes(_ input: PlanInput) -> [(keyId: String, at: Date)] {
        guard let deleteAfter = input.policy.rotation.deleteAfter else { return [] }
        let observed = Set(input.observed.filter { $0.status == .disabled }.map(\.id))
        return input.keys.filter { $0.disabledByUs && observed.contains($0.keyId) && $0.role != .current }
            .compactMap { record in
                record.disabledAt.map { (record.keyId, $0.addingTimeInterval(deleteAfter.timeInterval)) }
            }
    }

    /// A fixed offset in 0..<jitter per policy name (FNV-1a), so plans are reproducible and policies spread out.
    public static func jitterOffset(_ policy: Policy) -> Double {
        guard let jitter = policy.rotation.jitter, jitter.seconds > 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in policy.name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Double(hash % UInt64(jitter.seconds))
    }

    static func earliest(_ dates: [Date]) -> Date? { dates.min() }

    static func format(_ date: Date) -> String {
        HistoryTime.format(date).prefix(16).replacingOccurrences(of: "T", with: " ") + "Z"
    }

    static func span(_ seconds: Double) -> String {
        if seconds < 0 { return "-" + span(-seconds) }
        let days = Int(seconds / 86_400)
        if days >= 2 { return "\(days)d" }
        let hours = Int(seconds / 3_600)
        if hours >= 1 { return "\(hours)h" }
        return "\(Int(seconds / 60))m"
    }
}
