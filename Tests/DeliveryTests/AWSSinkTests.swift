import AWSSigV4
import Delivery
import Foundation
import SCIMRotatorCore
import Testing
import Transport

let awsCredentials = CloudCredentials(
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secret: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    token: nil
)
let awsSessionCredentials = CloudCredentials(
    accessKeyId: "ASIAEXAMPLESESSION01",
    secret: Secret("sessionSecretKeyEXAMPLE0123456789abcdef0"),
    token: Secret("IQoJb3JpZ2luX2VjEXAMPLEsessiontoken+scim/rotator==")
)
let noPause: @Sendable (Double) async throws -> Void = { _ in }

/// Replies in AWS's own shapes (awsJson1.1 errors with `__type`, HTTP 400 for throttling and access denied, as the
/// docs list them; moto answers some of these differently or cannot produce them): a scripted queue per operation,
/// every request recorded and its signature checked.
final class ScriptedAWS: HTTPTransport, @unchecked Sendable {
    struct Call {
        var target: String
        var body: [String: Any]
        var request: HTTPRequest
    }

    private let lock = NSLock()
    private var scripts: [String: [HTTPResponse]] = [:]
    private var recorded: [Call] = []
    private var badSignatures = 0
    let credentials: CloudCredentials

    init(credentials: CloudCredentials = awsCredentials) { self.credentials = credentials }

    func reply(_ operation: String, _ status: Int, _ body: String, headers: [String: String] = [:]) {
        let response = HTTPResponse(status: status, headers: headers, body: Data(body.utf8))
        lock.withLock { scripts[operation, default: []].append(response) }
    }

    func error(_ operation: String, _ status: Int, _ code: String, _ message: String) {
        reply(operation, status, #"{"__type": "\#(code)", "Message": "\#(message)"}"#)
    }

    var calls: [Call] { lock.withLock { recorded } }
    var signatureFailures: Int { lock.withLock { badSignatures } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let target = request.header("X-Amz-Target") ?? ""
        let operation = String(target.split(separator: ".").last ?? "")
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] ?? [:]
        // The signature must verify from what was received.
        let scope = request.header("Authorization")?.components(separatedBy: "/") ?? []
        let check = AWSSigV4.sign(
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            amzDate: request.header("X-Amz-Date") ?? "",
            region: scope.count > 2 ? scope[2] : "",
            service: scope.count > 3 ? scope[3] : "",
            credentials: credentials
        )
        return lock.withLock {
            recorded.append(Call(target: target, body: body, request: request))
            if check.authorization != request.header("Authorization") { badSignatures += 1 }
            guard var queue = scripts[operation], !queue.isEmpty else {
                return HTTPResponse(status: 500, body: Data(#"{"__type": "NoScript"}"#.utf8))
            }
            let response = queue.removeFirst()
            scripts[operation] = queue
            return response
        }
    }
}

/// An AWS sink error, with the words expected in it and no secret.
func expectAWSError(
    _ words: [String],
    retryClass: RetryClass,
    secrets: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected an AWS error containing \(words)", sourceLocation: sourceLocation)
    } catch {
        let text = "\(error)"
        for word in words { #expect(text.contains(word), "\(text)", sourceLocation: sourceLocation) }
        #expect(RetryClass(of: error) == retryClass, "\(text)", sourceLocation: sourceLocation)
        for value in [secret.reveal(), awsCredentials.secret.reveal(), awsSessionCredentials.secret.reveal()]
            + secrets
        {
            #expect(!text.contains(value), "the error leaks a secret: \(text)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("AWS Secrets Manager sink (AWS-shaped replies)")
struct AWSSecretsManagerSinkTests {
    func sink(
        _ aws: ScriptedAWS,
        key: String? = nil,
        credentials: CloudCredentials = awsCredentials
    ) -> AWSSecretsManagerSink {
        AWSSecretsManagerSink(
            secretId: "scim/tencent-prod",
            region: "eu-west-1",
            key: key,
            endpoint: URL(string: "https://vpce-0abc.secretsmanager.eu-west-1.vpce.amazonaws.com")!,
            credentials: credentials,
            transport: aws,
            pause: noPause
        )
    }

    static let token = AWSSecretsManagerSink.clientRequestToken(policy: context.policy, keyId: context.keyId)

    func putReply(_ aws: ScriptedAWS, version: String = token) {
        aws.reply(
            "PutSecretValue",
            200,
            #"{"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:scim/tencent-prod-AbCdEf", "Name": "scim/tencent-prod", "VersionId": "\#(version)", "VersionStages": ["AWSCURRENT"]}"#
        )
    }

    func getReply(_ aws: ScriptedAWS, value: String, stages: String = #"["AWSCURRENT"]"#) throws {
        let object: [String: Any] = [
            "Name": "scim/tencent-prod", "VersionId": Self.token, "SecretString": value, "CreatedDate": 1_800_000_000.5,
        ]
        var text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        text = String(text.dropLast()) + #", "VersionStages": \#(stages)}"#
        aws.reply("GetSecretValue", 200, text)
    }

    @Test("the client request token is deterministic, UUID-shaped, 32-64 characters, per policy and key")
    func clientRequestToken() {
        let token = AWSSecretsManagerSink.clientRequestToken(policy: "p", keyId: "k1")
        #expect(token == AWSSecretsManagerSink.clientRequestToken(policy: "p", keyId: "k1"))
        #expect(token != AWSSecretsManagerSink.clientRequestToken(policy: "p", keyId: "k2"))
        #expect(token != AWSSecretsManagerSink.clientRequestToken(policy: "q", keyId: "k1"))
        #expect(token != AWSSecretsManagerSink.clientRequestToken(policy: "pk", keyId: "1"))
        #expect((32...64).contains(token.count))
        #expect(token.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/) != nil)
    }

    @Test("PutSecretValue with the derived token and the plain key, then GetSecretValue of that version")
    func deliverPlain() async throws {
        let aws = ScriptedAWS()
        putReply(aws)
        try getReply(aws, value: secret.reveal())
        let receipt = try await sink(aws).deliver(secret, context: context)
        #expect(receipt.detail["versionId"] == Self.token)
        #expect(receipt.detail["arn"]?.hasPrefix("arn:aws:secretsmanager:eu-west-1:") == true)
        #expect(receipt.detail.values.allSatisfy { !$0.contains(secret.reveal()) })
        let calls = aws.calls
        #expect(calls.map(\.target) == ["secretsmanager.PutSecretValue", "secretsmanager.GetSecretValue"])
        #expect(calls[0].body["SecretId"] as? String == "scim/tencent-prod")
        #expect(calls[0].body["ClientRequestToken"] as? String == Self.token)
        #expect(calls[0].body["SecretString"] as? String == secret.reveal())
        #expect(calls[1].body["VersionId"] as? String == Self.token)
        #expect(aws.signatureFailures == 0)
        let request = calls[0].request
        #expect(request.url.absoluteString == "https://vpce-0abc.secretsmanager.eu-west-1.vpce.amazonaws.com/")
        #expect(request.header("Content-Type") == "application/x-amz-json-1.1")
        #expect(
            request.header("Authorization")?.contains(
                "/eu-west-1/secretsmanager/aws4_request, "
                    + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
            ) == true
        )
    }

    @Test("with key: a JSON object of the key, credentialId and expiresAt; read takes the field")
    func deliverJSON() async throws {
        let aws = ScriptedAWS(credentials: awsSessionCredentials)
        putReply(aws)
        let stored =
            #"{"credentialId":"scimcred-un1tgbnt0s9j","expiresAt":"2027-04-15T08:00:00Z","token":"\#(secret.reveal())"}"#
        try getReply(aws, value: stored)
        try getReply(aws, value: stored)
        let sink = sink(aws, key: "token", credentials: awsSessionCredentials)
        _ = try await sink.deliver(secret, context: context)
        let sent = try #require(aws.calls[0].body["SecretString"] as? String)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(sent.utf8)) as? [String: String])
        #expect(
            object == ["token": secret.reveal(), "credentialId": context.keyId, "expiresAt": "2027-04-15T08:00:00Z"]
        )
        #expect(sent == stored)
        #expect(aws.calls[0].request.header("X-Amz-Security-Token") == awsSessionCredentials.token?.reveal())
        #expect(aws.calls[0].request.header("Authorization")?.contains("x-amz-security-token") == true)
        #expect(aws.signatureFailures == 0)
        #expect(try await sink.read(context: context) == secret)
        #expect(aws.calls[2].body["VersionId"] == nil)
    }

    @Test("a read-back that differs, or a version that is not AWSCURRENT, fails the delivery")
    func readBackChecks() async throws {
        let aws = ScriptedAWS()
        putReply(aws)
        try getReply(aws, value: "something else")
        await expectDeliveryError("does not match") { _ = try await sink(aws).deliver(secret, context: context) }
        putReply(aws)
        try getReply(aws, value: secret.reveal(), stages: #"["AWSPREVIOUS"]"#)
        await expectDeliveryError("not AWSCURRENT") { _ = try await sink(aws).deliver(secret, context: context) }
    }

    @Test("throttling is retried with a new signature; a persistent one is not-executed, not final")
    func throttling() async throws {
        let aws = ScriptedAWS()
        aws.error("PutSecretValue", 400, "ThrottlingException", "Rate exceeded")
        putReply(aws)
        try getReply(aws, value: secret.reveal())
        _ = try await sink(aws).deliver(secret, context: context)
        #expect(aws.calls.map(\.target).filter { $0.hasSuffix("PutSecretValue") }.count == 2)
        #expect(aws.signatureFailures == 0)

        let throttled = ScriptedAWS()
        for _ in 0..<3 { throttled.error("PutSecretValue", 400, "ThrottlingException", "Rate exceeded") }
        await expectAWSError(
            ["scim/tencent-prod", "eu-west-1", "PutSecretValue", "ThrottlingException", "Rate exceeded"],
            retryClass: .notExecuted
        ) { _ = try await sink(throttled).deliver(secret, context: context) }
        #expect(throttled.calls.count == 3)
    }

    @Test("AccessDenied and a missing secret are final, name the secret and region, and say what to fix")
    func finalErrors() async throws {
        let aws = ScriptedAWS()
        aws.error(
            "PutSecretValue",
            400,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/rotator is not authorized to perform: secretsmanager:PutSecretValue"
        )
        await expectAWSError(
            ["scim/tencent-prod", "eu-west-1", "AccessDeniedException", "grant secretsmanager:PutSecretValue"],
            retryClass: .final
        ) { _ = try await sink(aws).deliver(secret, context: context) }
        #expect(aws.calls.count == 1)

        aws.reply(
            "PutSecretValue",
            400,
            #"{"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException:http://internal", "Message": "Secrets Manager can't find the specified secret."}"#
        )
        await expectAWSError(
            ["ResourceNotFoundException", "can't find", "create-secret --name scim/tencent-prod --region eu-west-1"],
            retryClass: .final
        ) { _ = try await sink(aws).deliver(secret, context: context) }

        aws.error(
            "PutSecretValue",
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid."
        )
        await expectAWSError(["AKIAIOSFODNN7EXAMPLE", "environment variables"], retryClass: .final) {
            _ = try await sink(aws).deliver(secret, context: context)
        }
    }

    @Test("5xx is retried as ambiguous; a transport failure too; an echoed secret is scrubbed")
    func serverErrors() async throws {
        let aws = ScriptedAWS()
        for _ in 0..<3 {
            aws.reply(
                "PutSecretValue",
                500,
                #"{"__type": "InternalServiceError", "Message": "failed to store \#(secret.reveal())"}"#
            )
        }
        await expectAWSError(["InternalServiceError", "HTTP 500", "<redacted>"], retryClass: .ambiguous) {
            _ = try await sink(aws).deliver(secret, context: context)
        }
        #expect(aws.calls.count == 3)

        let unreachable = AWSSecretsManagerSink(
            secretId: "scim/x",
            region: "us-east-1",
            endpoint: URL(string: "http://127.0.0.1:9")!,
            credentials: awsCredentials,
            transport: AsyncHTTPClientTransport.shared,
            timeout: 5,
            retry: .none
        )
        await expectAWSError(["scim/x", "us-east-1", "127.0.0.1"], retryClass: .ambiguous) {
            _ = try await unreachable.deliver(secret, context: context)
        }
    }

    @Test("read: nil when the secret does not exist, the error otherwise")
    func read() async throws {
        let aws = ScriptedAWS()
        aws.error(
            "GetSecretValue",
            400,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret."
        )
        #expect(try await sink(aws).read(context: context) == nil)
        aws.error("GetSecretValue", 400, "AccessDeniedException", "not authorized")
        await expectAWSError(["grant secretsmanager:GetSecretValue"], retryClass: .final) {
            _ = try await sink(aws).read(context: context)
        }
        aws.reply("GetSecretValue", 200, #"{"Name": "scim/tencent-prod", "SecretString": "not json"}"#)
        await expectDeliveryError("not a JSON object") { _ = try await sink(aws, key: "token").read(context: context) }
    }
}

@Suite("AWS SSM Parameter Store sink (AWS-shaped replies)")
struct AWSSSMParameterSinkTests {
    func sink(_ aws: ScriptedAWS, kmsKeyId: String? = "alias/scim-rotator") -> AWSSSMParameterSink {
        AWSSSMParameterSink(
            name: "/scim-rotator/tencent-prod/token",
            region: "us-east-1",
            kmsKeyId: kmsKeyId,
            credentials: awsCredentials,
            transport: aws,
            pause: noPause
        )
    }

    @Test("PutParameter as SecureString with Overwrite and the KMS key, then GetParameter of that version decrypted")
    func deliver() async throws {
        let aws = ScriptedAWS()
        aws.reply("PutParameter", 200, #"{"Version": 3, "Tier": "Standard"}"#)
        aws.reply(
            "GetParameter",
            200,
            #"{"Parameter": {"Name": "/scim-rotator/tencent-prod/token", "Type": "SecureString", "Value": "\#(secret.reveal())", "Version": 3}}"#
        )
        let receipt = try await sink(aws).deliver(secret, context: context)
        #expect(receipt.detail == ["version": "3", "region": "us-east-1"])
        let calls = aws.calls
        #expect(calls.map(\.target) == ["AmazonSSM.PutParameter", "AmazonSSM.GetParameter"])
        #expect(calls[0].body["Type"] as? String == "SecureString")
        #expect(calls[0].body["Overwrite"] as? Bool == true)
        #expect(calls[0].body["KeyId"] as? String == "alias/scim-rotator")
        #expect(calls[0].body["Value"] as? String == secret.reveal())
        #expect(calls[1].body["Name"] as? String == "/scim-rotator/tencent-prod/token:3")
        #expect(calls[1].body["WithDecryption"] as? Bool == true)
        #expect(calls[0].request.url.absoluteString == "https://ssm.us-east-1.amazonaws.com/")
        #expect(calls[0].request.header("Authorization")?.contains("/us-east-1/ssm/aws4_request") == true)
        #expect(aws.signatureFailures == 0)
    }

    @Test("without kmsKeyId no KeyId is sent (the account's alias/aws/ssm)")
    func defaultKey() async throws {
        let aws = ScriptedAWS()
        aws.reply("PutParameter", 200, #"{"Version": 1}"#)
        aws.reply("GetParameter", 200, #"{"Parameter": {"Value": "\#(secret.reveal())", "Version": 1}}"#)
        _ = try await sink(aws, kmsKeyId: nil).deliver(secret, context: context)
        #expect(aws.calls[0].body["KeyId"] == nil)
    }

    @Test("TooManyUpdates is retried; InvalidKeyId and AccessDenied are final with a hint")
    func errors() async throws {
        let aws = ScriptedAWS()
        aws.error("PutParameter", 400, "TooManyUpdates", "There are concurrent updates.")
        aws.reply("PutParameter", 200, #"{"Version": 2}"#)
        aws.reply("GetParameter", 200, #"{"Parameter": {"Value": "\#(secret.reveal())", "Version": 2}}"#)
        _ = try await sink(aws).deliver(secret, context: context)

        aws.reply("PutParameter", 400, #"{"__type": "InvalidKeyId", "message": "alias/scim-rotator is not found."}"#)
        await expectAWSError(
            ["InvalidKeyId", "check kmsKeyId", "/scim-rotator/tencent-prod/token", "us-east-1"],
            retryClass: .final
        ) {
            _ = try await sink(aws).deliver(secret, context: context)
        }
        aws.error("PutParameter", 400, "AccessDeniedException", "not authorized to perform: ssm:PutParameter")
        await expectAWSError(["grant ssm:PutParameter", "kms:Encrypt"], retryClass: .final) {
            _ = try await sink(aws).deliver(secret, context: context)
        }
        for _ in 0..<3 { aws.reply("PutParameter", 503, "") }
        await expectAWSError(["PutParameter", "HTTP 503"], retryClass: .ambiguous) {
            _ = try await sink(aws).deliver(secret, context: context)
        }
    }

    @Test("read: the latest value decrypted; nil for ParameterNotFound, even with no message (as real SSM sends it)")
    func read() async throws {
        let aws = ScriptedAWS()
        aws.reply("GetParameter", 200, #"{"Parameter": {"Value": "\#(secret.reveal())", "Version": 7}}"#)
        #expect(try await sink(aws).read(context: context) == secret)
        #expect(aws.calls[0].body["Name"] as? String == "/scim-rotator/tencent-prod/token")
        aws.reply("GetParameter", 400, #"{"__type": "ParameterNotFound"}"#)
        #expect(try await sink(aws).read(context: context) == nil)
    }
}

@Suite("AWS sinks: replies that are not AWS's")
struct AWSForeignReplyTests {
    @Test("a proxy's or wrong endpoint's reply is quoted (scrubbed) with a hint to check the endpoint")
    func foreignReply() async throws {
        let aws = ScriptedAWS()
        aws.reply("PutParameter", 404, "<html><body>404 Not Found: no route for \(secret.reveal())</body></html>")
        let sink = AWSSSMParameterSink(
            name: "/x",
            region: "us-east-1",
            endpoint: URL(string: "https://proxy.example.com")!,
            credentials: awsCredentials,
            transport: aws,
            pause: noPause
        )
        await expectAWSError(
            ["HTTP 404", "404 Not Found", "<redacted>", "is https://proxy.example.com an AWS ssm endpoint?"],
            retryClass: .final
        ) { _ = try await sink.deliver(secret, context: context) }
    }
}
