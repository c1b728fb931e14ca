import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Testing

/// The same rules on a cloud that cannot disable a key (``ProviderTraits/canDisable`` false), learnt from its traits.
@Suite("Safety on a cloud without disable")
struct SafetyWithoutDisableTests {
    typealias S = SafetyTests
    static let policy = Policy(
        name: "p",
        provider: .volcengine,
        zone: "2100000001",
        rotation: RotationSettings(rotateBefore: .days(30), maxAge: .days(60), gracePeriod: .hours(24))
    )

    @Test("the previous key is never disabled: it is deleted when its grace ends, unless a sink may hold it")
    func deleteAtGraceEnd() {
        let observed = [S.key("old", ageDays: 70), S.key("new", ageDays: 2)]
        let records = [S.record("old", .previous), S.record("new", .current, promotedDaysAgo: 2)]
        let free = Safety.Holdings(records: [S.sink("file", holds: "new")], configured: ["file"])
        #expect(Safety.disableTimes(observed: observed, records: records, holdings: free, policy: Self.policy).isEmpty)
        let times = Safety.deleteTimes(observed: observed, records: records, holdings: free, policy: Self.policy)
        #expect(times.map(\.keyId) == ["old"])
        #expect(times.first?.at == S.now.addingTimeInterval(-2 * 86_400 + 86_400))
        let held = Safety.Holdings(
            records: [S.sink("file", holds: "new"), S.sink("exec", holds: "old")],
            configured: ["file", "exec"]
        )
        #expect(Safety.deleteTimes(observed: observed, records: records, holdings: held, policy: Self.policy).isEmpty)
        // The current key gone from the zone: the previous one may be the last, and is not deleted.
        #expect(
            Safety.deleteTimes(observed: [observed[0]], records: records, holdings: free, policy: Self.policy).isEmpty
        )
    }

    @Test("at a limit of one, no key is retired: the cloud refuses to delete its last key")
    func lastKey() {
        var policy = Self.policy
        policy.keyLimit = 1
        let decision = Safety.makeRoom(
            observed: [S.key("only", ageDays: 400)],
            records: [S.record("only", .current, promotedDaysAgo: 300)],
            holdings: Safety.Holdings(),
            policy: policy,
            now: S.now,
            emergency: true,
            consent: []
        )
        guard case .blocked(let why) = decision else {
            Issue.record("expected a block, got \(decision)")
            return
        }
        #expect(why.contains("last key"))
    }
}
