import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The pure planner: policy, observed keys, journal and now in; the next action, its reason and the next time to look
/// out. No I/O and no clock of its own, so every decision is a function a test can call.
public enum Planner {
    public static func plan(_ input: PlanInput) -> Plan {
        var plan = decide(input)
        if case .adopt(let keyId) = plan.action {
            // What the adopted key needs at once (plan shows it; the runner carries it out in the same pass).
            var adopted = input
            if let index = adopted.keys.firstIndex(where: { $0.keyId == keyId }) {
                adopted.keys[index].role = .current
                adopted.keys[index].promotedAt = input.now
            } else if let key = input.observed.first(where: { $0.id == keyId }) {
                var record = KeyRecord(policy: input.policy.name, keyId: keyId, role: .current, firstSeen: input.now)
                record.observe(key, at: input.now)
                record.promotedAt = input.now
                adopted.keys.append(record)
            }
            let next = decide(adopted)
            plan.then = "\(describe(next.action)): \(next.reason)"
            plan.dueAt = next.dueAt
        }
        if input.syncStatus == .disabled {
            plan.warnings.append(
                "SCIM synchronization is disabled in this zone: its keys serve no identity provider until it is enabled (scim-rotator sync enable \(input.policy.name))"
            )
        }
        if let kept = Safety.lastKeyKept(observed: input.observed, policy: input.policy),
            let record = input.keys.first(where: { $0.keyId == kept }), record.intent != nil || record.role == .pending
        {
            plan.warnings.append(
                "\(kept) is to be \(record.intent.map { "\($0.rawValue)ed" } ?? "abandoned") but is the zone's only key, "
                    + "which \(input.policy.provider.traits.serviceName) refuses to delete: it stays (handed to no one) "
                    + "and is removed once another key exists"
            )
        }
        for record in Safety.awaitingDeletion(records: input.keys, policy: input.policy) {
            plan.warnings.append(
                "waiting for a person to delete \(record.keyId) in \(input.policy.provider.traits.consoleName) "
                    + "(asked \(record.intentAt.map(TimeText.minute) ?? "?")); then run "
                    + "`scim-rotator confirm \(input.policy.name) --old-deleted`"
            )
        }
        if !input.policy.provider.traits.canCreate, plan.action == .wait || plan.action == .idle,
            [nil, .started, .awaitingToken].contains(input.activeRotation?.state),
            let expires = input.currentRecord?.expiresAt,
            expires.timeIntervalSince(input.now) < input.policy.rotation.effectiveWarnBefore.timeInterval
        {
            plan.unreplacedExpiry = expires
            plan.warnings.append(
                "the current token expires \(TimeText.minute(expires)) and no replacement was handed over: generate one "
                    + "in \(input.policy.provider.traits.consoleName) and run "
                    + "`scim-rotator rotate \(input.policy.name) --token-stdin`"
            )
        }
        if input.state.stuck {
            plan.warnings.append(
                "stuck: \(input.state.failures) consecutive failures; last: \(input.state.lastError ?? "?")"
            )
        }
        let foreign = input.observed.filter { key in
            key.isUsable(at: input.now) && input.keys.first { $0.keyId == key.id }?.role == .other
        }
        for key in foreign {
            plan.warnings.append(
                "key \(key.id) was not made by this tool; it is left alone (at the key limit it blocks a rotation until "
                    + "you retire it: `scim-rotator rotate \(input.policy.name) --retire \(key.id)`)"
            )
        }
        return plan
    }

    /// A short name of an action, for `plan`, `status` and logs.
    public static func describe(_ action: PlannedAction) -> String {
        switch action {
        case .idle: return "none"
        case .wait: return "wait"
        case .adopt(let key): return "adopt \(key)"
        case .resume(let id): return "resume \(id.prefix(8))"
        case .supersede(let id): return "supersede \(id.prefix(8))"
        case .finishIntents(let keys): return "finish \(keys.joined(separator: ","))"
        case .rotate(let trigger): return "rotate (\(trigger.rawValue))"
        case .disable(let keys): return "disable \(keys.joined(separator: ","))"
        case .delete(let keys): return "delete \(keys.joined(separator: ","))"
        case .abandon(let keys): return "abandon \(keys.joined(separator: ","))"
        }
    }

    static func decide(_ input: PlanInput) -> Plan {
        let now = input.now
        let policy = input.policy
        let settings = policy.rotation
        let backoffUntil = input.state.nextAttemptAt.flatMap { $0 > now ? $0 : nil }
        if let rotation = input.activeRotation {
            return active(rotation, input: input, backoffUntil: backoffUntil)
        }
        // The zone's only key on a cloud that refuses to delete it: its removal waits for another key.
        let kept = Safety.lastKeyKept(observed: input.observed, policy: policy)
        let asked = Set(Safety.awaitingDeletion(records: input.keys, policy: policy).map(\.keyId))
        let pendingIntents = input.keys.filter {
            $0.intent != nil && !$0.role.isGone && $0.keyId != kept && !asked.contains($0.keyId)
        }.map(\.keyId)
        if !pendingIntents.isEmpty {
            return Plan(
                action: .finishIntents(keyIds: pendingIntents),
                reason: "finishing \(pendingIntents.count) step(s) interrupted by a crash",
                nextCheck: now
            )
        }
        let strays = Safety.strays(observed: input.observed, records: input.keys, holdings: input.holdings, active: nil)
            .filter { $0 != kept }
        if !strays.isEmpty {
            return Plan(
                action: .abandon(keyIds: strays),
                reason: "\(strays.joined(separator: ", ")): created by this tool, handed to no sink, and no rotation "
                    + "carries it on: it serves no one",
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

        guard let currentRecord = input.currentRecord,
            let current = input.observed.first(where: { $0.id == currentRecord.keyId })
        else {
            let hadCurrent = input.keys.contains { $0.promotedAt != nil }
            // A key this tool created and never promoted (a rotation that ended blocked or failed before reaching
            // every sink) is not what the consumers use: adopting it would call a partial delivery done. A key whose
            // removal is announced (one kept as the zone's last) is never adopted either.
            let excluded = Set(
                input.keys.filter { [.pending, .abandoned].contains($0.role) || $0.intent != nil }.map(\.keyId)
            )
            if !hadCurrent,
                let newest = input.observed.filter({ $0.isUsable(at: now) && !excluded.contains($0.id) })
                    .max(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) })
            {
                return Plan(
                    action: .adopt(keyId: newest.id),
                    reason: "first contact: adopting \(newest.id), the newest enabled unexpired key, as current",
                    nextCheck: now
                )
            }
            let why =
                hadCurrent
                ? "the current key \(input.currentRecord?.keyId ?? "(none recorded)") is gone from the zone"
                : "the zone has no usable key"
            return rotateUnlessBackingOff(why, input: input, backoffUntil: backoffUntil)
        }

        if let problem = input.currentProblem {
            if input.syncStatus == .disabled || input.state.syncStatus == .disabled {
                return Plan(
                    action: .wait,
                    reason: "\(problem); SCIM synchronization is disabled in this zone, so a new key would be refused "
                        + "too: enable it (scim-rotator sync enable \(policy.name))",
                    nextCheck: checkTimes(input, current: current).min()
                )
            }
            return rotateUnlessBackingOff(problem, input: input, backoffUntil: backoffUntil)
        }

        let divergent = input.holdings.divergent(from: current.id)
        if !divergent.isEmpty {
            let apart = divergent.map { "\($0.sink) may hold \($0.keyId)" }.joined(separator: ", ")
            return rotateUnlessBackingOff(
                "partial delivery: \(apart), while the current key is \(current.id); a rotation brings every sink "
                    + "to one key",
                input: input,
                backoffUntil: backoffUntil
            )
        }

        // When is the current key due?
        let expiryDue = current.expiresAt.addingTimeInterval(-settings.rotateBefore.timeInterval)
        let ageDue = settings.maxAge.map { current.createdAt.addingTimeInterval($0.timeInterval) }
        let dueAt = min(expiryDue, ageDue ?? .distantFuture)
        let startAt = dueAt.addingTimeInterval(-jitterOffset(policy))
        let maintenance = self.maintenance(input)
        if now >= startAt {
            let remaining = current.expiresAt.timeIntervalSince(now)
            let because =
                dueAt == expiryDue
                ? "the current key \(current.id) expires in \(TimeText.span(remaining)) (rotateBefore \(settings.rotateBefore))"
                : "the current key \(current.id) is \(TimeText.span(now.timeIntervalSince(current.createdAt))) old (maxAge \(settings.maxAge.map { "\($0)" } ?? "-"))"
            if let backoffUntil {
                if let maintenance { return maintenance }
                return Plan(
                    action: .wait,
                    reason:
                        "\(because); backing off after \(input.state.failures) failure(s) until \(TimeText.minute(backoffUntil))",
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
                if let maintenance { return maintenance }
                return Plan(
                    action: .wait,
                    reason: "\(because); waiting for the window \(window.summary) (at \(TimeText.minute(wake)))",
                    nextCheck: ([wake] + maintenanceTimes(input) + checkTimes(input, current: current)).min(),
                    dueAt: dueAt
                )
            }
            return Plan(action: .rotate(trigger: .scheduled), reason: because, nextCheck: now, dueAt: dueAt)
        }
        if let maintenance { return maintenance }
        return Plan(
            action: .idle,
            reason:
                "the current key \(current.id) expires \(TimeText.minute(current.expiresAt)); next rotation due \(TimeText.minute(startAt))",
            nextCheck: ([startAt] + maintenanceTimes(input) + checkTimes(input, current: current)).min(),
            dueAt: dueAt
        )
    }

    /// A rotation the journal shows in progress.
    static func active(_ rotation: RotationRecord, input: PlanInput, backoffUntil: Date?) -> Plan {
        let now = input.now
        let policy = input.policy
        if rotation.state == .awaitingToken, input.request == nil {
            var plan = Plan(
                action: .wait,
                reason: "waiting for a person since \(TimeText.minute(rotation.updatedAt)): "
                    + (rotation.waitingFor ?? "hand over the new token with `rotate --token-stdin`"),
                nextCheck: input.currentRecord.flatMap { record in
                    input.observed.first { $0.id == record.keyId }.map { checkTimes(input, current: $0).min() }
                } ?? nil
            )
            if let problem = input.currentProblem { plan.reason = "\(problem); \(plan.reason)" }
            return plan
        }
        if rotation.state == .awaitingConfirmation, rotation.confirmedAt == nil {
            if input.request?.trigger == .emergency {
                return Plan(
                    action: .supersede(rotationId: rotation.id),
                    reason: "emergency: replacing rotation \(rotation.id.prefix(8)), which waits for a confirmation",
                    nextCheck: now
                )
            }
            var plan = Plan(
                action: .wait,
                reason:
                    "key \(rotation.newKeyId ?? "?") was handed to a person (manual delivery) \(TimeText.minute(rotation.updatedAt)); "
                    + "the current key stays enabled until someone runs `scim-rotator confirm \(policy.name)`",
                nextCheck: input.currentRecord.flatMap { record in
                    input.observed.first { $0.id == record.keyId }.map { checkTimes(input, current: $0).min() }
                } ?? nil
            )
            if let problem = input.currentProblem { plan.reason = "\(problem); \(plan.reason)" }
            return plan
        }
        if input.request == nil, let backoffUntil, rotation.lastError != nil {
            return Plan(
                action: .wait,
                reason:
                    "rotation \(rotation.id.prefix(8)) failed at \(rotation.state.rawValue) (\(rotation.lastError ?? "?")); "
                    + "retrying with the same key \(rotation.newKeyId ?? "") at \(TimeText.minute(backoffUntil))",
                nextCheck: backoffUntil
            )
        }
        return Plan(
            action: .resume(rotationId: rotation.id),
            reason: "rotation \(rotation.id.prefix(8)) is at \(rotation.state.rawValue); resuming",
            nextCheck: now
        )
    }

    static func rotateUnlessBackingOff(_ why: String, input: PlanInput, backoffUntil: Date?) -> Plan {
        if let backoffUntil {
            return Plan(
                action: .wait,
                reason:
                    "\(why); backing off after \(input.state.failures) failure(s) until \(TimeText.minute(backoffUntil))",
                nextCheck: backoffUntil
            )
        }
        return Plan(action: .rotate(trigger: .scheduled), reason: "\(why): rotating now", nextCheck: input.now)
    }

    /// Disable/delete work whose time has come, if any.
    static func maintenance(_ input: PlanInput) -> Plan? {
        let now = input.now
        let toDisable = Safety.disableTimes(
            observed: input.observed,
            records: input.keys,
            holdings: input.holdings,
            policy: input.policy
        ).filter { $0.at <= now }.map(\.keyId)
        if !toDisable.isEmpty {
            return Plan(
                action: .disable(keyIds: toDisable),
                reason:
                    "grace period (\(input.policy.rotation.gracePeriod)) over for \(toDisable.joined(separator: ", ")): no sink holds it any more",
                nextCheck: now
            )
        }
        let toDelete = Safety.deleteTimes(
            observed: input.observed,
            records: input.keys,
            holdings: input.holdings,
            policy: input.policy
        ).filter { $0.at <= now }.map(\.keyId)
        if !toDelete.isEmpty, !input.policy.provider.traits.canDisable {
            return Plan(
                action: .delete(keyIds: toDelete),
                reason:
                    "grace period (\(input.policy.rotation.gracePeriod)) over for \(toDelete.joined(separator: ", ")): no sink holds it any more; \(input.policy.provider.traits.serviceName) cannot disable a key, so it is deleted",
                nextCheck: now
            )
        }
        if !toDelete.isEmpty {
            return Plan(
                action: .delete(keyIds: toDelete),
                reason:
                    "disabled more than deleteAfter (\(input.policy.rotation.deleteAfter.map { "\($0)" } ?? "never")) ago: deleting \(toDelete.joined(separator: ", "))",
                nextCheck: now
            )
        }
        return nil
    }

    static func maintenanceTimes(_ input: PlanInput) -> [Date] {
        Safety.disableTimes(
            observed: input.observed,
            records: input.keys,
            holdings: input.holdings,
            policy: input.policy
        )
        .map(\.at)
            + Safety.deleteTimes(
                observed: input.observed,
                records: input.keys,
                holdings: input.holdings,
                policy: input.policy
            )
            .map(\.at)
    }

    /// When the current key next needs a look even if nothing is due: its SCIM check, its expiry warning, its expiry.
    static func checkTimes(_ input: PlanInput, current: SCIMKey) -> [Date] {
        var times = [
            current.expiresAt,
            current.expiresAt.addingTimeInterval(-input.policy.rotation.effectiveWarnBefore.timeInterval),
        ].filter { $0 > input.now }
        if let interval = input.policy.verify.current, let current = input.currentRecord, current.fingerprint != nil,
            input.holdings.readableHolder(of: current.keyId)
        {
            // A check that is due now happens in this pass (every pass checks): the next one is an interval away.
            let due = (input.state.currentCheckedAt ?? input.now).addingTimeInterval(interval.timeInterval)
            times.append(due > input.now ? due : input.now.addingTimeInterval(interval.timeInterval))
        }
        return times
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

}
