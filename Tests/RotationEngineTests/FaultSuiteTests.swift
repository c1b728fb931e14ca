import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// The emulator's fault injection against a rotation that is due: every case either completes after retries or
/// fails cleanly (a named error, a scheduled retry) and then recovers; the invariants hold throughout.
@Suite("Fault suite")
struct FaultSuiteTests {
    enum Expect: Sendable {
        /// The rotation completes in this pass.
        case completes
        /// This pass fails with an error naming this text; a later pass completes.
        case failsThenRecovers(String)
        /// This pass blocks, naming a key someone may use; the operator's consent to retire it (`--retire`) lets
        /// the next one complete.
        case blocksUntilConsent(String)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var fault: @Sendable (RotationHarness) -> [String: Any]
        var expect: Expect
        var testDescription: String { name }
    }

    static func replyBody(_ h: RotationHarness, missing: Bool) -> String {
        switch (h.policy.provider, missing) {
        case (.tencent, true): return #"{"Response": {"RequestId": "r-1"}}"#
        case (.tencent, false):
            return #"{"Response": {"RequestId": "r-1", "TotalCounts": "two", "SCIMCredentials": "none"}}"#
        case (.alibaba, true): return #"{"RequestId": "r-1"}"#
        case (.alibaba, false): return #"{"RequestId": "r-1", "SCIMServerCredentials": [{"CredentialId": 7}]}"#
        case (.volcengine, true): return #"{"ResponseMetadata": {"RequestId": "r-1"}}"#
        case (.volcengine, false):
            return
                #"{"ResponseMetadata": {"RequestId": "r-1"}, "Result": {"SCIMServerCredentials": [{"CredentialId": 7}]}}"#
        case (.awsIdentityCenter, _): return "{}"  // no key API, no replies (the suite runs over withKeyAPI)
        }
    }

    static let cases: [Case] = [
        Case(
            name: "a short throttling burst",
            fault: { h in
                [
                    "action": h.listAction,
                    "error": h.throttleCode, "times": 2,
                ]
            },
            expect: .completes
        ),
        Case(
            name: "a throttling storm",
            fault: { h in
                [
                    "action": h.listAction,
                    "error": h.throttleCode, "times": 8,
                ]
            },
            expect: .failsThenRecovers("throttled")
        ),
        Case(
            name: "a 5xx burst on List",
            fault: { h in ["action": h.listAction, "error": "ServiceUnavailable", "times": 2] },
            expect: .completes
        ),
        Case(
            name: "a 5xx burst on Create",
            fault: { h in ["action": h.createAction, "error": "InternalError", "times": 2] },
            expect: .failsThenRecovers("InternalError")
        ),
        Case(
            name: "a gateway error page",
            fault: { h in ["action": h.listAction, "httpStatus": 502, "times": 2] },
            expect: .completes
        ),
        Case(
            name: "a reply slower than the client timeout",
            fault: { h in ["action": h.listAction, "delayMs": 400, "times": 1] },
            expect: .completes
        ),
        Case(
            name: "replies slower than the timeout, every time",
            fault: { h in ["action": h.listAction, "delayMs": 400, "times": 12] },
            expect: .failsThenRecovers("timeout")
        ),
        Case(
            name: "a dropped connection before Create",
            fault: { h in ["action": h.createAction, "drop": "before"] },
            expect: .completes
        ),
        Case(
            name: "a dropped connection after Create (lost reply)",
            fault: { h in ["action": h.createAction, "drop": "after"] },
            expect: .completes
        ),
        Case(
            name: "garbled JSON from List",
            fault: { h in ["action": h.listAction, "garble": true] },
            expect: .completes
        ),
        Case(
            name: "garbled JSON from Create",
            fault: { h in ["action": h.createAction, "garble": true] },
            expect: .completes
        ),
        Case(
            name: "a wrong Content-Type",
            fault: { h in ["action": h.listAction, "contentType": "text/html"] },
            expect: .completes
        ),
        Case(
            name: "missing fields",
            fault: { h in ["action": h.listAction, "replyBody": replyBody(h, missing: true)] },
            expect: .completes
        ),
        Case(
            name: "wrong types",
            fault: { h in ["action": h.listAction, "replyBody": replyBody(h, missing: false), "times": 5] },
            expect: .failsThenRecovers("unexpectedReply")
        ),
        Case(
            name: "a huge body",
            fault: { h in ["action": h.listAction, "replyBytes": 3_000_000] },
            expect: .completes
        ),
        Case(
            name: "a console user adds a key mid-rotation",
            fault: { h in ["action": h.createAction, "consoleAddKey": true] },
            expect: .blocksUntilConsent("not created by this tool")
        ),
        Case(
            name: "a console user deletes the new key mid-rotation",
            fault: { h in ["action": h.createAction, "consoleDeleteKeyAfter": "newest"] },
            expect: .failsThenRecovers("verify")
        ),
    ]

    @Test("each fault has its expected outcome and the invariants hold", arguments: ProviderKind.withKeyAPI, cases)
    func fault(kind: ProviderKind, fault: Case) async throws {
        let h = try RotationHarness(provider: kind, clientTimeout: 0.2)
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: "fill the zone"))
        h.advance(days: 61)
        try await h.fault(fault.fault(h))
        let first = await h.pass()
        switch fault.expect {
        case .completes:
            #expect(first.outcome == .changed, "\(kind) \(fault.name): \(first.message)")
            #expect(try await h.count(.rotationCompleted) == 3, "\(kind) \(fault.name)")
        case .failsThenRecovers(let words):
            #expect(first.outcome == .failed, "\(kind) \(fault.name): \(first.outcome) \(first.message)")
            #expect(first.message.contains(words), "\(kind) \(fault.name): \(first.message)")
            let retryAt = try #require(first.nextCheck)
            #expect(retryAt > h.clock.now(), "a retry is scheduled")
            #expect(try await h.store.policyState(policy: "test").failures >= 1)
            var recovered = false
            for _ in 0..<6 where !recovered {
                h.clock.set(
                    max(h.clock.now(), try await h.store.policyState(policy: "test").nextAttemptAt ?? h.clock.now())
                )
                let outcome = await h.pass().outcome
                let completed = try await h.count(.rotationCompleted)
                recovered = outcome == .changed && completed == 3
            }
            #expect(recovered, "\(kind) \(fault.name): recovers once the fault is gone")
        case .blocksUntilConsent(let words):
            #expect(first.outcome == .blocked, "\(kind) \(fault.name): \(first.outcome) \(first.message)")
            #expect(first.message.contains(words), "\(kind) \(fault.name): \(first.message)")
            let foreign = try #require(try await h.store.keys(policy: "test").first { $0.role == .other })
            #expect(first.message.contains(foreign.keyId), "the block names the key in the way")
            let consented = await h.pass(RotationRequest(trigger: .manual, reason: "unused", retire: [foreign.keyId]))
            #expect(consented.outcome == .changed, "\(kind) \(fault.name): \(consented.message)")
            let retired = try await h.events(.keyRetired).last
            #expect(retired?.keyId == foreign.keyId && retired?.actor == .manual)
            #expect(retired?.detail?.contains("consent") == true)
        }
        let violations = try await h.invariantViolations()
        #expect(violations.isEmpty, "\(kind) \(fault.name): \(violations)")
    }

    @Test(
        "clock skew: SignatureExpire fails cleanly and names the clock; the next attempt after the fix succeeds",
        arguments: ProviderKind.withKeyAPI
    )
    func clockSkew(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        await h.pass()
        h.advance(days: 61)
        try await h.admin("POST", "settings", ["signatureSkewSeconds": 1_200.0])
        let skewed = await h.pass()
        #expect(skewed.outcome == .failed)
        #expect(skewed.message.contains("signatureExpired"))
        try await h.admin("POST", "settings", ["signatureSkewSeconds": 0.0])
        h.clock.set(skewed.nextCheck!)
        #expect(await h.pass().outcome == .changed)
        #expect(try await h.invariantViolations().isEmpty)
    }
}
