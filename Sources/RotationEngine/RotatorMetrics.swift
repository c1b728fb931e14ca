import Foundation
import Metrics
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// The metrics the engine emits through swift-metrics (Prometheus names, in cert-manager's style). Without a
/// bootstrapped backend they cost nothing; the daemon bootstraps Prometheus and serves them on `/metrics`.
public enum RotatorMetrics {
    public static let keyExpiration = "scim_rotator_key_expiration_timestamp_seconds"
    public static let nextRotation = "scim_rotator_next_rotation_timestamp_seconds"
    public static let lastSuccess = "scim_rotator_last_success_timestamp_seconds"
    public static let rotations = "scim_rotator_rotations_total"
    public static let stuck = "scim_rotator_policy_stuck"
    public static let blocked = "scim_rotator_policy_blocked"
    public static let failures = "scim_rotator_policy_consecutive_failures"
    public static let loopTick = "scim_rotator_loop_last_tick_timestamp_seconds"
    public static let timerLateness = "scim_rotator_timer_lateness_seconds"

    /// Key gauges published per policy, so that gauges of deleted keys are withdrawn.
    private static let published = Mutex<[String: Set<String>]>([:])

    /// After each pass: expiry of every key in the zone, the next rotation, the last success, stuck/blocked.
    static func record(policy: Policy, keys: [KeyRecord], state: PolicyState, dueAt: Date?) {
        let live = keys.filter { !$0.role.isGone }
        for key in live {
            guard let expires = key.expiresAt else { continue }
            Gauge(
                label: keyExpiration,
                dimensions: [("policy", policy.name), ("key_id", key.keyId), ("role", key.role.rawValue)]
            )
            .record(expires.timeIntervalSince1970)
        }
        let ids = Set(live.map { "\($0.keyId)|\($0.role.rawValue)" })
        let stale = published.withLock { published -> Set<String> in
            let old = published[policy.name] ?? []
            published[policy.name] = ids
            return old.subtracting(ids)
        }
        for entry in stale {
            let parts = entry.split(separator: "|").map(String.init)
            Gauge(
                label: keyExpiration,
                dimensions: [("policy", policy.name), ("key_id", parts[0]), ("role", parts.count > 1 ? parts[1] : "")]
            ).destroy()
        }
        if let dueAt {
            Gauge(label: nextRotation, dimensions: [("policy", policy.name)]).record(dueAt.timeIntervalSince1970)
        }
        if let success = state.lastSuccessAt {
            Gauge(label: lastSuccess, dimensions: [("policy", policy.name)]).record(success.timeIntervalSince1970)
        }
        Gauge(label: stuck, dimensions: [("policy", policy.name)]).record(state.stuck ? 1 : 0)
        Gauge(label: blocked, dimensions: [("policy", policy.name)]).record(state.blocked ? 1 : 0)
        Gauge(label: failures, dimensions: [("policy", policy.name)]).record(state.failures)
    }

    static func rotation(policy: String, trigger: RotationTrigger, outcome: String) {
        Counter(
            label: rotations,
            dimensions: [("policy", policy), ("trigger", trigger.rawValue), ("outcome", outcome)]
        ).increment()
    }

    /// The scheduler woke up (`lateness`: how much later than armed the timer fired, real seconds).
    public static func tick(at date: Date, lateness: Double?) {
        Gauge(label: loopTick).record(date.timeIntervalSince1970)
        if let lateness { Gauge(label: timerLateness).record(lateness) }
    }
}
