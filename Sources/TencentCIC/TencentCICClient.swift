import Foundation
import SCIMRotatorCore
import Transport

/// Where and how to reach the CIC API.
public struct TencentCICConfiguration: Sendable {
    /// China site (the SDK's default).
    public static let chinaEndpoint = URL(string: "https://organization.tencentcloudapi.com")!
    /// International site.
    public static let internationalEndpoint = URL(string: "https://organization.intl.tencentcloudapi.com")!
    public static let version = "2021-03-31"
    public static let service = "organization"

    public var endpoint: URL
    /// Sent as X-TC-Region only when set (the organization API ignores it).
    public var region: String?
    /// Sent as X-TC-Language when set (`zh-CN`, `en-US`).
    public var language: String?
    public var timeout: Double
    public var retry: RetryPolicy
    /// The zone CIC's zone-less `YYYY-MM-DD HH:MM:SS` times are read in.
    public var apiTimeZone: TimeZone

    public init(
        endpoint: URL = chinaEndpoint,
        region: String? = nil,
        language: String? = "en-US",
        timeout: Double = 15,
        retry: RetryPolicy = RetryPolicy(),
        apiTimeZone: TimeZone = TencentTime.defaultZone
    ) {
        self.endpoint = endpoint
        self.region = region
        self.language = language
        self.timeout = timeout
        self.retry = retry
        self.apiTimeZone = apiTimeZone
    }
}

/// A client for Tencent Cloud Organization's Identity Center SCIM key actions (API 2021-03-31, TC3-HMAC-SHA256).
///
/// Every attempt is signed afresh (new timestamp). Transient failures are retried with full-jitter backoff; auth and
/// parameter errors never are. Requests are spaced by a per-account, per-action ``RateLimiter``.
public struct TencentCICClient: Sendable {
    public let configuration: TencentCICConfiguration
    public let credentials: CloudCredentials
    let transport: any HTTPTransport
    let clock: any RotatorClock
    let rateLimiter: RateLimiter
    /// Pauses between retries; tests pass a no-op.
    let pause: @Sendable (Double) async throws -> Void

    public init(
        configuration: TencentCICConfiguration,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        rateLimiter: RateLimiter = .sharedTencent,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.transport = transport
        self.clock = clock
        self.rateLimiter = rateLimiter
        self.pause = pause ?? RetryPolicy.sleep
    }

    // MARK: Actions

    public func createSCIMCredential(
        zoneId: String,
        expireDuration: Int64?
    ) async throws -> (
        CICCreatedCredential, requestId: String?
    ) {
        var params: [String: JSONParam] = ["ZoneId": .string(zoneId)]
        if let expireDuration { params["ExpireDuration"] = .int(expireDuration) }
        return try await call("CreateSCIMCredential", params, idempotent: false)
    }

    public func listSCIMCredentials(zoneId: String, credentialId: String? = nil) async throws -> CICCredentialList {
        var params: [String: JSONParam] = ["ZoneId": .string(zoneId)]
        if let credentialId { params["CredentialId"] = .string(credentialId) }
        return try await call("ListSCIMCredentials", params).0
    }

    @discardableResult
    public func updateSCIMCredentialStatus(
        zoneId: String,
        credentialId: String,
        newStatus: KeyStatus
    ) async throws
        -> String?
    {
        try await call(
            "UpdateSCIMCredentialStatus",
            [
                "ZoneId": .string(zoneId), "CredentialId": .string(credentialId),
                "NewStatus": .string(newStatus.rawValue),
            ],
            as: CICEmpty.self
        ).requestId
    }

    @discardableResult
    public func deleteSCIMCredential(zoneId: String, credentialId: String) async throws -> String? {
        try await call(
            "DeleteSCIMCredential",
            ["ZoneId": .string(zoneId), "CredentialId": .string(credentialId)],
            as: CICEmpty.self
        ).requestId
    }

    public func getSCIMSynchronizationStatus(zoneId: String) async throws -> CICSyncStatus {
        try await call("GetSCIMSynchronizationStatus", ["ZoneId": .string(zoneId)]).0
    }

    @discardableResult
    public func updateSCIMSynchronizationStatus(zoneId: String, status: SyncStatus) async throws -> String? {
        try await call(
            "UpdateSCIMSynchronizationStatus",
            ["ZoneId": .string(zoneId), "SCIMSynchronizationStatus": .string(status.rawValue)],
            as: CICEmpty.self
        ).requestId
    }

    public func describeIdentityCenter() async throws -> CICIdentityCenter {
        try await call("DescribeIdentityCenter", [:]).0
    }

    public func parseTime(_ text: String, field: String, action: String) throws -> Date {
        guard let date = TencentTime.parse(text, in: configuration.apiTimeZone) else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "\(field) \"\(text)\" is not YYYY-MM-DD HH:MM:SS"
            )
        }
        return date
    }

    // MARK: Transport

    private func call<T: Decodable>(
        _ action: String,
        _ params: [String: JSONParam],
        as: T.Type
    ) async throws -> (
        T, requestId: String?
    ) {
        try await call(action, params)
    }

    /// Sends `action`, retrying what is safe to retry. With `idempotent: false` only failures that prove the
    /// request was not carried out (throttling, signature expiry) are retried; an ambiguous failure is thrown.
    func call<T: Decodable>(
        _ action: String,
        _ params: [String: JSONParam],
        idempotent: Bool = true
    )
        async throws -> (T, requestId: String?)
    {
        let body = JSONParam.encodeObject(params)
        return try await configuration.retry.run(
            pause: pause,
            shouldRetry: idempotent ? Self.retryable : Self.provablyNotExecuted
        ) {
            try await attempt(action, body: body)
        }
    }

    static func retryable(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .throttled, .serverError, .network, .timeout, .unexpectedReply, .signatureExpired: return true
        default: return false
        }
    }

    /// Failures after which the cloud certainly did not run the action.
    static func provablyNotExecuted(_ error: ProviderError) -> Bool {
        error.kind == .throttled || error.kind == .signatureExpired
    }

    private func attempt<T: Decodable>(_ action: String, body: Data) async throws -> (T, requestId: String?) {
        let start = ContinuousClock.now
        do {
            let response = try await rateLimiter.limited("\(credentials.accessKeyId)/\(action)") {
                // Signed once the slot is free, so that waiting for it never makes a signature stale.
                try await transport.send(
                    signedRequest(action: action, body: body, timestamp: Int64(clock.now().timeIntervalSince1970))
                )
            }
            let decoded: (T, requestId: String?) = try decode(action: action, response: response)
            CloudRequestMetrics.record(provider: "tencent", action: action, code: "OK", since: start)
            return decoded
        } catch let error as TransportError {
            CloudRequestMetrics.record(provider: "tencent", action: action, code: error.kind.rawValue, since: start)
            throw ProviderError(error.kind == .timeout ? .timeout : .network, action: action, message: error.message)
        } catch let error as ProviderError {
            CloudRequestMetrics.record(
                provider: "tencent",
                action: action,
                code: error.code ?? error.kind.rawValue,
                since: start
            )
            throw error
        }
    }

    /// The exact request the client sends for `action` at `timestamp`: public so tests can compare it with the SDK's.
    public func signedRequest(action: String, body: Data, timestamp: Int64) -> HTTPRequest {
        let endpoint = HTTPRequest.withoutDefaultPort(configuration.endpoint)
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/"
        let url = components?.url ?? endpoint
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("Host", HTTPRequest.hostHeader(for: url)),
            ("X-TC-Action", action),
            ("X-TC-Timestamp", String(timestamp)),
            ("X-TC-Version", TencentCICConfiguration.version),
        ]
        if let region = configuration.region, CloudRegion.isValid(region) { headers.append(("X-TC-Region", region)) }
        if let language = configuration.language { headers.append(("X-TC-Language", language)) }
        if let token = credentials.token { headers.append(("X-TC-Token", token.reveal())) }
        let signature = TC3Signer.sign(
            secretId: credentials.accessKeyId,
            secretKey: credentials.secret,
            service: TencentCICConfiguration.service,
            timestamp: timestamp,
            headers: headers,
            body: body
        )
        headers.append(("Authorization", signature.authorization))
        return HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: configuration.timeout)
    }

    func decode<T: Decodable>(action: String, response: HTTPResponse) throws -> (T, requestId: String?) {
        let raw = { Self.redactedBody(response.body, secrets: [credentials.secret]) }
        guard response.status == 200 else {
            throw ProviderError(
                .serverError,
                action: action,
                code: "HTTP\(response.status)",
                message: "the API answered HTTP \(response.status) instead of 200",
                httpStatus: response.status,
                body: raw()
            )
        }
        let contentType = response.header("content-type") ?? ""
        guard contentType.hasPrefix("application/json") || contentType.hasPrefix("text/plain") else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply Content-Type is \"\(contentType)\", not application/json",
                httpStatus: 200,
                body: raw()
            )
        }
        let decoder = JSONDecoder()
        let probe: CICErrorProbe
        do {
            probe = try decoder.decode(CICErrorProbe.self, from: response.body)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is not a {\"Response\":{...}} JSON object",
                httpStatus: 200,
                body: raw()
            )
        }
        if let error = probe.Response.Error {
            throw Self.mapError(
                code: error.Code,
                message: error.Message ?? "",
                action: action,
                requestId: probe.Response.RequestId
            )
        }
        guard let requestId = probe.Response.RequestId else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply has no Response.RequestId",
                httpStatus: 200,
                body: raw()
            )
        }
        do {
            return (try decoder.decode(CICEnvelope<T>.self, from: response.body).Response, requestId)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is missing fields: \(Self.describe(error))",
                requestId: requestId,
                httpStatus: 200,
                body: raw()
            )
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        default: return "\(error)"
        }
    }

    /// The reply body for an error message: bounded, with CredentialSecret values and known secrets removed.
    static func redactedBody(_ body: Data, secrets: [Secret]) -> String {
        var text = String(decoding: body.prefix(65_536), as: UTF8.self)
        text = text.replacingOccurrences(
            of: #""CredentialSecret"\s*:\s*"[^"]*""#,
            with: #""CredentialSecret":"<redacted>""#,
            options: .regularExpression
        )
        // Cut after redacting, so that a secret on the cut cannot survive in part.
        return String(text.redacting(secrets).prefix(4_096))
    }

    /// Maps a CIC error code to the kind the rotation reasons about (reference §3 and §1).
    public static func mapError(code: String, message: String, action: String, requestId: String?) -> ProviderError {
        let kind: ProviderError.Kind
        switch code {
        case "LimitExceeded.ScimCredentialLimitExceeded": kind = .limitExceeded
        case "InvalidParameter.ScimCredentialNotFound": kind = .keyNotFound
        case "FailedOperation.ZoneIdNotExist": kind = .zoneNotFound
        case "FailedOperation.IdentityCenterNotOpen": kind = .identityCenterNotOpen
        case "AuthFailure.SignatureExpire": kind = .signatureExpired
        case _ where code.hasPrefix("RequestLimitExceeded"): kind = .throttled
        case _ where code.hasPrefix("AuthFailure") || code.hasPrefix("UnauthorizedOperation"): kind = .authFailure
        case "InternalError", "ServiceUnavailable", "FailedOperation.DBOperationError",
            "FailedOperation.ScimCredentialGenerateError":
            kind = .serverError
        case _
        where code.hasPrefix("InternalError") || code.hasPrefix("ResourceUnavailable")
            || code.hasPrefix("ResourceInUse") || code.hasPrefix("ResourceBusy"):
            kind = .serverError
        default: kind = .invalidRequest
        }
        return ProviderError(kind, action: action, code: code, message: message, requestId: requestId)
    }
}

/// A JSON request parameter. Bodies are encoded with sorted keys, so the same call is the same bytes.
public enum JSONParam: Sendable, Equatable {
    case string(String)
    case int(Int64)

    static func encodeObject(_ params: [String: JSONParam]) -> Data {
        let object = params.mapValues { value -> Any in
            switch value {
            case .string(let s): return s
            case .int(let i): return i
            }
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
