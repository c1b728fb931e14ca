import Foundation
import RotationEngine
import RotationHistory
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// The executor stopped between any two steps (a simulated crash: nothing after the point runs, nothing is cleaned
/// up), then restarted: the invariants hold and the rotation completes exactly once.
@Suite("Crash anywhere, resume cleanly")
struct CrashResumeTests {
    static let rotationPoints = [
        "before:create", "after:create", "after:created", "after:verify", "after:deliver", "after:delivered",
        "after:promote", "after:retire", "after:abandon",
    ]

    @Test(
        "crash at each point of a rotation at the key limit, then resume",
        arguments: ProviderKind.withKeyAPI,
        rotationPoints
    )
    func crashDuringRotation(kind: ProviderKind, point: String) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: "fill the zone"))  // two keys: at the limit
        h.advance(days: 61)
        if point == "after:abandon" {
            // The first attempt dies after creating its key; the next abandons that key (its secret is gone).
            let first = await h.pass(failPoints: FailPoints(["after:created": .crash], crashByThrowing: true))
            #expect(first.outcome == .interrupted)
        }
        let crashed = await h.pass(failPoints: FailPoints([point: .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted, "\(point): \(crashed.message)")
        #expect(h.zoneKeys.count <= 2, "\(point): never more keys than the limit")
        // Restart (no fail points), possibly after a retry back-off.
        var result = await h.pass()
        if result.outcome == .failed || result.outcome == .waiting {
            h.clock.set(max(h.clock.now(), result.nextCheck ?? h.clock.now()))
            result = await h.pass()
        }
        #expect(result.outcome == .changed || result.outcome == .idle, "\(point): \(result.message)")
        let violations = try await h.invariantViolations()
        #expect(violations.isEmpty, "\(point): \(violations)")
        #expect(try await h.count(.rotationCompleted) == 3, "\(point): the rotation completed once")
        if ["after:create", "after:created", "after:verify"].contains(point) {
            #expect(try await h.count(.keyAbandoned) >= 1, "\(point): the key whose secret was lost is abandoned")
        }
        if ["after:deliver", "after:delivered", "after:promote"].contains(point) {
            #expect(try await h.count(.keyAbandoned) == 0, "\(point): a delivered key is resumed, not abandoned")
            #expect(try await h.count(.keyCreated) == 3)
        }
    }

    @Test(
        "crash right after disabling a key (before the journal records it), then resume",
        arguments: ProviderKind.withKeyAPI,
        ["after:disable", "after:delete"]
    )
    func crashDuringMaintenance(kind: ProviderKind, point: String) async throws {
        // A cloud without disable deletes the previous key when its grace ends: there is no disable to crash after.
        if point == "after:disable", !kind.traits.canDisable { return }
        let h = try RotationHarness(provider: kind)
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: nil))
        h.advance(days: 1.1)
        if point == "after:delete", kind.traits.canDisable {
            await h.pass()  // disable after grace
            h.advance(days: 7.1)
        }
        let crashed = await h.pass(failPoints: FailPoints([point: .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted)
        await h.pass()
        let records = try await h.store.keys(policy: "test")
        if point == "after:disable" {
            #expect(records.contains { $0.role == .previous && $0.disabledByUs && $0.intent == nil })
            #expect(try await h.count(.keyDisabled) == 1)
        } else {
            #expect(records.contains { $0.role == .deleted })
            #expect(try await h.count(.keyDeleted) == 1)
        }
        #expect(try await h.invariantViolations().isEmpty)
    }

    @Test(
        "a rotation interrupted over and over is given up after a bounded number of attempts",
        arguments: ProviderKind.withKeyAPI
    )
    func crashLoop(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        // Each attempt (the first and every start-over) is killed right after its key was created.
        for _ in 1...PolicyRunner.maxAttempts {
            let killed = await h.pass(failPoints: FailPoints(["after:created": .crash], crashByThrowing: true))
            #expect(killed.outcome == .interrupted)
            #expect(h.zoneKeys.count <= 2)
        }
        #expect(try await h.count(.rotationFailed) == 0, "not given up before the bound")
        #expect(try await h.count(.rotationResumed) == PolicyRunner.maxAttempts - 1)
        // The next pass abandons the last attempt's key and gives the rotation up instead of creating another.
        let givenUp = await h.pass(failPoints: FailPoints(["after:created": .crash], crashByThrowing: true))
        #expect(givenUp.outcome == .failed)
        let failed = try await h.events(.rotationFailed)
        #expect(failed.count == 1)
        #expect(failed.first?.reason?.contains("started over \(PolicyRunner.maxAttempts) times") == true)
        #expect(try await h.count(.keyCreated) == 1 + PolicyRunner.maxAttempts)
        // After the back-off a new rotation starts afresh and completes.
        let state = try await h.store.policyState(policy: "test")
        h.clock.set(try #require(state.nextAttemptAt))
        #expect(await h.pass().outcome == .changed)
        #expect(try await h.count(.rotationCompleted) == 2)
        #expect(try await h.count(.rotationFailed) == 1)
        #expect(h.zoneKeys.count <= 2)
    }

    @Test(
        "a shutdown request stops before creating a key; the rotation resumes on the next start",
        arguments: ProviderKind.withKeyAPI
    )
    func gracefulShutdown(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        let shutdown = ShutdownSignal()
        shutdown.request()
        let stopped = await h.runner(shutdown: shutdown).pass()
        #expect(stopped.outcome == .interrupted)
        #expect(try await h.count(.keyCreated) == 1)
        await h.pass()
        #expect(try await h.count(.rotationCompleted) == 2)
    }
}
