import AWSSigV4
import Delivery
import Foundation
import SCIMRotatorCore
import Testing
import Transport

/// moto's server mode (`moto[server]`, a third-party AWS emulator): `scripts/test.sh` starts two `moto_server`s on free
/// loopback ports and exports `SCIM_ROTATOR_TEST_MOTO_URL` (the sinks' cases: each uses names of its own, so they run
/// in parallel) and `SCIM_ROTATOR_TEST_MOTO_IAM_URL` (one case switches it to IAM mode, which would refuse everyone
/// else's calls); `swift test` alone skips these cases, and says so.
enum Moto {
    static let environment = ProcessInfo.processInfo.environment
    static var url: URL? { environment["SCIM_ROTATOR_TEST_MOTO_URL"].flatMap { URL(string: $0) } }
    static var iamURL: URL? { environment["SCIM_ROTATOR_TEST_MOTO_IAM_URL"].flatMap { URL(string: $0) } }
    static var configured: Bool { url != nil }
    static var iamConfigured: Bool { iamURL != nil }
    /// The servers (only used in the suites that run when they are configured).
    static var endpoint: URL { url ?? URL(string: "http://127.0.0.1:9")! }
    static var iamEndpoint: URL { iamURL ?? URL(string: "http://127.0.0.1:9")! }
    static let skipMessage =
        "moto cases skipped: SCIM_ROTATOR_TEST_MOTO_URL is not set (scripts/test.sh starts moto_server)"
    static let iamSkipMessage =
        "moto IAM-mode cases skipped: SCIM_ROTATOR_TEST_MOTO_IAM_URL is not set (scripts/test.sh starts moto_server)"
    static let region = "us-east-1"

    static func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// A signed call of our own (moto routes by the Authorization header's scope), for setting up state.
    static func call(
        _ service: String,
        _ target: String,
        _ parameters: [String: Any],
        server: URL = endpoint
    ) async throws -> (status: Int, object: [String: Any]) {
        let response = try await AsyncHTTPClientTransport.shared.send(
            AWSSigV4.jsonRequest(
                endpoint: server,
                target: target,
                body: try JSONSerialization.data(withJSONObject: parameters),
                region: region,
                service: service,
                credentials: awsCredentials,
                date: Date()
            )
        )
        return (response.status, (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:])
    }

    /// A signed AWS Query call (IAM, STS: a form body, an XML reply), for setting up identities.
    static func query(
        _ service: String,
        _ parameters: [String: String],
        credentials: CloudCredentials = awsCredentials,
        server: URL = iamEndpoint
    ) async throws -> (status: Int, body: String) {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = parameters.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)" }
            .joined(separator: "&")
        let body = Data(form.utf8)
        let amzDate = AWSSigV4.amzDate(Date())
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("X-Amz-Date", amzDate),
        ]
        if let token = credentials.token { headers.append(("X-Amz-Security-Token", token.reveal())) }
        let signature = AWSSigV4.sign(
            method: "POST",
            url: server,
            headers: headers,
            body: body,
            amzDate: amzDate,
            region: region,
            service: service,
            credentials: credentials
        )
        headers.append(("Authorization", signature.authorization))
        let response = try await AsyncHTTPClientTransport.shared.send(
            HTTPRequest(method: "POST", url: server, headers: headers, body: body)
        )
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// The text of the first `<name>` element.
    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"),
            let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
    }

    /// `POST /moto-api/reset-auth`: the next `budget` requests go unchecked, every later one is authenticated
    /// and authorized against moto's IAM (`inf` turns checking off again).
    static func resetAuth(_ budget: String, server: URL = iamEndpoint) async throws {
        let response = try await AsyncHTTPClientTransport.shared.send(
            HTTPRequest(
                method: "POST",
                url: server.appendingPathComponent("moto-api").appendingPathComponent("reset-auth"),
                headers: [("Content-Type", "text/plain")],
                body: Data(budget.utf8)
            )
        )
        try #require(response.status == 200, "reset-auth: \(String(decoding: response.body, as: UTF8.self))")
    }

    static func createSecret(_ name: String, value: String = "placeholder", server: URL = endpoint) async throws {
        let reply = try await call(
            "secretsmanager",
            "secretsmanager.CreateSecret",
            ["Name": name, "SecretString": value],
            server: server
        )
        try #require(reply.status == 200, "CreateSecret: \(reply)")
    }
}

func keyContext(_ keyId: String, policy: String = "moto-policy") -> DeliveryContext {
    var copy = context
    copy.keyId = keyId
    copy.policy = policy
    return copy
}

@Suite("moto server")
struct MotoConfiguredTests {
    @Test("moto is configured for this run", .enabled(if: Moto.configured, "\(Moto.skipMessage)"))
    func configured() {}

    @Test("moto in IAM mode is configured for this run", .enabled(if: Moto.iamConfigured, "\(Moto.iamSkipMessage)"))
    func iamConfigured() {}

    @Test("CI always runs the moto cases")
    func ciHasMoto() {
        if Moto.environment["CI"] != nil, !Moto.configured {
            Issue.record("CI=\(Moto.environment["CI"] ?? ""), but \(Moto.skipMessage)")
        }
        if Moto.environment["CI"] != nil, !Moto.iamConfigured {
            Issue.record("CI=\(Moto.environment["CI"] ?? ""), but \(Moto.iamSkipMessage)")
        }
    }
}

@Suite("AWS sinks against moto_server", .enabled(if: Moto.configured, "\(Moto.skipMessage)"))
struct AWSMotoTests {
    func secretsManager(_ secretId: String, key: String? = nil) throws -> AWSSecretsManagerSink {
        AWSSecretsManagerSink(
            secretId: secretId,
            region: Moto.region,
            key: key,
            endpoint: Moto.endpoint,
            credentials: awsCredentials,
            transport: AsyncHTTPClientTransport.shared,
            pause: noPause
        )
    }

    func parameter(_ name: String, kmsKeyId: String? = nil) throws -> AWSSSMParameterSink {
        AWSSSMParameterSink(
            name: name,
            region: Moto.region,
            kmsKeyId: kmsKeyId,
            endpoint: Moto.endpoint,
            credentials: awsCredentials,
            transport: AsyncHTTPClientTransport.shared,
            pause: noPause
        )
    }

    @Test("Secrets Manager: a new version per key, AWSCURRENT moves, a retried delivery is the same version")
    func secretsManagerVersions() async throws {
        let name = Moto.unique("scim/moto")
        try await Moto.createSecret(name)
        let sink = try secretsManager(name)
        let first = keyContext("scimcred-first")
        let receipt = try await sink.deliver(secret, context: first)
        let token = AWSSecretsManagerSink.clientRequestToken(policy: first.policy, keyId: first.keyId)
        #expect(receipt.detail["versionId"] == token)
        #expect(receipt.detail["arn"]?.contains(name) == true)
        #expect(try await sink.read(context: first) == secret)

        // The same key again (a retry after a lost reply): AWS ignores it, same version, still current.
        let again = try await sink.deliver(secret, context: first)
        #expect(again.detail["versionId"] == token)
        let described = try await Moto.call("secretsmanager", "secretsmanager.DescribeSecret", ["SecretId": name])
        let versions = described.object["VersionIdsToStages"] as? [String: [String]] ?? [:]
        #expect(versions.count == 2, "\(versions)")
        #expect(versions[token] == ["AWSCURRENT"])

        let next = Secret("second-key-\(UUID().uuidString)")
        let second = keyContext("scimcred-second")
        let nextReceipt = try await sink.deliver(next, context: second)
        #expect(nextReceipt.detail["versionId"] != token)
        #expect(try await sink.read(context: second) == next)
        let after = try await Moto.call("secretsmanager", "secretsmanager.DescribeSecret", ["SecretId": name])
        #expect((after.object["VersionIdsToStages"] as? [String: [String]])?[token] == ["AWSPREVIOUS"])
    }

    @Test("Secrets Manager with key: a JSON object, read back from its field; a changed key: fails clearly")
    func secretsManagerJSON() async throws {
        let name = Moto.unique("scim/moto-json")
        try await Moto.createSecret(name)
        let sink = try secretsManager(name, key: "token")
        let keyed = keyContext("scimcred-json")
        _ = try await sink.deliver(secret, context: keyed)
        #expect(try await sink.read(context: keyed) == secret)
        let stored = try await Moto.call("secretsmanager", "secretsmanager.GetSecretValue", ["SecretId": name])
        let text = try #require(stored.object["SecretString"] as? String)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(object["token"] == secret.reveal())
        #expect(object["credentialId"] == "scimcred-json")
        #expect(object["expiresAt"] == context.expiresAt.formatted(Date.ISO8601FormatStyle()))
        #expect(object.count == 3)

        // The same key id with another value under the same client request token: moto refuses, as AWS does.
        await expectAWSError(["ResourceExistsException", name, "`key:`"], retryClass: .final) {
            _ = try await secretsManager(name).deliver(secret, context: keyed)
        }
    }

    @Test("Secrets Manager: a missing secret is a final error that says to create it; read gives nil")
    func secretsManagerMissing() async throws {
        let name = Moto.unique("scim/missing")
        let sink = try secretsManager(name)
        await expectAWSError(
            ["ResourceNotFoundException", "HTTP 404", "create-secret --name \(name) --region us-east-1"],
            retryClass: .final
        ) { _ = try await sink.deliver(secret, context: context) }
        #expect(try await sink.read(context: context) == nil)
    }

    @Test("SSM: SecureString created, overwritten as a new version, read back decrypted")
    func parameterVersions() async throws {
        let name = "/" + Moto.unique("scim-rotator") + "/token"
        let sink = try parameter(name, kmsKeyId: "alias/scim-rotator")
        #expect(try await sink.read(context: context) == nil)
        let first = try await sink.deliver(secret, context: context)
        #expect(first.detail["version"] == "1")
        #expect(try await sink.read(context: context) == secret)
        let next = Secret("second-key-\(UUID().uuidString)")
        let second = try await sink.deliver(next, context: keyContext("scimcred-second"))
        #expect(second.detail["version"] == "2")
        #expect(try await sink.read(context: context) == next)
        let raw = try await Moto.call("ssm", "AmazonSSM.GetParameter", ["Name": name])
        let parameter = raw.object["Parameter"] as? [String: Any]
        #expect(parameter?["Type"] as? String == "SecureString")
        // Without decryption moto shows the KMS key it "encrypted" with.
        #expect((parameter?["Value"] as? String)?.hasPrefix("kms:alias/scim-rotator:") == true)
    }

    @Test("SSM: the same key delivered twice is harmless (Overwrite)")
    func parameterRetry() async throws {
        let name = "/" + Moto.unique("scim-rotator") + "/token"
        let sink = try parameter(name)
        _ = try await sink.deliver(secret, context: context)
        let again = try await sink.deliver(secret, context: context)
        #expect(again.detail["version"] == "2")
        #expect(try await sink.read(context: context) == secret)
    }
}

/// The second server, alone: IAM mode refuses every call not signed by one of its own identities.
@Suite("AWS sinks against moto_server in IAM mode", .enabled(if: Moto.iamConfigured, "\(Moto.iamSkipMessage)"))
struct AWSMotoIAMTests {
    /// moto in IAM mode checks every signature the way botocore computes it and authorizes the call against IAM
    /// policies: allowed reads prove the signer (with and without a session token), and denied writes come back as
    /// moto's AccessDenied (an HTTP 403 XML reply, where AWS sends a 400 JSON AccessDeniedException).
    @Test("IAM mode: signatures verified by moto (long-term and session keys); AccessDenied and a wrong key are final")
    func iamMode() async throws {
        let user = Moto.unique("rotator")
        let role = Moto.unique("rotator-role")
        let name = Moto.unique("scim/iam")
        let parameterName = "/" + Moto.unique("scim-iam") + "/token"
        try await Moto.resetAuth("6")
        var failure: (any Error)?
        do {
            try await iamChecks(user: user, role: role, secret: name, parameter: parameterName)
        } catch {
            failure = error
        }
        try await Moto.resetAuth("inf")
        if let failure { throw failure }
    }

    func iamChecks(
        user: String,
        role: String,
        secret secretName: String,
        parameter parameterName: String
    )
        async throws
    {
        // Six unchecked calls to set up: a user allowed to read, and a role allowed to read, assumable by it.
        _ = try await Moto.query("iam", ["Action": "CreateUser", "UserName": user, "Version": "2010-05-08"])
        let key = try await Moto.query(
            "iam",
            ["Action": "CreateAccessKey", "UserName": user, "Version": "2010-05-08"]
        )
        let readOnly = """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", \
            "ssm:GetParameter", "sts:AssumeRole"], "Resource": "*"}]}
            """
        _ = try await Moto.query(
            "iam",
            [
                "Action": "PutUserPolicy", "UserName": user, "PolicyName": "read", "PolicyDocument": readOnly,
                "Version": "2010-05-08",
            ]
        )
        try await Moto.createSecret(secretName, value: secret.reveal(), server: Moto.iamEndpoint)
        let trust = """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, \
            "Action": "sts:AssumeRole"}]}
            """
        _ = try await Moto.query(
            "iam",
            ["Action": "CreateRole", "RoleName": role, "AssumeRolePolicyDocument": trust, "Version": "2010-05-08"]
        )
        _ = try await Moto.query(
            "iam",
            [
                "Action": "PutRolePolicy", "RoleName": role, "PolicyName": "read", "PolicyDocument": readOnly,
                "Version": "2010-05-08",
            ]
        )
        let keyId = try #require(Moto.element("AccessKeyId", in: key.body), "\(key)")
        let keySecret = try #require(Moto.element("SecretAccessKey", in: key.body))
        let userKey = CloudCredentials(accessKeyId: keyId, secret: Secret(keySecret))

        // From here every call is checked.
        func secretsManager(_ credentials: CloudCredentials) -> AWSSecretsManagerSink {
            AWSSecretsManagerSink(
                secretId: secretName,
                region: Moto.region,
                endpoint: Moto.iamEndpoint,
                credentials: credentials,
                transport: AsyncHTTPClientTransport.shared,
                pause: noPause
            )
        }
        #expect(try await secretsManager(userKey).read(context: context) == secret)
        await expectAWSError(
            ["AccessDenied", "HTTP 403", "not authorized", "grant secretsmanager:PutSecretValue", keyId],
            retryClass: .final,
            secrets: [keySecret]
        ) { _ = try await secretsManager(userKey).deliver(secret, context: context) }

        let parameter = AWSSSMParameterSink(
            name: parameterName,
            region: Moto.region,
            endpoint: Moto.iamEndpoint,
            credentials: userKey,
            transport: AsyncHTTPClientTransport.shared,
            pause: noPause
        )
        #expect(try await parameter.read(context: context) == nil)
        await expectAWSError(
            ["AccessDenied", "grant ssm:PutParameter", parameterName],
            retryClass: .final,
            secrets: [keySecret]
        ) { _ = try await parameter.deliver(secret, context: context) }

        let wrongSecret = CloudCredentials(accessKeyId: keyId, secret: Secret("not-the-secret-key-\(UUID())"))
        await expectAWSError(["SignatureDoesNotMatch", "check the secret access key"], retryClass: .final) {
            _ = try await secretsManager(wrongSecret).read(context: context)
        }

        // Temporary credentials: X-Amz-Security-Token signed and checked.
        let assumed = try await Moto.query(
            "sts",
            [
                "Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/\(role)",
                "RoleSessionName": "scim-rotator", "Version": "2011-06-15",
            ],
            credentials: userKey
        )
        try #require(assumed.status == 200, "\(assumed)")
        let session = CloudCredentials(
            accessKeyId: try #require(Moto.element("AccessKeyId", in: assumed.body)),
            secret: Secret(try #require(Moto.element("SecretAccessKey", in: assumed.body))),
            token: Secret(try #require(Moto.element("SessionToken", in: assumed.body)))
        )
        #expect(try await secretsManager(session).read(context: context) == secret)
        let badToken = CloudCredentials(
            accessKeyId: session.accessKeyId,
            secret: session.secret,
            token: Secret("not-the-session-token")
        )
        await expectAWSError(["InvalidClientTokenId", session.accessKeyId], retryClass: .final) {
            _ = try await secretsManager(badToken).read(context: context)
        }
    }
}
