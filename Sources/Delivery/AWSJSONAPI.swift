import AWSSigV4
import Foundation
import SCIMRotatorCore
import Transport

/// A failed AWS call, as the operator needs it: which sink, operation and resource, which region, the service's error
/// code and message (scrubbed of every secret), what to fix, and whether another attempt may help.
public struct AWSServiceError: Error, Sendable, CustomStringConvertible, RetryClassifiable {
    public var sink: String
    public var operation: String
    public var region: String
    /// The service's error code (`ResourceNotFoundException`, `AccessDeniedException`, `ThrottlingException`...), or
    /// nil for a transport failure or a reply without one.
    public var code: String?
    /// The HTTP status; nil when no reply arrived.
    public var status: Int?
    public var message: String
    public var hint: String?
    public var retryClass: RetryClass

    public var description: String {
        var text = "\(sink): \(operation) in \(region) failed: "
        if let code { text += code }
        if let status { text += " (HTTP \(status))" }
        if !message.isEmpty { text += (code == nil && status == nil ? "" : ": ") + message }
        if let hint { text += "; \(hint)" }
        return text
    }

    /// Codes botocore's standard retry mode treats as throttling: the request was refused, not carried out.
    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
        "PriorRequestNotComplete", "EC2ThrottledException",
        // SSM: another update of the same parameter is in progress; this one was refused.
        "TooManyUpdates",
    ]
    /// Codes (and statuses) botocore treats as transient: the request may or may not have been carried out.
    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalServiceError", "InternalServiceErrorException",
        "InternalFailure", "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException",
    ]

    /// Throttling and stale signatures: not executed. Transient codes and 5xx: ambiguous. Anything else (access
    /// denied, not found, invalid parameters, refused credentials): final.
    static func classify(code: String?, status: Int, message: String) -> RetryClass {
        if let code, throttlingCodes.contains(code) { return .notExecuted }
        if status == 429 { return .notExecuted }
        if code == "RequestExpired" || (code == "InvalidSignatureException" && message.contains("Signature expired")) {
            return .notExecuted
        }
        if let code, transientCodes.contains(code) { return .ambiguous }
        if [500, 502, 503, 504].contains(status) { return .ambiguous }
        return .final
    }

    /// `__type`, else the `X-Amzn-ErrorType` header, else an XML `<Code>` (moto's auth errors), reduced as
    /// botocore reduces it (`com.amazon...#Foo:bar` → `Foo`); and the message (`message`, `Message`, XML `<Message>`).
    static func parse(_ response: HTTPResponse) -> (code: String?, message: String) {
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        let text = String(decoding: response.body.prefix(65_536), as: UTF8.self)
        var code = (object["__type"] as? String) ?? response.header("X-Amzn-ErrorType")
        if code == nil { code = xmlElement("Code", in: text) }
        if var raw = code {
            if let colon = raw.firstIndex(of: ":") { raw = String(raw[..<colon]) }
            if let hash = raw.lastIndex(of: "#") { raw = String(raw[raw.index(after: hash)...]) }
            code = raw.isEmpty ? nil : raw
        }
        let message =
            (object["message"] as? String) ?? (object["Message"] as? String) ?? xmlElement("Message", in: text) ?? ""
        return (code, message)
    }

    static func xmlElement(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name)>"),
            let end = text.range(of: "</\(name)>", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}

/// Where a sink's AWS credentials come from: environment variables, by name (never values in a policy).
public enum AWSCredentials {
    /// The access key under `names`; the session token only when its variable is set (temporary credentials).
    public static func fromEnvironment(
        _ names: CloudCredentials.EnvironmentNames,
        sink: String,
        environment: [String: String]
    ) throws -> CloudCredentials {
        let id = try SinkEnvironment.secret(names.idEnv, sink: sink, environment: environment)
        let secret = try SinkEnvironment.secret(names.secretEnv, sink: sink, environment: environment)
        let token = names.tokenEnv.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : Secret($0) }
        return CloudCredentials(accessKeyId: id.reveal(), secret: secret, token: token)
    }

    /// `https://<service>.<region>.amazonaws.com` (`.amazonaws.com.cn` in the China regions).
    public static func endpoint(service: String, region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://\(service).\(region).\(suffix)/")!
    }
}

/// One awsJson1.1 service (Secrets Manager, SSM): signed `POST /` calls with `X-Amz-Target`, replies decoded, errors
/// turned into ``AWSServiceError``. Retryable failures are retried a few times, each attempt signed anew; every call
/// made through here may run twice (the writes carry their own idempotency).
struct AWSJSONAPI: Sendable {
    let endpoint: URL
    let region: String
    /// The signing name (`secretsmanager`, `ssm`).
    let service: String
    /// `secretsmanager`, `AmazonSSM`.
    let targetPrefix: String
    let credentials: CloudCredentials
    let transport: any HTTPTransport
    let timeout: Double
    let sink: String
    let retry: RetryPolicy
    let pause: @Sendable (Double) async throws -> Void
    let now: @Sendable () -> Date

    /// A call's outcome: the reply object, or the service's error (to be explained by the caller).
    enum Outcome {
        case success([String: Any])
        case failure(AWSServiceError)
    }

    /// Calls `operation` with `parameters` (retrying what may be retried); the caller explains any error left.
    /// `secrets` are scrubbed from every error text.
    func call(_ operation: String, _ parameters: [String: Any], secrets: [Secret]) async throws -> Outcome {
        let scrub = secrets + [credentials.secret] + (credentials.token.map { [$0] } ?? [])
        let body = try JSONSerialization.data(
            withJSONObject: parameters,
            options: [.sortedKeys, .withoutEscapingSlashes]
        )
        do {
            return .success(
                try await retry.run(pause: pause, shouldRetry: RetryClass.worthRetrying(idempotent: true)) {
                    try await attempt(operation, body, scrub)
                }
            )
        } catch let error as AWSServiceError {
            return .failure(error)
        }
    }

    private func attempt(_ operation: String, _ body: Data, _ scrub: [Secret]) async throws -> [String: Any] {
        let request = AWSSigV4.jsonRequest(
            endpoint: endpoint,
            target: "\(targetPrefix).\(operation)",
            body: body,
            region: region,
            service: service,
            credentials: credentials,
            date: now(),
            timeout: timeout
        )
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as TransportError {
            throw AWSServiceError(
                sink: sink,
                operation: operation,
                region: region,
                code: nil,
                status: nil,
                message: "\(endpoint.host ?? "?"): \(error)".redacting(scrub),
                hint: error.kind == .invalidURL
                    ? "check the endpoint" : "check the network path to \(endpoint.host ?? "?")",
                retryClass: error.retryClass
            )
        }
        if response.status == 200 {
            guard let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] else {
                throw AWSServiceError(
                    sink: sink,
                    operation: operation,
                    region: region,
                    code: nil,
                    status: 200,
                    message: "the reply is not a JSON object; is the endpoint an AWS \(service) endpoint?",
                    hint: nil,
                    retryClass: .ambiguous
                )
            }
            return object
        }
        let (code, parsedMessage) = AWSServiceError.parse(response)
        var rawMessage = parsedMessage
        if code == nil, rawMessage.isEmpty {
            // Not an AWS error reply (a proxy, a wrong endpoint): its text says more than the status alone.
            rawMessage = String(decoding: response.body.prefix(65_536), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let message = String(rawMessage.redacting(scrub).prefix(600))
        throw AWSServiceError(
            sink: sink,
            operation: operation,
            region: region,
            code: code,
            status: response.status,
            message: message,
            hint: nil,
            retryClass: AWSServiceError.classify(code: code, status: response.status, message: message)
        )
    }

    /// The hint for errors every AWS service shares (credentials, signatures, permissions); nil for others.
    func commonHint(_ error: AWSServiceError, permission: String, resource: String) -> String? {
        switch error.code {
        case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
            return "grant \(permission) on \(resource) to the identity of access key \(credentials.accessKeyId)"
        case "UnrecognizedClientException", "InvalidClientTokenId":
            return
                "AWS does not know access key \(credentials.accessKeyId) (or its session token): check the credentials' environment variables"
        case "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature":
            return error.retryClass == .notExecuted
                ? "this machine's clock is off by more than 5 minutes"
                : "check the secret access key for \(credentials.accessKeyId)"
        case "ExpiredTokenException", "ExpiredToken", "RequestExpired":
            return "the temporary credentials (session token) expired: refresh them"
        case "ThrottlingException", "Throttling", "TooManyRequestsException", "TooManyUpdates":
            return "AWS throttled the calls; the delivery is retried after the back-off"
        case nil where error.status == nil:
            return error.hint
        case nil where error.retryClass == .final:
            return "not an AWS error reply: is \(endpoint.absoluteString) an AWS \(service) endpoint?"
        default:
            if error.retryClass == .ambiguous {
                return "a server-side failure; the delivery is retried after the back-off"
            }
            return nil
        }
    }
}
