import Delivery
import Foundation
import Logging
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// A read-only look at one policy: the zone's keys now, the journal reconciled with them (in memory only), and
/// what the planner would do at a given time. `plan` and `status` are built on it; it changes nothing.
struct Inspection: Encodable {
    struct Key: Encodable {
        var id: String
        var status: String
        var role: String
        var createdAt: Date
        var expiresAt: Date
        var promotedAt: Date?
        var disabledAt: Date?
        var fingerprint: String?
    }

    var policy: String
    var provider: String
    var zone: String
    var at: Date
    var action: String
    var reason: String
    var nextCheck: Date?
    var dueAt: Date?
    var warnings: [String]
    var syncStatus: String?
    var keys: [Key]
    var current: String?
    var previous: String?
    var failures: Int
    var stuck: Bool
    var blocked: Bool
    var lastError: String?
    var lastSuccessAt: Date?
    var error: String?

    static func inspect(_ policy: Policy, wiring: Wiring, store: (any HistoryStore)?, at: Date) async -> Inspection {
        var inspection = Inspection(
            policy: policy.name,
            provider: policy.provider.rawValue,
            zone: policy.zone,
            at: at,
            action: "unknown",
            reason: "",
            warnings: [],
            keys: [],
            failures: 0,
            stuck: false,
            blocked: false
        )
        do {
            let provider = try wiring.provider(for: policy)
            let observed = try await provider.listKeys()
            let sync = try? await provider.syncStatus()
            inspection.syncStatus = sync?.rawValue
            let records = try store?.keys(policy: policy.name) ?? []
            let reconciled = JournalSyncPreview.apply(policy: policy, observed: observed, records: records, now: at)
            let state = try store?.policyState(policy: policy.name) ?? PolicyState(policy: policy.name)
            let plan = Planner.plan(
                PlanInput(
                    policy: policy,
                    observed: observed,
                    keys: reconciled,
                    activeRotation: try store?.activeRotation(policy: policy.name),
                    state: state,
                    now: at,
                    syncStatus: sync
                )
            )
            inspection.action = Self.describe(plan.action)
            inspection.reason = plan.reason
            inspection.nextCheck = plan.nextCheck
            inspection.dueAt = plan.dueAt
            inspection.warnings = plan.warnings
            let byId = Dictionary(reconciled.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
            inspection.keys = observed.sorted { $0.createdAt < $1.createdAt }.map { key in
                let record = byId[key.id]
                return Key(
                    id: key.id,
                    status: key.status.rawValue,
                    role: record?.role.rawValue ?? "other",
                    createdAt: key.createdAt,
                    expiresAt: key.expiresAt,
                    promotedAt: record?.promotedAt,
                    disabledAt: record?.disabledAt,
                    fingerprint: record?.fingerprint
                )
            }
            inspection.current = reconciled.first { $0.role == .current }?.keyId
            inspection.previous =
                reconciled.filter { $0.role == .previous }.max {
                    ($0.promotedAt ?? .distantPast) < ($1.promotedAt ?? .distantPast)
                }?.keyId
            inspection.failures = state.failures
            inspection.stuck = state.stuck
            inspection.blocked = state.blocked
            inspection.lastError = state.lastError
            inspection.lastSuccessAt = state.lastSuccessAt
        } catch {
            inspection.action = "error"
            inspection.error = "\(error)"
            inspection.reason = "\(error)"
        }
        return inspection
    }

    static func describe(_ action: PlannedAction) -> String {
        switch action {
        case .idle: return "none"
        case .wait: return "wait"
        case .adopt(let key): return "adopt \(key)"
        case .resume(let id): return "resume \(id.prefix(8))"
        case .finishIntents(let keys): return "finish \(keys.joined(separator: ","))"
        case .rotate(let trigger): return "rotate (\(trigger.rawValue))"
        case .disable(let keys): return "disable \(keys.joined(separator: ","))"
        case .delete(let keys): return "delete \(keys.joined(separator: ","))"
        }
    }
}
