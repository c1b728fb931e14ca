import AWSSigV4
import Delivery
import Foundation
import SCIMRotatorCore
import Testing
import Transport

/// An issuer without a key API, from the command line: AWS IAM Identity Center on the emulator, whose admin API plays
/// the console (a person generating and deleting tokens).
@Suite("Assisted rotation from the command line (aws-identity-center)")
struct AssistedCLITests {
    static let tenant = "demo0000aws-tenant-0001"

    /// moto's server mode, started by `scripts/test.sh`: the new token also goes to Secrets Manager and SSM there.
    static var moto: URL? {
        ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_MOTO_URL"].flatMap { URL(string: $0) }
    }
    static let motoCredentials = CloudCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secret: Secret("moto-any-key"))

    @Test("moto is configured for this run (scripts/test.sh starts it; CI must not skip the AWS sinks)")
    func motoConfigured() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(Self.moto != nil, "SCIM_ROTATOR_TEST_MOTO_URL is not set under CI")
        }
    }

    @Test(
        "track → waiting with the instruction → rotate --token-stdin → delivered to a file, Secrets Manager and SSM → old token deletion asked → confirm --old-deleted"
    )
    func assistedFlow() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let file = work.path + "/out/aws.token"
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let secretId = "scim/cli-\(suffix)"
        let parameter = "/scim-cli-\(suffix)/token"
        var awsSinks = ""
        if let moto = Self.moto {
            let created = try await AsyncHTTPClientTransport.shared.send(
                AWSSigV4.jsonRequest(
                    endpoint: moto,
                    target: "secretsmanager.CreateSecret",
                    body: try JSONSerialization.data(withJSONObject: ["Name": secretId, "SecretString": "placeholder"]),
                    region: "us-east-1",
                    service: "secretsmanager",
                    credentials: Self.motoCredentials,
                    date: Date()
                )
            )
            try #require(created.status == 200)
            awsSinks = """
                  - aws-secrets-manager: {secretId: \(secretId), region: us-east-1, key: token, endpoint: \(moto)}
                  - aws-ssm-parameter: {name: \(parameter), region: us-east-1, endpoint: \(moto)}
                """
        }
        try FileManager.default.removeItem(atPath: work.policies + "/test.yaml")
        try """
        provider: aws-identity-center
        zone: \(Self.tenant)
        region: us-east-1
        rotation: {rotateBefore: 30d, gracePeriod: 0s}
        verify: {scim: {url: \(emulator.url)/\(Self.tenant)/scim/v2}}
        deliver:
          - file: {path: \(file)}
        \(awsSinks)
        """.write(toFile: work.policies + "/aws.yaml", atomically: true, encoding: .utf8)
        let env = emulator.environment.merging([
            "AWS_ACCESS_KEY_ID": Self.motoCredentials.accessKeyId,
            "AWS_SECRET_ACCESS_KEY": Self.motoCredentials.secret.reveal(),
        ]) { _, new in new }

        let check = try CLI.run(["policy", "check"] + work.common, environment: env)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // The token in use today expires in 10 days: within rotateBefore (a rotation is due at once) and within
        // warnBefore (key.expiring; status exits 1 until a new token is handed over).
        let track = try CLI.run(["track", "aws", "--expires", "+10d"] + work.common, environment: env)
        #expect(track.status == 0, "\(track.stdout)\(track.stderr)")
        #expect(track.stdout.contains("--token-stdin"), "the instruction: \(track.stdout)")
        let waiting = try CLI.run(["history", "--event", "rotation.waiting", "--format", "json"] + work.common)
        #expect(waiting.stdout.contains("newToken"))
        let expiring = try CLI.run(["history", "--event", "key.expiring", "--format", "json"] + work.common)
        #expect(expiring.stdout.contains("tracked-"))
        let before = try CLI.run(["status", "aws"] + work.common, environment: env)
        #expect(before.status == 1, "\(before.stdout)")
        #expect(before.stdout.contains("no replacement"))

        // Without a token the rotate command cannot create one: it says what to do.
        let bare = try CLI.run(["rotate", "aws"] + work.common, environment: env)
        #expect(bare.stderr.contains("--token-stdin"), "\(bare.stderr)")

        // The person generates a token in the console (the emulator's admin API) and pastes it.
        let now = ISO8601DateFormatter().string(from: Date())
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(365 * 86_400))
        let made = try #require(
            try emulator.admin("POST", "zones/\(Self.tenant)/keys", ["createdAt": now, "expiresAt": later])
                as? [String: Any]
        )
        let secret = try #require(made["secret"] as? String)
        let rotate = try CLI.run(
            ["rotate", "aws", "--token-stdin"] + work.common,
            environment: env,
            input: secret + "\n"
        )
        #expect(rotate.status == 0, "\(rotate.stdout)\(rotate.stderr)")
        let delivered = try String(contentsOfFile: file, encoding: .utf8).contains(secret)
        #expect(delivered, "the file sink holds the new token")
        if let moto = Self.moto {
            let context = DeliveryContext(
                policy: "aws",
                provider: .awsIdentityCenter,
                zone: Self.tenant,
                keyId: "-",
                createdAt: Date(),
                expiresAt: Date(),
                scimURL: moto
            )
            let inSecretsManager = try await AWSSecretsManagerSink(
                secretId: secretId,
                region: "us-east-1",
                key: "token",
                endpoint: moto,
                credentials: Self.motoCredentials,
                transport: AsyncHTTPClientTransport.shared
            ).read(context: context)
            #expect(inSecretsManager?.reveal() == secret, "Secrets Manager holds the new token (AWSCURRENT)")
            let inParameterStore = try await AWSSSMParameterSink(
                name: parameter,
                region: "us-east-1",
                endpoint: moto,
                credentials: Self.motoCredentials,
                transport: AsyncHTTPClientTransport.shared
            ).read(context: context)
            #expect(inParameterStore?.reveal() == secret, "the SSM parameter holds the new token")
        }
        let printed = rotate.stdout.contains(secret) || rotate.stderr.contains(secret)
        #expect(!printed, "the secret is never printed")

        // The same token again is refused.
        let again = try CLI.run(["rotate", "aws", "--token-stdin"] + work.common, environment: env, input: secret)
        #expect(again.status != 0)
        #expect(again.stdout.contains("handed over before") || again.stderr.contains("handed over before"))

        // Grace 0s: the next pass asks a person to delete the tracked token; status says so.
        #expect(try CLI.run(["reconcile"] + work.common, environment: env).status == 0)
        let status = try CLI.run(["status", "aws"] + work.common, environment: env)
        #expect(status.stdout.contains("--old-deleted"), "\(status.stdout)")
        let asked = try CLI.run(["history", "--event", "rotation.waiting", "--format", "json"] + work.common)
        #expect(asked.stdout.contains("deleteToken"))

        let confirm = try CLI.run(["confirm", "aws", "--old-deleted"] + work.common, environment: env)
        #expect(confirm.status == 0, "\(confirm.stdout)\(confirm.stderr)")
        let deleted = try CLI.run(["history", "--event", "key.deleted", "--format", "json"] + work.common)
        #expect(deleted.stdout.contains("tracked-"))
        let audit = try CLI.run(["audit", "verify"] + work.common)
        #expect(audit.status == 0)
        let database = try Data(contentsOf: URL(fileURLWithPath: work.db))
        #expect(database.range(of: Data(secret.utf8)) == nil, "the history holds fingerprints, never the token")
    }

    @Test("status exits non-zero when the tracked token nears expiry and nobody handed over a new one")
    func expiringWithoutReplacement() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        try FileManager.default.removeItem(atPath: work.policies + "/test.yaml")
        try """
        provider: aws-identity-center
        zone: \(Self.tenant)
        region: us-east-1
        deliver:
          - file: {path: \(work.path)/out/aws.token}
        """.write(toFile: work.policies + "/aws.yaml", atomically: true, encoding: .utf8)
        _ = try CLI.run(["track", "aws", "--expires", "+5d"] + work.common, environment: emulator.environment)
        let status = try CLI.run(["status", "aws"] + work.common, environment: emulator.environment)
        #expect(status.status == 1, "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("no replacement"), "\(status.stdout)")
        let reconcile = try CLI.run(["reconcile"] + work.common, environment: emulator.environment)
        #expect(reconcile.status == 1)
        let emptyInput = try CLI.run(
            ["rotate", "aws", "--token-stdin", "--expires", "+1d"] + work.common,
            environment: emulator.environment,
            input: ""
        )
        #expect(emptyInput.status == 2, "an empty stdin changes nothing: \(emptyInput.stderr)")
    }
}
