import CloudEmulator
import Delivery
import Foundation
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// Each situation in which the tool used to break an identity provider, over both clouds: it now keeps every key a
/// consumer may hold, finishes with the same key, blocks and says why when it cannot, and reports a key that stopped
/// working.
@Suite("Never break a consumer")
struct NeverBreakAConsumerTests {
    /// One pass with these sinks, as one process; a simulated crash ends the process (its secrets are lost).
    @discardableResult
    static func pass(
        _ h: RotationHarness,
        _ sinks: [any DeliverySink],
        _ request: RotationRequest? = nil,
        failPoints: FailPoints = .none
    ) async -> PassResult {
        let result = await h.runner(failPoints: failPoints, sinks: sinks).pass(request: request)
        if result.outcome == .interrupted { h.crash() }
        return result
    }

    /// Passes (after each back-off) until the policy settles.
    static func settle(_ h: RotationHarness, _ sinks: [any DeliverySink]) async throws -> PassResult {
        var result = await pass(h, sinks)
        for _ in 0..<6 where result.outcome != .changed && result.outcome != .idle {
            h.clock.set(
                max(h.clock.now(), try await h.store.policyState(policy: "test").nextAttemptAt ?? h.clock.now())
            )
            result = await pass(h, sinks)
        }
        return result
    }

    /// Keys this tool disabled or deleted (events), with their actors.
    static func removals(_ h: RotationHarness) async throws -> [HistoryEvent] {
        try await h.events(.keyDisabled, .keyDeleted, .keyRetired, .keyAbandoned)
    }

    // MARK: Partial delivery

    @Test(
        "partial delivery: sink 1 succeeds, sink 2 fails; the key sink 1 holds is never abandoned, and after a restart the same key (read back from sink 1) reaches sink 2",
        arguments: ProviderKind.withKeyAPI
    )
    func partialDeliveryReadable(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        let file = ReadableMemorySink(name: "file")
        let idp = MemorySink(name: "exec push")
        let sinks: [any DeliverySink] = [idp, file]  // the readable sink goes first whatever the order
        await Self.pass(h, sinks)
        let first = try #require(idp.latest)
        h.advance(days: 61)
        idp.failNext(1)
        let failed = await Self.pass(h, sinks)
        #expect(failed.outcome == .failed, "\(failed.message)")
        let new = try #require(file.memory.latest)
        #expect(new.keyId != first.keyId)
        #expect(try await h.count(.keyAbandoned) == 0, "the key a sink holds is never abandoned")
        #expect(h.zoneKeys.allSatisfy { $0.status == .enabled }, "both keys stay enabled")
        h.crash()  // a new process: the secret is only in the readable sink now
        let settled = try await Self.settle(h, sinks)
        #expect(settled.outcome == .changed || settled.outcome == .idle, "\(settled.message)")
        #expect(idp.latest?.keyId == new.keyId && idp.latest?.secret == new.secret, "the same key, not a new one")
        #expect(try await h.count(.keyCreated) == 2)
        #expect(try await h.events(.rotationResumed).contains { $0.detail?.contains("recoveredFrom") == true })
        #expect(try await h.store.keys(policy: "test").first { $0.role == .current }?.keyId == new.keyId)
        #expect(try await h.invariantViolations(consumers: [idp, file.memory]).isEmpty)
    }

    @Test(
        "partial delivery without a readable sink: retried with the same key while the process has it; after a restart it blocks, both keys enabled, until the operator decides",
        arguments: ProviderKind.withKeyAPI
    )
    func partialDeliveryUnreadable(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        let push = MemorySink(name: "exec push")
        let other = MemorySink(name: "exec other")
        let sinks: [any DeliverySink] = [push, other]
        await Self.pass(h, sinks)
        let old = try #require(push.latest).keyId
        h.advance(days: 61)
        other.failNext(1)
        #expect(await Self.pass(h, sinks).outcome == .failed)
        let new = try #require(push.latest)
        #expect(new.keyId != old)
        // The same process retries with the same key.
        other.failNext(1)
        h.clock.set(try #require(try await h.store.policyState(policy: "test").nextAttemptAt))
        #expect(await Self.pass(h, sinks).outcome == .failed)
        #expect(try await h.count(.keyCreated) == 2, "no new key for a retry")
        // The process dies: the secret is gone, and `exec push` may hold the key.
        h.crash()
        h.clock.set(try #require(try await h.store.policyState(policy: "test").nextAttemptAt))
        let blocked = await Self.pass(h, sinks)
        #expect(blocked.outcome == .blocked, "\(blocked.message)")
        #expect(blocked.message.contains("partial delivery") && blocked.message.contains(new.keyId))
        #expect(h.zoneKeys.count == 2 && h.zoneKeys.allSatisfy { $0.status == .enabled }, "both keys stay enabled")
        #expect(try await Self.removals(h).isEmpty, "nothing a consumer may hold is touched")
        #expect(try await h.count(.rotationBlocked) == 1)
        let sinkRecords = try await h.store.sinks(policy: "test")
        #expect(sinkRecords.first { $0.sink == "exec push" }?.keyId == new.keyId)
        #expect(sinkRecords.first { $0.sink == "exec other" }?.keyId == old)
        // Later passes keep saying so (the sinks hold different keys), and never touch either key.
        h.clock.set(try #require(try await h.store.policyState(policy: "test").nextAttemptAt))
        let again = await Self.pass(h, sinks)
        #expect(again.outcome == .blocked && again.message.contains(new.keyId), "\(again.message)")
        #expect(try await Self.removals(h).isEmpty)
        // The operator consents to retiring the half-delivered key: both sinks get a fresh one.
        let decided = await Self.pass(h, sinks, RotationRequest(trigger: .manual, reason: "fix", retire: [new.keyId]))
        #expect(decided.outcome == .changed, "\(decided.message)")
        #expect(push.latest?.keyId == other.latest?.keyId)
        let retired = try await h.events(.keyRetired)
        #expect(retired.map(\.keyId) == [new.keyId] && retired[0].actor == .manual)
        #expect(try await h.invariantViolations(consumers: [push, other]).isEmpty)
    }

    @Test(
        "killed after every sink delivered but before the journal said so: resumed at promote, never abandoned, even when Create would now fail",
        arguments: ProviderKind.withKeyAPI
    )
    func crashAfterDelivery(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        let crashed = await h.pass(failPoints: FailPoints(["after:deliver": .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted)
        let delivered = try #require(h.sink.latest)
        try await h.fault(["action": h.createAction, "error": "InternalError", "times": 5])
        let resumed = await h.pass()
        #expect(resumed.outcome == .changed, "\(resumed.message)")
        #expect(try await h.count(.keyAbandoned) == 0)
        #expect(try await h.count(.keyCreated) == 2)
        #expect(try await h.store.keys(policy: "test").first { $0.role == .current }?.keyId == delivered.keyId)
        #expect(await h.scimAccepts(delivered.secret))
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test(
        "killed inside an exec sink (it pushed, the journal never heard): with a readable sink the same key is finished; without one, the rotation blocks",
        arguments: ProviderKind.withKeyAPI
    )
    func crashInsideSink(kind: ProviderKind) async throws {
        for readable in [true, false] {
            let h = try RotationHarness(provider: kind)
            let push = MemorySink(name: "exec push")
            let file = ReadableMemorySink(name: "file")
            let sinks: [any DeliverySink] = readable ? [push, file] : [push]
            await Self.pass(h, sinks)
            h.advance(days: 61)
            push.crashAfterNextDelivery()
            #expect(await Self.pass(h, sinks).outcome == .interrupted)
            let pushed = try #require(push.latest)
            let next = await Self.pass(h, sinks)
            if readable {
                #expect(next.outcome == .changed, "\(next.message)")
                #expect(push.latest?.keyId == pushed.keyId && file.memory.latest?.keyId == pushed.keyId)
                #expect(try await h.count(.keyAbandoned) == 0)
            } else {
                #expect(next.outcome == .blocked, "\(next.message)")
                #expect(h.zoneKeys.contains { $0.id == pushed.keyId && $0.status == .enabled }, "never abandoned")
                #expect(try await Self.removals(h).isEmpty)
            }
        }
    }

    // MARK: Retiring keys someone may use

    @Test(
        "at the limit, an enabled key a console user made a minute ago is not retired: blocked, named, and --retire is the consent",
        arguments: ProviderKind.withKeyAPI
    )
    func freshConsoleKey(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        let console = h.seedKey(ageDays: 1.0 / 1440)
        let blocked = await h.pass()
        #expect(blocked.outcome == .blocked)
        #expect(blocked.message.contains(console.id) && blocked.message.contains("not created by this tool"))
        #expect(h.zoneKeys.contains { $0.id == console.id && $0.status == .enabled })
        let event = try #require(try await h.events(.rotationBlocked).last)
        #expect(event.reason?.contains("--retire") == true)
        #expect(try await h.count(.keyRetired) == 0)
        let done = await h.pass(RotationRequest(trigger: .manual, reason: "a test key", retire: [console.id]))
        #expect(done.outcome == .changed)
        #expect(try await h.events(.keyRetired).first?.reason?.contains("consented") == true)
    }

    @Test(
        "a manual rotation during the grace period does not delete the previous key: blocked, naming it",
        arguments: ProviderKind.withKeyAPI
    )
    func rotateDuringGrace(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: "first"))
        let previous = try #require(try await h.store.keys(policy: "test").first { $0.role == .previous }).keyId
        h.advance(days: 0.5)
        let result = await h.pass(RotationRequest(trigger: .manual, reason: "again, within the grace period"))
        #expect(result.outcome == .blocked)
        #expect(result.message.contains(previous) && result.message.contains("grace period"))
        #expect(h.zoneKeys.contains { $0.id == previous && $0.status == .enabled })
        // Once the grace period is over, the previous key serves no one and makes room.
        h.advance(days: 1)
        let later = await h.pass(RotationRequest(trigger: .manual, reason: "after the grace period"))
        #expect(later.outcome == .changed, "\(later.message)")
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test(
        "a console user disabled the current key: the disabled key makes room, not the previous key still in its grace",
        arguments: ProviderKind.withKeyAPI
    )
    func disabledCurrentKey(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: "second key"))
        let records = try await h.store.keys(policy: "test")
        let current = try #require(records.first { $0.role == .current }).keyId
        let previous = try #require(records.first { $0.role == .previous }).keyId
        h.emulator.setStatus(zone: h.policy.zone, key: current, to: .disabled)
        let result = await h.pass()
        #expect(result.outcome == .changed, "\(result.message)")
        #expect(try await h.events(.keyRetired).map(\.keyId) == [current], "the disabled key goes")
        #expect(h.zoneKeys.contains { $0.id == previous && $0.status == .enabled }, "the previous key stays")
        #expect(try await h.count(.keyUnusable) == 1, "the broken current key was reported")
    }

    @Test(
        "room is made only from keys that serve no one: a Create that keeps failing never costs the key consumers use",
        arguments: ProviderKind.withKeyAPI
    )
    func failingCreateCostsNothing(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        let current = h.zoneKeys[0].id
        let console = h.seedKey(ageDays: 3)
        h.advance(days: 61)
        try await h.fault(["action": h.createAction, "error": "InternalError", "times": 50])
        for _ in 0..<4 {
            let result = await h.pass()
            #expect(result.outcome == .failed || result.outcome == .blocked || result.outcome == .waiting)
            h.clock.set(
                max(h.clock.now(), try await h.store.policyState(policy: "test").nextAttemptAt ?? h.clock.now())
            )
        }
        #expect(h.zoneKeys.contains { $0.id == current && $0.status == .enabled }, "the consumers' key is there")
        #expect(h.zoneKeys.contains { $0.id == console.id && $0.status == .enabled }, "so is the console's")
        #expect(try await Self.removals(h).isEmpty)
    }

    // MARK: Silence

    @Test(
        "the current key stopped working (the cloud's clock runs past its expiry): the SCIM check notices, key.unusable is recorded and notified, a rotation replaces it",
        arguments: ProviderKind.withKeyAPI
    )
    func unusableCurrentKey(kind: ProviderKind) async throws {
        // Past the key's lifetime on the cloud (Tencent's policy gives 90 days; CloudSSO's keys live a year).
        let ahead = (kind == .tencent ? 95.0 : 370) * 86_400
        let h = try RotationHarness(provider: kind, separateEmulatorClock: true)
        let file = ReadableMemorySink(name: "file")
        await Self.pass(h, [file])
        let first = try #require(file.memory.latest)
        // The cloud's clock runs 95 days ahead of this machine's (requests are still signed in time): on the
        // cloud, the 90-day key has expired, while this machine's clock says it has weeks left.
        h.emulatorClock.advance(by: ahead)
        try await h.admin("POST", "settings", ["signatureSkewSeconds": -ahead])
        #expect(await !h.scimAccepts(first.secret))
        let result = await Self.pass(h, [file])
        #expect(result.outcome == .changed, "\(result.message)")
        let unusable = try await h.events(.keyUnusable)
        #expect(unusable.map(\.keyId) == [first.keyId])
        #expect(unusable.first?.reason?.contains("SCIM refused") == true)
        #expect(Notifier.kinds(for: unusable[0]) == [.failure])
        let replacement = try #require(file.memory.latest)
        #expect(replacement.keyId != first.keyId)
        #expect(await h.scimAccepts(replacement.secret))
        // Checked every 6 hours (and every pass) from now on: the next look is scheduled.
        let idle = await Self.pass(h, [file])
        #expect(idle.outcome == .idle)
        #expect(idle.nextCheck == h.clock.now().addingTimeInterval(6 * 3_600))
    }

    @Test(
        "while a manual delivery waits for confirm, an expired current key makes the pass fail (exit non-zero) and is reported once a day",
        arguments: ProviderKind.withKeyAPI
    )
    func expiresWhileWaiting(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("manual-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manual = ManualSink(file: directory + "/token", instructions: "Paste it into the IdP.")
        let push = MemorySink()
        await Self.pass(h, [push])
        h.advance(days: 61)
        let waiting = await Self.pass(h, [push, manual])
        #expect(waiting.outcome == .waiting)
        #expect(waiting.nextCheck != nil, "the wait is watched: expiry and warnings are scheduled")
        h.advance(days: kind == .tencent ? 30 : 305)  // the current key expires while nobody confirms
        let expired = await Self.pass(h, [push, manual])
        #expect(expired.outcome == .unusable && expired.isFailure, "\(expired.message)")
        #expect(try await h.count(.keyUnusable) == 1)
        await Self.pass(h, [push, manual])
        #expect(try await h.count(.keyUnusable) == 1, "at most once a day per key")
        h.advance(days: 1.1)
        await Self.pass(h, [push, manual])
        #expect(try await h.count(.keyUnusable) == 2)
    }

    // MARK: Explained keys

    @Test(
        "killed right after Create returned: the key that appeared is the rotation's own orphan, abandoned, never journaled as foreign",
        arguments: ProviderKind.withKeyAPI
    )
    func orphanExplained(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        let crashed = await h.pass(failPoints: FailPoints(["after:create": .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted)
        let orphan = try #require(h.zoneKeys.max { $0.createdAt < $1.createdAt }).id
        let resumed = await h.pass()
        #expect(resumed.outcome == .changed, "\(resumed.message)")
        let records = try await h.store.keys(policy: "test")
        #expect(records.first { $0.keyId == orphan }?.role == .abandoned)
        #expect(!records.contains { $0.role == .other })
        let discovered = try await h.events(.keyDiscovered)
        #expect(discovered.map(\.keyId) == [orphan] && discovered[0].detail?.contains("orphanOf") == true)
        #expect(try await h.invariantViolations().isEmpty)
    }
}
