import CloudEmulator
import Foundation
import Logging
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

@Suite("The rotation protocol against the emulator")
struct RotationProtocolTests {
    @Test(
        "an empty zone gets a key: create, verify, deliver, promote, journaled in order",
        arguments: ProviderKind.withKeyAPI
    )
    func firstRotation(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        let result = await h.pass()
        #expect(result.outcome == .changed)
        let kinds = try await h.store.events(EventFilter()).map(\.kind.rawValue)
        #expect(
            kinds == [
                "rotation.started", "key.created", "key.verified", "key.delivered", "key.promoted",
                "rotation.completed",
            ]
        )
        #expect(h.zoneKeys.count == 1)
        #expect(h.sink.latest?.keyId == h.zoneKeys.first?.id)
        #expect(try await h.invariantViolations().isEmpty)
        let second = await h.pass()
        #expect(second.outcome == .idle)
        #expect(second.nextCheck == h.zoneKeys[0].createdAt.addingTimeInterval(60 * 86_400))
    }

    @Test(
        "first contact adopts the newest enabled unexpired key instead of rotating",
        arguments: ProviderKind.withKeyAPI
    )
    func adoption(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        h.seedKey(ageDays: 100)
        let newest = h.seedKey(ageDays: 10)
        h.seedKey(ageDays: 5, status: .disabled)
        await h.pass()
        let adopted = try await h.events(.keyAdopted)
        #expect(adopted.map(\.keyId) == [newest.id])
        #expect(try await h.count(.rotationStarted) == 0)
        #expect(try await h.store.keys(policy: "test").first { $0.role == .current }?.keyId == newest.id)
    }

    @Test(
        "a simulated year: 7 keys created, 6 disabled after grace, 5 deleted (without disable: 6 deleted after grace), never a zone without a usable key",
        arguments: ProviderKind.withKeyAPI
    )
    func year(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) {
            $0.rotation.gracePeriod = .hours(24)
            $0.rotation.deleteAfter = .days(7)
        }
        let end = h.clock.now().addingTimeInterval(365 * 86_400)
        let scheduler = Scheduler(
            configuration: .init(concurrency: 1, resync: 86_400, until: end),
            clock: h.clock,
            logger: .init(label: "t"),
            loadPolicies: { [h.policy] },
            runPass: { _ in await h.runner().pass() }
        )
        // The virtual clock never sleeps for real (sleepSpeed is infinite): a year runs in seconds. How fast is the
        // benchmark's business, not a test's (a wall-clock bound fails on a loaded machine).
        #expect(h.clock.realDelay(until: end) == 0)
        try await scheduler.run()
        #expect(try await h.count(.keyCreated) == 7)
        #expect(try await h.count(.rotationCompleted) == 7)
        let canDisable = kind.traits.canDisable
        #expect(try await h.count(.keyDisabled) == (canDisable ? 6 : 0))
        #expect(try await h.count(.keyDeleted) == (canDisable ? 5 : 6))
        #expect(try await h.count(.rotationFailed) == 0)
        #expect(h.zoneKeys.count == (canDisable ? 2 : 1))
        #expect(try await h.invariantViolations().isEmpty)
        // The identity provider always held a usable key: each delivery happened before its predecessor expired.
        let created = try await h.events(.keyCreated).compactMap { $0.date }
        for (a, b) in zip(created, created.dropFirst()) { #expect(b.timeIntervalSince(a) <= 61 * 86_400) }
    }

    @Test(
        "the previous key stays enabled for the grace period, then is disabled, then deleted after deleteAfter",
        arguments: ProviderKind.withKeyAPI.filter(\.traits.canDisable)
    )
    func graceAndDelete(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) {
            $0.rotation.gracePeriod = .hours(24)
            $0.rotation.deleteAfter = .days(7)
        }
        await h.pass()
        let first = h.zoneKeys[0].id
        await h.pass(RotationRequest(trigger: .manual, reason: "test"))
        #expect(h.zoneKeys.first { $0.id == first }?.status == .enabled, "in grace")
        h.advance(days: 0.5)
        await h.pass()
        #expect(h.zoneKeys.first { $0.id == first }?.status == .enabled, "still in grace")
        h.advance(days: 0.6)
        let result = await h.pass()
        #expect(result.outcome == .changed)
        #expect(h.zoneKeys.first { $0.id == first }?.status == .disabled)
        h.advance(days: 6.9)
        await h.pass()
        #expect(h.zoneKeys.contains { $0.id == first })
        h.advance(days: 0.2)
        await h.pass()
        #expect(!h.zoneKeys.contains { $0.id == first })
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test("deleteAfter: never keeps disabled keys", arguments: ProviderKind.withKeyAPI.filter(\.traits.canDisable))
    func neverDelete(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.rotation.deleteAfter = nil }
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: nil))
        h.advance(days: 1.1)
        await h.pass()  // the previous key is disabled after the grace period
        #expect(h.zoneKeys.contains { $0.status == .disabled })
        h.advance(days: 50)
        await h.pass()
        #expect(try await h.count(.keyDeleted) == 0)
        #expect(h.zoneKeys.contains { $0.status == .disabled })
    }

    @Test("maxAge rotates before expiry calls for it", arguments: ProviderKind.withKeyAPI)
    func maxAge(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.rotation.maxAge = .days(20) }
        await h.pass()
        h.advance(days: 19)
        await h.pass()
        #expect(try await h.count(.rotationCompleted) == 1)
        h.advance(days: 1.01)
        await h.pass()
        #expect(try await h.count(.rotationCompleted) == 2)
    }

    @Test(
        "without disable, the previous key stays for the grace period, then is deleted (never disabled)",
        arguments: ProviderKind.withKeyAPI.filter { !$0.traits.canDisable }
    )
    func graceThenDelete(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.rotation.gracePeriod = .hours(24) }
        await h.pass()
        let first = h.zoneKeys[0].id
        await h.pass(RotationRequest(trigger: .manual, reason: "test"))
        #expect(h.zoneKeys.first { $0.id == first }?.status == .enabled, "in grace")
        h.advance(days: 0.9)
        await h.pass()
        #expect(h.zoneKeys.first { $0.id == first }?.status == .enabled, "still in grace")
        h.advance(days: 0.2)
        let result = await h.pass()
        #expect(result.outcome == .changed)
        #expect(!h.zoneKeys.contains { $0.id == first })
        #expect(h.zoneKeys.count == 1, "the last key stays")
        #expect(try await h.count(.keyDisabled) == 0)
        let deleted = try await h.events(.keyDeleted)
        #expect(deleted.map(\.keyId) == [first])
        #expect(deleted.first?.reason?.contains("cannot disable") == true)
        h.advance(days: 30)
        await h.pass()
        #expect(h.zoneKeys.count == 1)
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test("a current key disabled or deleted outside the tool is replaced at once", arguments: ProviderKind.withKeyAPI)
    func currentLost(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        let key = h.zoneKeys[0].id
        h.emulator.setStatus(zone: h.policy.zone, key: key, to: .disabled)
        await h.pass()
        #expect(try await h.count(.rotationCompleted) == 2)
        let current = try await h.store.keys(policy: "test").first { $0.role == .current }!.keyId
        _ = try await h.provider().deleteKey(current)
        await h.pass()
        #expect(try await h.count(.keyVanished) == 1)
        #expect(try await h.count(.rotationCompleted) == 3)
        #expect(try await h.invariantViolations().isEmpty)
    }
}

@Suite("The key limit")
struct KeyLimitTests {
    @Test(
        "at the limit, the safest keys are retired first (disabled before expired, the oldest first within each); the current key stays",
        arguments: ProviderKind.withKeyAPI
    )
    func retiresSafeKey(kind: ProviderKind) async throws {
        // The whole ranking (with undelivered and previous keys) is SafetyTests.ranking; here, end to end.
        let h = try RotationHarness(provider: kind) { $0.keyLimit = 2 }
        let current = h.seedKey(ageDays: 10)
        #expect(await h.pass().outcome == .changed)  // adopts the only usable key; not due yet
        let expired = h.seedKey(ageDays: 40, lifetimeDays: 30)  // the oldest candidate, but enabled
        let disabledNewer = h.seedKey(ageDays: 1, status: .disabled)
        let disabledOlder = h.seedKey(ageDays: 5, status: .disabled)
        // Four keys, a limit of two: three must go for the new key to fit.
        let result = await h.pass(RotationRequest(trigger: .manual, reason: "ranking"))
        #expect(result.outcome == .changed, "\(result.message)")
        let retired = try await h.events(.keyRetired).map(\.keyId)
        #expect(retired == [disabledOlder.id, disabledNewer.id, expired.id])
        #expect(h.zoneKeys.contains { $0.id == current.id }, "the current key is never retired")
        #expect(try await h.count(.rotationCompleted) == 1)
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test("with no safe candidate the rotation is blocked, naming the keys", arguments: ProviderKind.withKeyAPI)
    func blocked(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.keyLimit = 1 }
        let only = h.seedKey(ageDays: 350)
        let result = await h.pass()
        #expect(result.outcome == .blocked)
        #expect(result.message.contains(only.id))
        if kind.traits.protectsLastKey {
            // The cloud refuses to delete a zone's last key: no room can ever be made at a limit of 1.
            #expect(
                result.message.contains("refuses to delete a zone's last key") && result.message.contains("keyLimit")
            )
            #expect(try await h.count(.keyDeleted) == 0)
        }
        #expect(try await h.count(.rotationBlocked) == 1)
        #expect(h.zoneKeys.map(\.id) == [only.id])
        let state = try await h.store.policyState(policy: "test")
        #expect(state.blocked && state.failures == 1 && state.nextAttemptAt != nil)
    }

    @Test(
        "a racing console key: LimitExceeded, list again; the console's key may be in use, so the rotation blocks naming it until --retire",
        arguments: ProviderKind.withKeyAPI
    )
    func racingConsoleKey(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        try await h.fault(["action": h.createAction, "consoleAddKey": true])
        let result = await h.pass()
        #expect(result.outcome == .blocked, "\(result.message)")
        let console = try #require(try await h.store.keys(policy: "test").first { $0.role == .other })
        #expect(result.message.contains(console.keyId) && result.message.contains("--retire"))
        #expect(h.zoneKeys.contains { $0.id == console.keyId && $0.status == .enabled }, "a key someone may use stays")
        #expect(try await h.count(.keyRetired) == 0)
        let consented = await h.pass(RotationRequest(trigger: .manual, reason: "unused", retire: [console.keyId]))
        #expect(consented.outcome == .changed, "\(consented.message)")
        #expect(try await h.events(.keyRetired).map(\.keyId) == [console.keyId])
        #expect(try await h.count(.rotationCompleted) == 2)
        #expect(h.zoneKeys.count <= 2)
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test(
        "a console user who keeps adding keys blocks the rotation instead of looping",
        arguments: ProviderKind.withKeyAPI
    )
    func persistentConsole(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        try await h.fault(["action": h.createAction, "consoleAddKey": true, "times": 5])
        let result = await h.pass()
        #expect(result.outcome == .blocked)
        #expect(h.zoneKeys.count <= 2)
    }
}

@Suite("Emergency rotation")
struct EmergencyTests {
    @Test("disables every other key at once, no grace; --delete-old deletes them", arguments: ProviderKind.withKeyAPI)
    func emergency(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        let leaked = h.zoneKeys[0].id
        await h.pass(RotationRequest(trigger: .emergency, reason: "leaked in a ticket"))
        if kind.traits.canDisable {
            #expect(h.zoneKeys.first { $0.id == leaked }?.status == .disabled)
            let disabled = try await h.events(.keyDisabled)
            #expect(disabled.first?.actor == .emergency)
        } else {
            // No disabled state: the presumed-leaked key is deleted at once.
            #expect(!h.zoneKeys.contains { $0.id == leaked })
            let deleted = try await h.events(.keyDeleted)
            #expect(deleted.first?.actor == .emergency)
        }
        await h.pass(RotationRequest(trigger: .emergency, reason: "again", deleteOld: true))
        #expect(h.zoneKeys.count == 1)
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test(
        "at the limit with no other candidate, the compromised key is retired first and the gap recorded (a cloud that refuses to delete its last key blocks, naming it)",
        arguments: ProviderKind.withKeyAPI
    )
    func emergencyAtLimit(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.keyLimit = 1 }
        await h.pass()
        let leaked = h.zoneKeys[0].id
        let normal = await h.pass(RotationRequest(trigger: .manual, reason: nil))
        #expect(normal.outcome == .blocked, "a normal rotation never retires the current key")
        let result = await h.pass(RotationRequest(trigger: .emergency, reason: "leaked"))
        if kind.traits.protectsLastKey {
            // Retiring the compromised key first would delete the zone's last key, which the cloud refuses, and a
            // second key does not fit: a person must act (raise the limit); nothing is deleted meanwhile.
            #expect(result.outcome == .blocked, "\(result.message)")
            #expect(result.message.contains(leaked) && result.message.contains("not even in an emergency"))
            #expect(try await h.count(.keyRetired) == 0)
            #expect(try await h.count(.keyDeleted) == 0)
            #expect(h.zoneKeys.map(\.id) == [leaked])
            #expect(try await h.invariantViolations().isEmpty)
            return
        }
        #expect(result.outcome == .changed, "\(result.message)")
        let retired = try await h.events(.keyRetired)
        #expect(retired.map(\.keyId) == [leaked])
        #expect(retired.first?.detail?.contains("syncGap") == true)
        #expect(h.zoneKeys.count == 1 && h.zoneKeys[0].id != leaked)
        #expect(try await h.invariantViolations().isEmpty)
    }
}

@Suite("Failures")
struct FailureTests {
    @Test(
        "a failing sink: nothing promoted, the old key stays current, the same new key is retried after the back-off",
        arguments: ProviderKind.withKeyAPI
    )
    func deliveryFails(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        let current = h.zoneKeys[0].id
        h.sink.failNext(1)
        h.advance(days: 61)
        let result = await h.pass()
        #expect(result.outcome == .failed)
        #expect(try await h.count(.keyAbandoned) == 0)
        let pending = try #require(h.zoneKeys.first { $0.id != current }).id
        #expect(try await h.store.keys(policy: "test").first { $0.role == .current }?.keyId == current)
        #expect(h.zoneKeys.first { $0.id == current }?.status == .enabled, "the old key stays enabled")
        let failed = try await h.events(.rotationFailed)
        #expect(failed.count == 1 && failed[0].detail?.contains("willRetry") == true)
        let state = try await h.store.policyState(policy: "test")
        #expect(state.failures == 1)
        #expect(result.nextCheck == h.clock.now().addingTimeInterval(300))
        // Back-off: not retried before nextAttemptAt (still failing meanwhile), then the same key is delivered and
        // promoted.
        let waiting = await h.pass()
        #expect(waiting.outcome == .failed && waiting.message.contains("retrying with the same key"))
        #expect(try await h.count(.keyCreated) == 2)
        h.advance(days: 0.01)
        let retried = await h.pass()
        #expect(retried.outcome == .changed, "\(retried.message)")
        #expect(h.sink.latest?.keyId == pending, "the same key, not a new one")
        #expect(try await h.count(.keyCreated) == 2)
        #expect(try await h.store.policyState(policy: "test").failures == 0)
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test("a key that fails verification is never handed to anyone", arguments: ProviderKind.withKeyAPI)
    func verifyFails(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.verify.scimURL = URL(string: "http://127.0.0.1:9/not-scim")! }
        let result = await h.pass()
        #expect(result.outcome == .failed)
        #expect(result.message.contains("verify"))
        #expect(h.sink.delivered.isEmpty)
        guard kind.traits.protectsLastKey else {
            #expect(h.zoneKeys.isEmpty)
            #expect(try await h.count(.keyAbandoned) == 1)
            return
        }
        // The failed key is the zone's only key, which the cloud refuses to delete: it stays, its abandonment
        // journaled, never adopted nor handed to anyone, and the pass says so.
        let stray = try #require(h.zoneKeys.first).id
        #expect(h.zoneKeys.count == 1)
        #expect(result.message.contains(stray) && result.message.contains("refuses to delete a zone's last key"))
        #expect(try await h.count(.keyAbandoned) == 0)
        let record = try #require(try await h.store.keys(policy: "test").first { $0.keyId == stray })
        #expect(record.intent == .abandon && record.role == .pending)
        // The next pass neither adopts it nor retries its deletion in a loop: it waits out the back-off, warning.
        let waiting = await h.pass()
        #expect(waiting.outcome != .changed, "\(waiting.message)")
        #expect(try await h.count(.keyAdopted) == 0)
        let plan = try await h.plan()
        #expect(plan.warnings.contains { $0.contains(stray) && $0.contains("only key") }, "\(plan.warnings)")
        // After the back-off a second key is made (room for it: the limit is 2) and fails too; with two keys in the
        // zone the cloud deletes one, so the zone never grows.
        h.advance(days: 0.01)
        let again = await h.pass()
        #expect(again.outcome == .failed, "\(again.message)")
        #expect(h.sink.delivered.isEmpty)
        #expect(h.zoneKeys.count == 1)
        #expect(try await h.count(.keyCreated) == 2)
        #expect(try await h.count(.keyAbandoned) == 1)
    }

    @Test("consecutive failures back off exponentially and flag the policy stuck", arguments: ProviderKind.withKeyAPI)
    func stuck(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind) { $0.rotation.stuckAfter = 3 }
        var delays: [Double] = []
        for _ in 0..<4 {
            h.sink.failNext(1)
            let result = await h.pass()
            delays.append(result.nextCheck!.timeIntervalSince(h.clock.now()))
            h.clock.set(result.nextCheck!)
        }
        #expect(delays == [300, 600, 1_200, 2_400])
        #expect(try await h.store.policyState(policy: "test").stuck)
        #expect(try await h.count(.policyStuck) == 1)
        let plan = try await h.plan()
        #expect(plan.warnings.contains { $0.contains("stuck") })
    }

    @Test(
        "a lost Create reply: the orphan is abandoned and one key is created, never a third",
        arguments: ProviderKind.withKeyAPI
    )
    func lostReply(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        try await h.fault(["action": h.createAction, "drop": "after"])
        let result = await h.pass()
        #expect(result.outcome == .changed, "\(result.message)")
        #expect(try await h.count(.keyAbandoned) == 1)
        #expect(h.zoneKeys.count == 2)
        #expect(try await h.invariantViolations().isEmpty)
    }
}
