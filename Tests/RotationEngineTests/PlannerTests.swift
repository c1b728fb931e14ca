import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Testing

/// The planner is a pure function: these tests give it keys, a journal and a time, and read its decision.
@Suite("Planner: windows, jitter, due times")
struct PlannerTests {
    static let friday9 = Date(timeIntervalSince1970: 1_799_370_000)  // 2027-01-08T01:00:00Z, Friday 09:00 in Shanghai

    func input(_ policy: Policy, expiresIn days: Double, at now: Date) -> PlanInput {
        let key = SCIMKey(
            id: "scimcred-aaaaaaaaaaaa",
            status: .enabled,
            createdAt: now.addingTimeInterval(-(90 - days) * 86_400),
            expiresAt: now.addingTimeInterval(days * 86_400)
        )
        var record = KeyRecord(policy: policy.name, keyId: key.id, role: .current, firstSeen: key.createdAt)
        record.observe(key, at: now)
        record.promotedAt = key.createdAt
        return PlanInput(
            policy: policy,
            observed: [key],
            keys: [record],
            state: PolicyState(policy: policy.name),
            now: now
        )
    }

    func policy(window: RotationWindow? = nil, jitter: TimeSpan? = nil, name: String = "p") -> Policy {
        Policy(
            name: name,
            provider: .tencent,
            zone: "z-aaaaaaaaaaaa",
            rotation: RotationSettings(keyLifetime: .days(90), rotateBefore: .days(30), window: window, jitter: jitter)
        )
    }

    let weekdays = RotationWindow(
        days: [.mon, .tue, .wed, .thu, .fri],
        start: 9 * 60,
        end: 17 * 60,
        timeZone: TimeZone(identifier: "Asia/Shanghai")!
    )

    @Test("not due: idle until expiry minus rotateBefore")
    func notDue() {
        let now = Self.friday9
        let plan = Planner.plan(input(policy(), expiresIn: 40, at: now))
        #expect(plan.action == .idle)
        #expect(plan.nextCheck == now.addingTimeInterval(10 * 86_400))
        #expect(plan.reason.contains("next rotation due"))
    }

    @Test("due inside the window: rotate")
    func dueInWindow() {
        let plan = Planner.plan(input(policy(window: weekdays), expiresIn: 29, at: Self.friday9))
        #expect(plan.action == .rotate(trigger: .scheduled))
    }

    @Test("due outside the window: wait for the next opening")
    func dueOutsideWindow() {
        let saturday = Self.friday9.addingTimeInterval(86_400)  // Sat 09:00 Shanghai
        let plan = Planner.plan(input(policy(window: weekdays), expiresIn: 29, at: saturday))
        #expect(plan.action == .wait)
        #expect(plan.nextCheck == Self.friday9.addingTimeInterval(3 * 86_400), "Monday 09:00 Shanghai")
        #expect(plan.reason.contains("waiting for the window"))
    }

    @Test("outside the window with less than half of rotateBefore left: rotate anyway")
    func urgent() {
        let saturday = Self.friday9.addingTimeInterval(86_400)
        let plan = Planner.plan(input(policy(window: weekdays), expiresIn: 14, at: saturday))
        #expect(plan.action == .rotate(trigger: .scheduled))
        #expect(plan.reason.contains("rotating anyway"))
    }

    @Test("the wait never goes past the urgency point")
    func waitBounded() {
        let friday5pm = Self.friday9.addingTimeInterval(8 * 3_600)  // Fri 17:00 Shanghai, window just closed
        let plan = Planner.plan(input(policy(window: weekdays), expiresIn: 15.5, at: friday5pm))
        #expect(plan.action == .wait)
        #expect(plan.nextCheck! <= friday5pm.addingTimeInterval(0.5 * 86_400 + 1))
    }

    @Test("jitter is deterministic per policy and within bounds")
    func jitter() {
        let a = policy(jitter: .hours(2), name: "alpha")
        let b = policy(jitter: .hours(2), name: "beta")
        #expect(Planner.jitterOffset(a) == Planner.jitterOffset(a))
        #expect(Planner.jitterOffset(a) != Planner.jitterOffset(b))
        for name in ["a", "b", "c", "prod", "tencent-prod"] {
            let offset = Planner.jitterOffset(policy(jitter: .hours(2), name: name))
            #expect(offset >= 0 && offset < 7_200)
        }
        let now = Self.friday9
        let plan = Planner.plan(input(a, expiresIn: 40, at: now))
        #expect(plan.nextCheck == now.addingTimeInterval(10 * 86_400 - Planner.jitterOffset(a)))
        #expect(plan.dueAt == now.addingTimeInterval(10 * 86_400))
    }

    @Test("a window crossing midnight")
    func overnight() {
        let zone = TimeZone(identifier: "UTC")!
        let window = RotationWindow(days: [.mon], start: 22 * 60, end: 2 * 60, timeZone: zone)
        let monday2230 = Date(timeIntervalSince1970: 1_799_706_600)  // 2027-01-11T22:30:00Z, a Monday
        #expect(window.contains(monday2230))
        #expect(window.contains(monday2230.addingTimeInterval(3 * 3_600)), "Tuesday 01:30")
        #expect(!window.contains(monday2230.addingTimeInterval(4 * 3_600)), "Tuesday 02:30")
        #expect(
            window.nextOpening(atOrAfter: monday2230.addingTimeInterval(4 * 3_600))
                == monday2230.addingTimeInterval(7 * 86_400 - 1_800)
        )
    }

    @Test("sync disabled is a warning")
    func syncWarning() {
        var value = input(policy(), expiresIn: 40, at: Self.friday9)
        value.syncStatus = .disabled
        #expect(Planner.plan(value).warnings.contains { $0.contains("synchronization is disabled") })
    }
}
