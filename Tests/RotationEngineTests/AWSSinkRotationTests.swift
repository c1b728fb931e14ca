import AWSSigV4
import Delivery
import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing
import Transport

/// Whole rotations delivering to AWS Secrets Manager and SSM Parameter Store on moto's server mode (started by
/// `scripts/test.sh` as `SCIM_ROTATOR_TEST_MOTO_URL`; skipped without it).
@Suite(
    "Rotations delivering to AWS (moto)",
    .enabled(
        if: ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_MOTO_URL"] != nil,
        "moto cases skipped: SCIM_ROTATOR_TEST_MOTO_URL is not set (scripts/test.sh starts moto_server)"
    )
)
struct AWSSinkRotationTests {
    static var moto: URL {
        URL(string: ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_MOTO_URL"] ?? "http://127.0.0.1:9")!
    }
    static let credentials = CloudCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secret: Secret("moto-any-key"))

    static func createSecret(_ name: String) async throws {
        let response = try await AsyncHTTPClientTransport.shared.send(
            AWSSigV4.jsonRequest(
                endpoint: moto,
                target: "secretsmanager.CreateSecret",
                body: try JSONSerialization.data(withJSONObject: ["Name": name, "SecretString": "placeholder"]),
                region: "us-east-1",
                service: "secretsmanager",
                credentials: credentials,
                date: Date()
            )
        )
        try #require(response.status == 200, "CreateSecret: \(String(decoding: response.body, as: UTF8.self))")
    }

    @Test(
        "a crash right after the Secrets Manager write: the key is recovered from AWSCURRENT, and the same key reaches SSM and the consumer"
    )
    func crashAfterSecretsManager() async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let secretId = "scim/engine-\(suffix)"
        try await Self.createSecret(secretId)
        let secretsManager = AWSSecretsManagerSink(
            secretId: secretId,
            region: "us-east-1",
            key: "token",
            endpoint: Self.moto,
            credentials: Self.credentials,
            transport: AsyncHTTPClientTransport.shared
        )
        let parameter = AWSSSMParameterSink(
            name: "/scim-engine-\(suffix)/token",
            region: "us-east-1",
            endpoint: Self.moto,
            credentials: Self.credentials,
            transport: AsyncHTTPClientTransport.shared
        )
        let h = try RotationHarness()
        let sinks: [any DeliverySink] = [h.sink, secretsManager, parameter]
        func pass(_ failPoints: FailPoints = .none) async -> PassResult {
            let result = await h.runner(failPoints: failPoints, sinks: sinks).pass(request: nil)
            if result.outcome == .interrupted, result.message.contains("crash") { h.crash() }
            return result
        }
        _ = await pass()
        h.advance(days: 61)
        // Readable sinks go first, in the policy's order: the process dies right after the Secrets Manager write,
        // before the journal records it, and its memory (the new key's secret) is gone.
        let crashed = await pass(FailPoints(["after:sink": .crash], crashByThrowing: true))
        #expect(crashed.outcome == .interrupted, "\(crashed.message)")
        var result = await pass()
        if result.outcome == .failed || result.outcome == .waiting {
            h.clock.set(max(h.clock.now(), result.nextCheck ?? h.clock.now()))
            result = await pass()
        }
        #expect(result.outcome == .changed, "\(result.message)")
        #expect(try await h.count(.keyAbandoned) == 0, "the delivered key was recovered, not abandoned")
        let resumed = try await h.events(.rotationResumed).compactMap(\.detail)
        #expect(resumed.count == 1 && resumed.allSatisfy { $0.contains(secretsManager.summary) }, "\(resumed)")
        #expect(try await h.count(.rotationCompleted) >= 1)
        let delivered = try #require(h.sink.delivered.last)
        let context = DeliveryContext(
            policy: h.policy.name,
            provider: h.policy.provider,
            zone: h.policy.zone,
            keyId: delivered.keyId,
            createdAt: Date(),
            expiresAt: Date(),
            scimURL: URL(string: "https://scim.example.com")!
        )
        #expect(try await secretsManager.read(context: context) == delivered.secret)
        #expect(try await parameter.read(context: context) == delivered.secret)
        let current = h.zoneKeys.filter { $0.status == .enabled }.map(\.id)
        #expect(current.contains(delivered.keyId))
        #expect(try await h.invariantViolations().isEmpty)
    }
}
