import CloudEmulator
import Foundation
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// An issuer without a key API (AWS IAM Identity Center): the journal lists the keys, a person makes and deletes
/// them in the console (the emulator's admin API plays the console), the tool does everything else.
@Suite("Assisted rotation (no key API)")
struct AssistedRotationTests {
    static func harness() throws -> RotationHarness {
        try RotationHarness(provider: .awsIdentityCenter) {
            $0.region = "us-east-1"
            $0.rotation = RotationSettings(rotateBefore: .days(30), gracePeriod: .days(1))
        }
    }

    /// A token a person makes in the console now, and hands over.
    static func handOver(_ h: RotationHarness) -> (id: String, request: RotationRequest) {
        let made = h.seedKey(ageDays: 0)
        let token = HandedToken(
            secret: Secret(made.secret),
            expiresAt: h.clock.now().addingTimeInterval(365 * 86_400),
            enteredBy: "alice"
        )
        return (made.id, RotationRequest(trigger: .manual, reason: "new token", token: token))
    }

    @Test(
        "track → due → waiting with the instruction → token handed over → verified, delivered, promoted → old token deletion asked once → confirmed"
    )
    func wholeFlow() async throws {
        let h = try Self.harness()
        let tracked = try await h.runner().track(
            createdAt: h.clock.now().addingTimeInterval(-300 * 86_400),
            expiresAt: h.clock.now().addingTimeInterval(65 * 86_400),
            by: "alice"
        )
        #expect(try await h.count(.keyTracked) == 1)
        let idle = await h.pass()
        #expect(idle.outcome == .idle, "65 days left, rotateBefore 30d: nothing is due yet")

        h.advance(days: 36)
        let waiting = await h.pass()
        #expect(waiting.outcome == .waiting)
        #expect(waiting.message.contains("--token-stdin"), "the plan says what a person does: \(waiting.message)")
        let asked = try await h.events(.rotationWaiting)
        #expect(asked.count == 1)
        #expect(asked.first?.details["action"] == "newToken")
        #expect(asked.first.map(Notifier.kinds(for:)) == [.action])
        #expect(try await h.count(.keyCreated) == 0, "nothing can be created without a key API")
        await h.pass()
        #expect(try await h.count(.rotationWaiting) == 1, "the request is announced once, not on every pass")

        let (_, request) = Self.handOver(h)
        let done = await h.pass(request)
        #expect(done.outcome == .changed, "\(done.message)")
        let records = try await h.store.keys(policy: "test")
        let current = try #require(records.first { $0.role == .current })
        #expect(current.keyId.hasPrefix("tok-"))
        #expect(h.sink.latest?.keyId == current.keyId)
        #expect(h.sink.latest?.secret == request.token?.secret)
        #expect(try await h.events(.keyCreated).first?.actor == .manual)
        #expect(try await h.count(.keyVerified) == 1)
        #expect(records.first { $0.keyId == tracked }?.role == .previous)

        h.advance(days: 2)
        await h.pass()
        await h.pass()
        let deletion = try await h.events(.rotationWaiting).filter { $0.details["action"] == "deleteToken" }
        #expect(deletion.map(\.keyId) == [tracked], "the old token's deletion is asked once")
        #expect(try await h.count(.keyDeleted) == 0, "only a person deletes it")
        let plan = try await h.plan()
        #expect(plan.warnings.contains { $0.contains("--old-deleted") })

        let confirmed = await h.runner().confirmDeleted(by: "alice")
        #expect(!confirmed.isFailure, "\(confirmed.message)")
        let deleted = try await h.events(.keyDeleted)
        #expect(deleted.map(\.keyId) == [tracked])
        #expect(deleted.first?.actor == .manual)
        #expect(try await h.runner().provider.listKeys().map(\.id) == [current.keyId])
        #expect(await h.runner().confirmDeleted(by: "alice").isFailure, "nothing is left to confirm")
    }

    @Test("a token seen before is refused; a token that fails verification is never delivered")
    func refusals() async throws {
        let h = try Self.harness()
        let (_, first) = Self.handOver(h)
        #expect(await h.pass(first).outcome == .changed)
        let delivered = h.sink.delivered.count

        let again = await h.pass(first)
        #expect(again.isFailure)
        #expect(again.message.contains("handed over before"), "\(again.message)")
        #expect(h.sink.delivered.count == delivered)

        let wrong = RotationRequest(
            trigger: .manual,
            reason: "a typo",
            token: HandedToken(secret: Secret("not-a-token"), expiresAt: h.clock.now() + 86_400, enteredBy: "bob")
        )
        let refused = await h.pass(wrong)
        #expect(refused.isFailure)
        #expect(refused.message.contains("verify"), "\(refused.message)")
        #expect(h.sink.delivered.count == delivered, "a token that fails verification reaches no sink")
        let asked = try await h.events(.rotationWaiting).filter { $0.details["action"] == "deleteToken" }
        #expect(asked.count == 1, "only a person can delete it: they are asked to")
        #expect(try await h.count(.keyAbandoned) == 0)
    }

    @Test(
        "a crash after the token is journaled: it stays listed and a person is asked to delete it; a new token is asked for"
    )
    func crashAfterHandOver() async throws {
        let h = try Self.harness()
        let (_, request) = Self.handOver(h)
        let crashed = await h.pass(request, failPoints: FailPoints(["after:created": .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted)
        let pending = try #require(try await h.store.keys(policy: "test").first { $0.role == .pending })
        await h.pass()
        #expect(
            try await h.provider().listKeys().map(\.id) == [pending.keyId],
            "the token exists in the console: it stays listed until a person deletes it"
        )
        let waiting = try await h.events(.rotationWaiting)
        #expect(waiting.contains { $0.details["action"] == "deleteToken" && $0.keyId == pending.keyId })
        #expect(waiting.contains { $0.details["action"] == "newToken" })
        #expect(h.sink.delivered.isEmpty)
    }

    @Test(
        "an emergency while a rotation waits for a token is recorded; a token for a rotation past hand-over is refused"
    )
    func requestsWhileWaiting() async throws {
        let h = try Self.harness()
        _ = try await h.runner().track(createdAt: nil, expiresAt: h.clock.now() + 10 * 86_400, by: "alice")
        await h.pass()
        let emergency = await h.pass(RotationRequest(trigger: .emergency, reason: "leaked"))
        #expect(emergency.outcome == .waiting || emergency.outcome == .expiring, "\(emergency.message)")
        let rotation = try #require(try await h.store.activeRotation(policy: "test"))
        #expect(rotation.trigger == .emergency, "the emergency is recorded on the waiting rotation")

        h.sink.failNext(1)
        let (_, request) = Self.handOver(h)
        #expect(await h.pass(request).isFailure, "the delivery fails; the rotation retries the same key")
        let (_, another) = Self.handOver(h)
        let refused = await h.pass(another)
        #expect(refused.isFailure)
        #expect(refused.message.contains("the token was not used"), "\(refused.message)")
    }

    @Test("track is for issuers without a key API; the API clouds list their keys")
    func trackRefusedWithAnAPI() async throws {
        let h = try RotationHarness(provider: .tencent)
        await #expect(throws: PolicyRunner.TrackError.self) {
            try await h.runner().track(createdAt: nil, expiresAt: h.clock.now() + 86_400, by: "alice")
        }
    }
}
