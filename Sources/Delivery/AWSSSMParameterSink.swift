import Foundation
import SCIMRotatorCore
import Transport

/// Writes the key to an AWS Systems Manager Parameter Store parameter: `PutParameter` as a `SecureString` with
/// `Overwrite` (created when missing, a new version otherwise; `kmsKeyId` or the account's `alias/aws/ssm`), then
/// `GetParameter` of that version with decryption to confirm. Writing the same key again only adds an identical
/// version, so a retried delivery is harmless.
///
/// IAM: `ssm:PutParameter` and `ssm:GetParameter` on the parameter, plus `kms:Encrypt` and `kms:Decrypt` on a
/// customer-managed `kmsKeyId`.
public struct AWSSSMParameterSink: ReadableSink {
    public let name: String
    public let region: String
    public let kmsKeyId: String?
    public let endpoint: URL
    let api: AWSJSONAPI

    public init(
        name: String,
        region: String,
        kmsKeyId: String? = nil,
        endpoint: URL? = nil,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        timeout: Double = 15,
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3),
        pause: @escaping @Sendable (Double) async throws -> Void = RetryPolicy.sleep,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.name = name
        self.region = region
        self.kmsKeyId = kmsKeyId
        let endpoint = endpoint ?? AWSCredentials.endpoint(service: "ssm", region: region)
        self.endpoint = endpoint
        api = AWSJSONAPI(
            endpoint: endpoint,
            region: region,
            service: "ssm",
            targetPrefix: "AmazonSSM",
            credentials: credentials,
            transport: transport,
            timeout: timeout,
            sink: SinkLabel.awsSSMParameter(name: name, region: region),
            retry: retry,
            pause: pause,
            now: now
        )
    }

    public var summary: String { SinkLabel.awsSSMParameter(name: name, region: region) }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        var parameters: [String: Any] = [
            "Name": name, "Value": secret.reveal(), "Type": "SecureString", "Overwrite": true,
        ]
        if let kmsKeyId { parameters["KeyId"] = kmsKeyId }
        let put = try await api.call("PutParameter", parameters, secrets: [secret])
        guard case .success(let reply) = put else { throw explain(put, "ssm:PutParameter") }
        guard let version = (reply["Version"] as? NSNumber)?.intValue else {
            throw DeliveryError(sink: summary, message: "PutParameter replied without a Version")
        }
        let check = try await api.call(
            "GetParameter",
            ["Name": "\(name):\(version)", "WithDecryption": true],
            secrets: [secret]
        )
        guard case .success(let parameter) = check else { throw explain(check, "ssm:GetParameter") }
        let stored = (parameter["Parameter"] as? [String: Any])?["Value"] as? String
        guard stored == secret.reveal() else {
            throw DeliveryError(
                sink: summary,
                message: "read back version \(version): the stored value does not match what was written"
            )
        }
        return DeliveryReceipt(detail: ["version": String(version), "region": region])
    }

    /// The parameter's latest version, decrypted; nil when there is no such parameter.
    public func read(context: DeliveryContext) async throws -> Secret? {
        let outcome = try await api.call("GetParameter", ["Name": name, "WithDecryption": true], secrets: [])
        switch outcome {
        case .success(let reply):
            let value = (reply["Parameter"] as? [String: Any])?["Value"] as? String
            return value.flatMap { $0.isEmpty ? nil : Secret($0) }
        case .failure(let error) where error.code == "ParameterNotFound":
            return nil
        case .failure:
            throw explain(outcome, "ssm:GetParameter")
        }
    }

    func explain(_ outcome: AWSJSONAPI.Outcome, _ permission: String) -> any Error {
        guard case .failure(var error) = outcome else {
            return DeliveryError(sink: summary, message: "\(permission): no error to explain")
        }
        if error.message.isEmpty, error.code == "ParameterNotFound" {
            error.message = "parameter \(name) not found"
        }
        switch error.code {
        case "ParameterNotFound", "ParameterVersionNotFound":
            error.hint =
                "the parameter \(name) is gone from \(region) right after it was written: is someone deleting it?"
        case "InvalidKeyId":
            error.hint = "kmsKeyId \(kmsKeyId ?? "alias/aws/ssm") is not a usable KMS key in \(region): check kmsKeyId"
        case "ParameterMaxVersionLimitExceeded":
            error.hint = "the parameter has 100 versions: delete the oldest, or label fewer of them"
        case "HierarchyLevelLimitExceededException", "HierarchyTypeMismatchException", "ValidationException",
            "UnsupportedParameterType":
            error.hint = "check the parameter name \(name) (a hierarchy name starts with /, at most 15 levels)"
        case "AccessDeniedException" where kmsKeyId != nil || error.message.contains("KMS"):
            error.hint =
                "grant \(permission) on parameter \(name), and kms:Encrypt/kms:Decrypt on \(kmsKeyId ?? "the key"), "
                + "to the identity of access key \(api.credentials.accessKeyId)"
        default:
            error.hint = api.commonHint(error, permission: permission, resource: "parameter \(name)")
        }
        return error
    }
}
