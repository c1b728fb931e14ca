import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Testing

/// The pure decisions behind "never break a consumer", one rule at a time.
@Suite("Safety: who may hold what, and what may be retired")
struct SafetyTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy = Policy(
        name: "p",
        provider: .tencent,
        zone: "z-000000000001",
        rotation: RotationSettings(keyLifetime: .days(90), rotateBefore: .days(30), gracePeriod: .hours(24))
    )

    static func key(_ id: String, ageDays: Double, status: KeyStatus = .enabled, lifetimeDays: Double = 90) -> SCIMKey {
        let created = now.addingTimeInterval(-ageDays * 86_400)
        return SCIMKey(
            id: id,
            status: status,
            createdAt: created,
            expiresAt: created.addingTimeInterval(lifetimeDays * 86_400)
        )
    }

    static func record(
        _ id: String,
        _ role: KeyRole,
        promotedDaysAgo: Double? = nil,
        rotation: String? = nil
    )
        -> KeyRecord
    {
        var record = KeyRecord(policy: "p", keyId: id, role: role, firstSeen: now.addingTimeInterval(-100 * 86_400))
        record.promotedAt = promotedDaysAgo.map { now.addingTimeInterval(-$0 * 86_400) }
        record.rotationId = rotation
        if rotation != nil { record.fingerprint = "f-\(id)" }
        return record
    }

    static func sink(_ name: String, holds: String?, attempt: String? = nil) -> SinkRecord {
        var record = SinkRecord(policy: "p", sink: name)
        record.keyId = holds
        record.attemptKeyId = attempt
        return record
    }

    @Test("a consumer may hold what a sink reported, and what an unfinished attempt may have delivered")
    func holdings() {
        let holdings = Safety.Holdings(
            records: [
                Self.sink("file", holds: "k1"), Self.sink("exec", holds: "k1", attempt: "k2"),
                Self.sink("removed", holds: "k9"),
            ],
            configured: ["file", "exec"],
            readable: ["file"]
        )
        #expect(holdings.holders(of: "k1") == ["file", "exec"])
        #expect(holdings.holders(of: "k2") == ["exec"])
        #expect(!holdings.mayBeHeld("k9"), "a sink removed from the policy no longer counts")
        #expect(holdings.readableHolder(of: "k1") && !holdings.readableHolder(of: "k2"))
        #expect(holdings.divergent(from: "k1").map(\.keyId) == ["k2"])
    }

    @Test("an interrupted delivery is remembered when the next attempt hands the sink another key (seed 4083)")
    func interruptedAttemptsAccumulate() {
        let start = Date(timeIntervalSince1970: 0)
        var record = Self.sink("exec", holds: "k0")
        record.beginAttempt("k1", at: start)  // a crash: the outcome of k1 is never recorded
        record.beginAttempt("k2", at: start)  // a later rotation's attempt
        #expect(Set(record.mayHold) == ["k0", "k1", "k2"])
        let holdings = Safety.Holdings(records: [record], configured: ["exec"])
        #expect(holdings.holders(of: "k1") == ["exec"], "k1 must not become a stray while the consumer may hold it")
        #expect(
            Safety.strays(
                observed: [Self.key("k1", ageDays: 1)],
                records: [Self.record("k1", .pending, rotation: "r1")],
                holdings: holdings,
                active: nil
            ).isEmpty
        )
        record.beginAttempt("k2", at: start)  // a retry of the same key keeps the list as it is
        #expect(record.earlierAttemptKeyIds == ["k1"])
        record.holds("k2", rotationId: "r2", at: start)
        #expect(record.mayHold == ["k2"], "a delivery that succeeded replaces whatever the sink held")
    }

    @Test(
        "at the limit the ranking is disabled, expired, undelivered, previous past grace, oldest first; keys in use stay"
    )
    func ranking() {
        let observed = [
            Self.key("current", ageDays: 70), Self.key("foreign", ageDays: 200, lifetimeDays: 365),
            Self.key("previous-past-grace", ageDays: 63), Self.key("orphan", ageDays: 3),
            Self.key("expired", ageDays: 95), Self.key("disabled-new", ageDays: 1, status: .disabled),
            Self.key("disabled-old", ageDays: 40, status: .disabled), Self.key("held", ageDays: 2),
        ]
        let records = [
            Self.record("current", .current, promotedDaysAgo: 70, rotation: "r1"),
            Self.record("previous-past-grace", .previous, promotedDaysAgo: 63, rotation: "r0"),
            Self.record("orphan", .pending, rotation: "r2"), Self.record("foreign", .other),
            Self.record("held", .pending, rotation: "r3"),
        ]
        let holdings = Safety.Holdings(
            records: [Self.sink("exec", holds: "current", attempt: "held")],
            configured: ["exec"]
        )
        let decision = Safety.makeRoom(
            observed: observed,
            records: records,
            holdings: holdings,
            policy: Self.policy,
            now: Self.now,
            emergency: false,
            consent: [],
            limit: 4
        )
        guard case .retire(let retirements) = decision else {
            Issue.record("expected retirements, got \(decision)")
            return
        }
        #expect(
            retirements.map(\.key.id) == ["disabled-old", "disabled-new", "expired", "orphan", "previous-past-grace"]
        )
        // One more than those can give: the keys in use block, each named with why.
        let blocked = Safety.makeRoom(
            observed: observed,
            records: records,
            holdings: holdings,
            policy: Self.policy,
            now: Self.now,
            emergency: false,
            consent: [],
            limit: 2
        )
        guard case .blocked(let why) = blocked else {
            Issue.record("expected a block, got \(blocked)")
            return
        }
        #expect(why.contains("current (the current key") == false && why.contains("current (held by exec"))
        #expect(why.contains("foreign (enabled and unexpired, and not created by this tool"))
        #expect(why.contains("held (held by exec"))
        #expect(why.contains("--retire KEY_ID") && why.contains("--emergency"))
    }

    @Test("the previous key in its grace period blocks; after it, it serves no one")
    func grace() {
        let observed = [Self.key("current", ageDays: 1), Self.key("previous", ageDays: 61)]
        for (promotedDaysAgo, expectBlocked) in [(0.5, true), (1.5, false)] {
            let records = [
                Self.record("current", .current, promotedDaysAgo: promotedDaysAgo, rotation: "r2"),
                Self.record("previous", .previous, promotedDaysAgo: 61, rotation: "r1"),
            ]
            let decision = Safety.makeRoom(
                observed: observed,
                records: records,
                holdings: .init(),
                policy: Self.policy,
                now: Self.now,
                emergency: false,
                consent: []
            )
            if case .blocked(let why) = decision {
                #expect(expectBlocked && why.contains("in its grace period"))
            } else {
                #expect(
                    !expectBlocked
                        && decision
                            == .retire([
                                .init(
                                    key: observed[1],
                                    why: "the previous key, its grace period over",
                                    consented: false,
                                    syncGap: false
                                )
                            ])
                )
            }
        }
    }

    @Test("consent retires the named key first; an emergency retires keys in use, the current (compromised) one last")
    func consentAndEmergency() {
        let observed = [Self.key("current", ageDays: 70), Self.key("foreign", ageDays: 1)]
        let records = [
            Self.record("current", .current, promotedDaysAgo: 70, rotation: "r1"), Self.record("foreign", .other),
        ]
        let consented = Safety.makeRoom(
            observed: observed,
            records: records,
            holdings: .init(),
            policy: Self.policy,
            now: Self.now,
            emergency: false,
            consent: ["foreign"]
        )
        #expect(
            consented
                == .retire([
                    .init(
                        key: observed[1],
                        why: "enabled and unexpired, and not created by this tool: someone may use it",
                        consented: true,
                        syncGap: false
                    )
                ])
        )
        let emergency = Safety.makeRoom(
            observed: observed,
            records: records,
            holdings: .init(),
            policy: Self.policy,
            now: Self.now,
            emergency: true,
            consent: [],
            limit: 1
        )
        guard case .retire(let retirements) = emergency else {
            Issue.record("expected retirements, got \(emergency)")
            return
        }
        #expect(retirements.map(\.key.id) == ["foreign", "current"])
        #expect(retirements.map(\.syncGap) == [false, true])
    }

    @Test("maintenance disables only previous keys no sink holds, never a key this tool did not create")
    func maintenance() {
        let observed = [
            Self.key("current", ageDays: 3), Self.key("previous", ageDays: 63), Self.key("foreign", ageDays: 20),
            Self.key("held-previous", ageDays: 80),
        ]
        let records = [
            Self.record("current", .current, promotedDaysAgo: 3, rotation: "r2"),
            Self.record("previous", .previous, promotedDaysAgo: 63, rotation: "r1"), Self.record("foreign", .other),
            Self.record("held-previous", .previous, promotedDaysAgo: 80, rotation: "r0"),
        ]
        let holdings = Safety.Holdings(records: [Self.sink("legacy", holds: "held-previous")], configured: ["legacy"])
        let times = Safety.disableTimes(observed: observed, records: records, holdings: holdings, policy: Self.policy)
        #expect(times.map(\.keyId) == ["previous"])
    }

    @Test("the key that appeared during an interrupted Create is the rotation's; two cannot be told apart")
    func orphans() {
        var rotation = RotationRecord(
            policy: "p",
            provider: .tencent,
            zone: "z",
            trigger: .scheduled,
            reason: nil,
            oldKeyId: "current",
            now: Self.now
        )
        rotation.state = .creating
        rotation.keysBeforeCreate = ["current"]
        let one = [Self.key("current", ageDays: 60), Self.key("new", ageDays: 0)]
        #expect(Safety.createdDuringCall(rotation, observed: one, records: []).ours?.id == "new")
        let two = one + [Self.key("console", ageDays: 0)]
        let both = Safety.createdDuringCall(rotation, observed: two, records: [])
        #expect(both.ours == nil && both.unexplained.map(\.id) == ["new", "console"])
        rotation.state = .verified
        #expect(Safety.createdDuringCall(rotation, observed: one, records: []).ours == nil, "only while creating")
    }

    @Test("a key this tool created that no rotation carries on and no sink holds is a stray")
    func strays() {
        let observed = [Self.key("current", ageDays: 1), Self.key("stray", ageDays: 5), Self.key("held", ageDays: 4)]
        let records = [
            Self.record("current", .current, promotedDaysAgo: 1, rotation: "r3"),
            Self.record("stray", .pending, rotation: "r1"),
            Self.record("held", .pending, rotation: "r2"),
        ]
        let holdings = Safety.Holdings(records: [Self.sink("exec", holds: "held")], configured: ["exec"])
        #expect(Safety.strays(observed: observed, records: records, holdings: holdings, active: nil) == ["stray"])
    }
}
