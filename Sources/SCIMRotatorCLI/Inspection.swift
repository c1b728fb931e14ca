internal import Delivery
internal import Foundation
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore

/// A read-only look at one policy: the zone's keys now, the journal reconciled with them (in memory only), which
/// sink holds which key, and what the planner would do at a given time. `plan` and `status` are built on it; it
/// changes nothing. When the cloud cannot be asked, the journal's last known keys are shown, marked stale.
struct Inspection: Encodable {
    struct Key: Encodable {
        var id: String
        var status: String
        var role: String
        var createdAt: Date?
        var expiresAt: Date?
        var promotedAt: Date?
        var disabledAt: Date?
        var fingerprint: String?
        /// The policy's sinks whose consumers may hold this key.
        var heldBy: [String]
    }

    /// What one delivery destination holds.
    struct Sink: Encodable {
        var sink: String
        var keyId: String?
        var deliveredAt: Date?
        /// A delivery of this key started and its outcome is not recorded (a crash mid-delivery).
        var attemptKeyId: String?
        /// Earlier interrupted deliveries of other keys: the consumer may hold those too.
        var earlierAttemptKeyIds: [String]?
        var lastError: String?
    }

    var policy: String
    var provider: String
    var zone: String
    var at: Date
    var action: String
    var reason: String
    /// What follows at once (after an adoption, the rotation the adopted key needs).
    var then: String?
    var nextCheck: Date?
    var dueAt: Date?
    var warnings: [String]
    var syncStatus: String?
    var keys: [Key]
    var sinks: [Sink]
    var current: String?
    var previous: String?
    /// Why the current key does not work, when it does not.
    var currentProblem: String?
    var currentCheckedAt: Date?
    var failures: Int
    var stuck: Bool
    var blocked: Bool
    var lastError: String?
    var lastSuccessAt: Date?
    /// The keys are the journal's last known ones: the cloud could not be asked (see `error`).
    var stale: Bool
    var error: String?
    /// PostgreSQL replicas: the policy's lease (holder, expiry); nil with SQLite.
    var lease: LeaseStatus?

    /// Needs attention: exit status 1 for `status`.
    var needsAttention: Bool { error != nil || blocked || stuck || currentProblem != nil || unreplacedExpiry != nil }
    /// The current key expires soon and only a person can replace it (an issuer without a key API).
    var unreplacedExpiry: Date?

    /// Inspects every policy, `concurrency` at a time as `reconcile` runs them (each one waits on its cloud calls,
    /// which the shared rate limiters pace), and returns them in the policies' order.
    static func inspect(
        _ policies: [Policy],
        wiring: Wiring,
        store: (any HistoryStore)?,
        at moment: Date,
        concurrency: Int = 16
    ) async -> [Inspection] {
        await withTaskGroup(of: (Int, Inspection).self) { group in
            var results = [Inspection?](repeating: nil, count: policies.count)
            var started = 0
            while started < min(concurrency, policies.count) {
                let index = started
                group.addTask { (index, await inspect(policies[index], wiring: wiring, store: store, at: moment)) }
                started += 1
            }
            while let (index, inspection) = await group.next() {
                results[index] = inspection
                if started < policies.count {
                    let next = started
                    group.addTask { (next, await inspect(policies[next], wiring: wiring, store: store, at: moment)) }
                    started += 1
                }
            }
            return results.compactMap { $0 }
        }
    }

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
            sinks: [],
            failures: 0,
            stuck: false,
            blocked: false,
            stale: false
        )
        do {
            let records = try await store?.keys(policy: policy.name) ?? []
            let sinkRecords = try await store?.sinks(policy: policy.name) ?? []
            let state = try await store?.policyState(policy: policy.name) ?? PolicyState(policy: policy.name)
            let active = try await store?.activeRotation(policy: policy.name)
            let built = try? wiring.sinks(for: policy)
            let configured = built?.map(\.identity) ?? policy.deliver.map(\.summary)
            let readable = built?.filter { $0 is any ReadableSink }.map(\.identity) ?? []
            let holdings = Safety.Holdings(records: sinkRecords, configured: configured, readable: readable)
            inspection.failures = state.failures
            inspection.stuck = state.stuck
            inspection.blocked = state.blocked
            inspection.lastError = state.lastError
            inspection.lastSuccessAt = state.lastSuccessAt
            inspection.currentCheckedAt = state.currentCheckedAt
            inspection.sinks = sinkRecords.filter { configured.contains($0.sink) }.map {
                Sink(
                    sink: $0.sink,
                    keyId: $0.keyId,
                    deliveredAt: $0.deliveredAt,
                    attemptKeyId: $0.attemptKeyId,
                    earlierAttemptKeyIds: $0.earlierAttemptKeyIds,
                    lastError: $0.lastError
                )
            }
            let observed: [SCIMKey]
            let sync: SyncStatus?
            do {
                let provider = try wiring.provider(for: policy)
                observed = try await provider.listKeys()
                sync = try? await provider.syncStatus()
            } catch {
                inspection.stale = true
                inspection.error = "\(error)"
                inspection.reason = "cannot list the zone's keys (\(error)); showing the journal's last known keys"
                inspection.keys = records.filter { !$0.role.isGone }.map { record in
                    Key(
                        id: record.keyId,
                        status: record.status?.rawValue ?? "?",
                        role: record.role.rawValue,
                        createdAt: record.createdAt,
                        expiresAt: record.expiresAt,
                        promotedAt: record.promotedAt,
                        disabledAt: record.disabledAt,
                        fingerprint: record.fingerprint,
                        heldBy: holdings.holders(of: record.keyId)
                    )
                }
                inspection.current = records.first { $0.role == .current }?.keyId
                if state.currentProblemKeyId == inspection.current { inspection.currentProblem = state.currentProblem }
                return inspection
            }
            inspection.syncStatus = sync?.rawValue
            let reconciled = KeyReconcilerPreview.apply(
                policy: policy,
                observed: observed,
                records: records,
                active: active,
                now: at
            )
            let input = PolicyRunner.planInput(
                policy: policy,
                observed: observed,
                keys: reconciled,
                sinkRecords: sinkRecords,
                configuredSinks: configured,
                readableSinks: readable,
                active: active,
                state: state,
                now: at,
                syncStatus: sync
            )
            let plan = Planner.plan(input)
            inspection.action = Planner.describe(plan.action)
            inspection.reason = plan.reason
            inspection.then = plan.then
            inspection.nextCheck = plan.nextCheck
            inspection.dueAt = plan.dueAt
            inspection.warnings = plan.warnings
            inspection.unreplacedExpiry = plan.unreplacedExpiry
            inspection.currentProblem = input.currentProblem
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
                    fingerprint: record?.fingerprint,
                    heldBy: holdings.holders(of: key.id)
                )
            }
            inspection.current = reconciled.first { $0.role == .current }?.keyId
            inspection.previous =
                reconciled.filter { $0.role == .previous }.max {
                    ($0.promotedAt ?? .distantPast) < ($1.promotedAt ?? .distantPast)
                }?.keyId
        } catch {
            inspection.action = "error"
            inspection.error = "\(error)"
            inspection.reason = "\(error)"
        }
        return inspection
    }
}
