import AWSSigV4
import Foundation
import SCIMRotatorCore
import Transport

/// Writes the key as a new version of an AWS Secrets Manager secret (`PutSecretValue`, which moves `AWSCURRENT` to it),
/// then reads that version back (`GetSecretValue` with its `VersionId`) to confirm.
///
/// The version's `ClientRequestToken` is derived from the policy and the key id: a retried or resumed delivery of the
/// same key sends the same token and value, which AWS treats as the same request (no second version). The value is
/// the key itself, or with `key:` a JSON object `{<key>: secret, "credentialId": ..., "expiresAt": ...}` (never the
/// previous key). The secret must exist (`aws secretsmanager create-secret`): this sink never creates one, so a
/// typo in `secretId` fails instead of writing the key somewhere no consumer reads.
///
/// IAM: `secretsmanager:PutSecretValue` and `secretsmanager:GetSecretValue` on the secret (and `kms:GenerateDataKey`,
/// `kms:Decrypt` on its key when it is a customer-managed KMS key).
public struct AWSSecretsManagerSink: ReadableSink {
    public let secretId: String
    public let region: String
    /// The JSON field holding the key; nil: the secret's value is the key alone.
    public let key: String?
    public let endpoint: URL
    let api: AWSJSONAPI

    public init(
        secretId: String,
        region: String,
        key: String? = nil,
        endpoint: URL? = nil,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        timeout: Double = 15,
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3),
        pause: @escaping @Sendable (Double) async throws -> Void = RetryPolicy.sleep,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.secretId = secretId
        self.region = region
        self.key = key
        let endpoint = endpoint ?? AWSCredentials.endpoint(service: "secretsmanager", region: region)
        self.endpoint = endpoint
        api = AWSJSONAPI(
            endpoint: endpoint,
            region: region,
            service: "secretsmanager",
            targetPrefix: "secretsmanager",
            credentials: credentials,
            transport: transport,
            timeout: timeout,
            sink: SinkLabel.awsSecretsManager(secretId: secretId, region: region),
            retry: retry,
            pause: pause,
            now: now
        )
    }

    public var summary: String { SinkLabel.awsSecretsManager(secretId: secretId, region: region) }

    /// A UUID-shaped (36 characters, within Secrets Manager's 32-64) token that is the same for the same policy and
    /// key id, and different for any other: SHA-256 of both, as an RFC 9562 version 8 UUID.
    public static func clientRequestToken(policy: String, keyId: String) -> String {
        var bytes = Array(AWSSigV4.sha256(Data("scim-rotator\u{0}\(policy)\u{0}\(keyId)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Data(bytes).hexString
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(
                hex[
                    hex.index(
                        hex.startIndex,
                        offsetBy: range.lowerBound
                    )..<hex.index(hex.startIndex, offsetBy: range.upperBound)
                ]
            )
        }
        return parts.joined(separator: "-")
    }

    /// The value stored for `secret`: the secret itself, or the JSON object with `key` and the key's metadata.
    func value(_ secret: Secret, context: DeliveryContext) throws -> String {
        guard let key else { return secret.reveal() }
        let object: [String: String] = [
            key: secret.reveal(),
            "credentialId": context.keyId,
            "expiresAt": context.expiresAt.formatted(Date.ISO8601FormatStyle()),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The key in a stored value: the value itself, or its `key` field (nil when absent; an error when the value is
    /// not a JSON object, as no consumer could read the key from it either).
    func secret(in stored: String) throws -> Secret? {
        guard let key else { return stored.isEmpty ? nil : Secret(stored) }
        guard let data = stored.data(using: .utf8),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else {
            throw DeliveryError(
                sink: summary,
                message:
                    "the secret's value is not a JSON object, but `key: \(key)` says the key is its \(key) field; remove `key:` to store the key alone"
            )
        }
        return (object[key] as? String).map(Secret.init)
    }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        let token = Self.clientRequestToken(policy: context.policy, keyId: context.keyId)
        let stored = try value(secret, context: context)
        let put = try await api.call(
            "PutSecretValue",
            ["SecretId": secretId, "ClientRequestToken": token, "SecretString": stored],
            secrets: [secret, Secret(stored)]
        )
        guard case .success(let reply) = put else {
            throw explain(put, "PutSecretValue", permission: "secretsmanager:PutSecretValue", token: token)
        }
        let versionId = reply["VersionId"] as? String ?? token
        let check = try await api.call(
            "GetSecretValue",
            ["SecretId": secretId, "VersionId": versionId],
            secrets: [secret, Secret(stored)]
        )
        guard case .success(let version) = check else {
            throw explain(check, "GetSecretValue", permission: "secretsmanager:GetSecretValue", token: token)
        }
        guard let readBack = version["SecretString"] as? String, readBack == stored else {
            throw DeliveryError(
                sink: summary,
                message:
                    "read back version \(versionId): the stored value does not match what was written (a SecretBinary, or another writer)"
            )
        }
        let stages = version["VersionStages"] as? [String] ?? []
        guard stages.contains("AWSCURRENT") else {
            throw DeliveryError(
                sink: summary,
                message:
                    "version \(versionId) holds the new key but is not AWSCURRENT (stages: \(stages.joined(separator: ", "))): "
                    + "a newer version was written by someone else, and consumers read that one; move AWSCURRENT to "
                    + "\(versionId) (aws secretsmanager update-secret-version-stage) or stop the other writer"
            )
        }
        var detail = ["versionId": versionId, "region": region]
        if let arn = reply["ARN"] as? String { detail["arn"] = arn }
        return DeliveryReceipt(detail: detail)
    }

    /// `AWSCURRENT`, the version consumers read; nil when the secret, or any value in it, does not exist.
    public func read(context: DeliveryContext) async throws -> Secret? {
        let outcome = try await api.call("GetSecretValue", ["SecretId": secretId], secrets: [])
        switch outcome {
        case .success(let reply):
            guard let stored = reply["SecretString"] as? String else { return nil }
            return try secret(in: stored)
        case .failure(let error) where error.code == "ResourceNotFoundException":
            return nil
        case .failure:
            throw explain(outcome, "GetSecretValue", permission: "secretsmanager:GetSecretValue", token: nil)
        }
    }

    /// The error of a failed call with what to fix.
    func explain(_ outcome: AWSJSONAPI.Outcome, _ operation: String, permission: String, token: String?) -> any Error {
        guard case .failure(var error) = outcome else {
            return DeliveryError(sink: summary, message: "\(operation): no error to explain")
        }
        switch error.code {
        case "ResourceNotFoundException":
            error.hint =
                "no secret \(secretId) in \(region) (or no such version): create it first "
                + "(aws secretsmanager create-secret --name \(secretId) --region \(region)), or fix secretId/region"
        case "ResourceExistsException" where token != nil:
            error.hint =
                "version \(token ?? "") of \(secretId) already holds a different value for this key: was the sink's "
                + "`key:` changed during the rotation? Revert it, or start a new rotation"
        case "InvalidRequestException":
            error.hint = "the secret \(secretId) may be scheduled for deletion (aws secretsmanager restore-secret)"
        case "EncryptionFailure", "DecryptionFailure", "KMSAccessDeniedException", "KMSInvalidStateException":
            error.hint =
                "the secret's KMS key refused: grant kms:GenerateDataKey and kms:Decrypt to this identity, and check the key is enabled"
        case "InvalidParameterException":
            error.hint = "check secretId (a name or ARN)"
        default:
            error.hint = api.commonHint(error, permission: permission, resource: "secret \(secretId)")
        }
        return error
    }
}
