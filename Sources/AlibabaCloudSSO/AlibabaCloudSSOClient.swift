import Crypto
import Foundation
import SCIMRotatorCore
import Transport

/// Where and how to reach the CloudSSO API.
public struct AlibabaCloudSSOConfiguration: Sendable {
    public static let version = "2021-05-15"
    /// The region used when a policy names none. The official SDK refuses to guess; this keeps the default but says
    /// so (``regionImplied``, `policy check`, and the hint on `EntityNotExists.Directory`).
    public static let defaultRegion = "cn-shanghai"

    /// `https://cloudsso.<region>.aliyuncs.com` (reference §1, Endpoints); nil when `region` is not a region id.
    public static func endpoint(region: String) -> URL? {
        guard CloudRegion.isValid(region) else { return nil }
        return URL(string: "https://cloudsso.\(region).aliyuncs.com")
    }

    public var endpoint: URL
    public var region: String
    /// No region and no endpoint were given: the client talks to ``defaultRegion``.
    public var regionImplied: Bool
    /// Why this configuration cannot reach the cloud (a region that is not a region id): every call fails with it
    /// instead of sending a request anywhere.
    public var problem: String?
    public var timeout: Double
    public var retry: RetryPolicy

    public init(
        endpoint: URL? = nil,
        region: String? = nil,
        timeout: Double = 15,
        retry: RetryPolicy = RetryPolicy()
    ) {
        self.regionImplied = endpoint == nil && region == nil
        let region = region ?? Self.defaultRegion
        self.region = region
        self.timeout = timeout
        self.retry = retry
        if let endpoint {
            self.endpoint = endpoint
        } else if let regional = Self.endpoint(region: region) {
            self.endpoint = regional
        } else {
            self.endpoint = URL(fileURLWithPath: "/")
            self.problem = Self.regionProblem(region)
        }
    }

    /// Checks a policy's `region:`; the message says what is wrong and gives examples.
    public static func validate(region: String) throws {
        if let problem = regionProblem(region) {
            throw ProviderError(.invalidRequest, action: "configuration", message: problem)
        }
    }

    static func regionProblem(_ region: String) -> String? {
        guard !CloudRegion.isValid(region) else { return nil }
        return "region `\(region)` is not a region id like \(CloudRegion.example(for: .alibaba)) "
            + "(CloudSSO regions: \(CloudRegion.alibabaCloudSSO.joined(separator: ", ")))"
    }
}

/// A client for Alibaba Cloud CloudSSO's SCIM credential actions (API 2021-05-15, RPC style, ACS3-HMAC-SHA256).
///
/// Parameters go in the query string of `POST /` with an empty body. Every attempt gets a fresh `x-acs-date` and
/// nonce. Throttling, ServiceUnavailable and any 5xx are retried (honouring `x-acs-retry-after`, milliseconds);
/// auth and parameter errors never are.
public struct AlibabaCloudSSOClient: Sendable {
    public let configuration: AlibabaCloudSSOConfiguration
    public let credentials: CloudCredentials
    let transport: any HTTPTransport
    let clock: any RotatorClock
    let rateLimiter: RateLimiter
    let pause: @Sendable (Double) async throws -> Void

    public init(
        configuration: AlibabaCloudSSOConfiguration,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        rateLimiter: RateLimiter = .sharedAlibaba,
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

    public func createSCIMServerCredential(directoryId: String) async throws -> SSOCreateReply {
        try await call("CreateSCIMServerCredential", ["DirectoryId": directoryId], idempotent: false)
    }

    public func listSCIMServerCredentials(directoryId: String) async throws -> SSOListReply {
        try await call("ListSCIMServerCredentials", ["DirectoryId": directoryId])
    }

    @discardableResult
    public func updateSCIMServerCredentialStatus(
        directoryId: String,
        credentialId: String,
        newStatus: KeyStatus
    )
        async throws -> SSOEmptyReply
    {
        try await call(
            "UpdateSCIMServerCredentialStatus",
            ["DirectoryId": directoryId, "CredentialId": credentialId, "NewStatus": newStatus.rawValue]
        )
    }

    @discardableResult
    public func deleteSCIMServerCredential(directoryId: String, credentialId: String) async throws -> SSOEmptyReply {
        try await call("DeleteSCIMServerCredential", ["DirectoryId": directoryId, "CredentialId": credentialId])
    }

    public func getSCIMSynchronizationStatus(directoryId: String) async throws -> SSOSyncReply {
        try await call("GetSCIMSynchronizationStatus", ["DirectoryId": directoryId])
    }

    @discardableResult
    public func setSCIMSynchronizationStatus(directoryId: String, status: SyncStatus) async throws -> SSOEmptyReply {
        try await call(
            "SetSCIMSynchronizationStatus",
            ["DirectoryId": directoryId, "SCIMSynchronizationStatus": status.rawValue]
        )
    }

    public func listDirectories() async throws -> SSODirectoriesReply {
        try await call("ListDirectories", [:])
    }

    public func getDirectory(directoryId: String) async throws -> SSODirectoryReply {
        try await call("GetDirectory", ["DirectoryId": directoryId])
    }

    public func parseTime(_ text: String, field: String, action: String) throws -> Date {
        guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "\(field) \"\(text)\" is not an ISO 8601 UTC time"
            )
        }
        return date
    }

    // MARK: Transport

    /// Sends `action`, retrying what is safe to retry. With `idempotent: false` only failures that prove the
    /// request was not carried out (throttling, a stale timestamp) are retried; an ambiguous failure is thrown.
    func call<T: Decodable>(_ action: String, _ parameters: [String: String], idempotent: Bool = true) async throws -> T
    {
        if let problem = configuration.problem {
            throw ProviderError(.invalidRequest, action: action, message: problem)
        }
        do {
            return try await send(action, parameters, idempotent: idempotent)
        } catch var error as ProviderError where error.kind == .zoneNotFound && configuration.regionImplied {
            error.message += Self.impliedRegionHint
            throw error
        }
    }

    /// Said when a directory is unknown in the region nobody chose.
    static var impliedRegionHint: String {
        let others = CloudRegion.alibabaCloudSSO.filter { $0 != AlibabaCloudSSOConfiguration.defaultRegion }
        return "; the policy names no `region:`, so \(AlibabaCloudSSOConfiguration.defaultRegion) was assumed: "
            + "a directory lives in one region; set `region:` to the directory's (CloudSSO regions: "
            + "\(others.joined(separator: ", ")))"
    }

    private func send<T: Decodable>(
        _ action: String,
        _ parameters: [String: String],
        idempotent: Bool
    ) async throws
        -> T
    {
        try await configuration.retry.run(
            pause: pause,
            shouldRetry: idempotent ? Self.retryable : Self.provablyNotExecuted
        ) {
            let start = ContinuousClock.now
            do {
                let response = try await rateLimiter.limited("\(credentials.accessKeyId)/\(action)") {
                    // Signed once the slot is free, so that waiting for it never makes a signature stale.
                    try await transport.send(
                        signedRequest(action: action, parameters: parameters, date: clock.now(), nonce: Self.nonce())
                    )
                }
                let decoded: T = try decode(action: action, response: response)
                CloudRequestMetrics.record(provider: "alibaba", action: action, code: "OK", since: start)
                return decoded
            } catch let error as TransportError {
                CloudRequestMetrics.record(provider: "alibaba", action: action, code: error.kind.rawValue, since: start)
                throw ProviderError(
                    error.kind == .timeout ? .timeout : .network,
                    action: action,
                    message: error.message
                )
            } catch let error as ProviderError {
                CloudRequestMetrics.record(
                    provider: "alibaba",
                    action: action,
                    code: error.code ?? error.kind.rawValue,
                    since: start
                )
                throw error
            }
        }
    }

    static func retryable(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .throttled, .serverError, .network, .timeout, .unexpectedReply, .signatureExpired: return true
        default: return false
        }
    }

    static func provablyNotExecuted(_ error: ProviderError) -> Bool {
        error.kind == .throttled || error.kind == .signatureExpired
    }

    /// 32 random hex digits, unique per request (replay protection).
    static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }

    /// The exact request sent for `action`: public so tests can compare it with the SDK's vectors.
    public func signedRequest(action: String, parameters: [String: String], date: Date, nonce: String) -> HTTPRequest {
        let endpoint = HTTPRequest.withoutDefaultPort(configuration.endpoint)
        var headers: [(name: String, value: String)] = [
            ("host", HTTPRequest.hostHeader(for: endpoint)),
            ("x-acs-action", action),
            ("x-acs-version", AlibabaCloudSSOConfiguration.version),
            ("x-acs-date", date.formatted(Date.ISO8601FormatStyle())),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", ACSSigner.emptyPayloadHash),
        ]
        if let token = credentials.token {
            headers.append(("x-acs-accesskey-id", credentials.accessKeyId))
            headers.append(("x-acs-security-token", token.reveal()))
        }
        let signature = ACSSigner.signV3(
            accessKeyId: credentials.accessKeyId,
            secret: credentials.secret,
            query: parameters,
            headers: headers
        )
        headers.append(("Authorization", signature.authorization))
        headers.append(("accept", "application/json"))
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/"
        components?.percentEncodedQuery = parameters.isEmpty ? nil : ACSSigner.canonicalQuery(parameters)
        return HTTPRequest(
            method: "POST",
            url: components?.url ?? endpoint,
            headers: headers,
            body: Data(),
            timeout: configuration.timeout
        )
    }

    func decode<T: Decodable>(action: String, response: HTTPResponse) throws -> T {
        let raw = { Self.redactedBody(response.body, secrets: [credentials.secret]) }
        let decoder = JSONDecoder()
        guard (200..<300).contains(response.status) else {
            let reply = try? decoder.decode(SSOErrorReply.self, from: response.body)
            guard let code = reply?.Code else {
                throw ProviderError(
                    response.status >= 500 ? .serverError : .unexpectedReply,
                    action: action,
                    code: "HTTP\(response.status)",
                    message: "HTTP \(response.status) without an error code",
                    httpStatus: response.status,
                    body: raw()
                )
            }
            var error = Self.mapError(
                code: code,
                message: reply?.Message ?? "",
                action: action,
                requestId: reply?.RequestId,
                status: response.status
            )
            if let text = response.header("x-acs-retry-after"), let milliseconds = Double(text), milliseconds > 0 {
                error.retryAfter = milliseconds / 1_000
            }
            throw error
        }
        do {
            return try decoder.decode(T.self, from: response.body)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is not the expected JSON",
                httpStatus: response.status,
                body: raw()
            )
        }
    }

    static func redactedBody(_ body: Data, secrets: [Secret]) -> String {
        // Cut after redacting, so that a secret on the cut cannot survive in part.
        let text = String(decoding: body.prefix(65_536), as: UTF8.self)
            .replacingOccurrences(
                of: #""CredentialSecret"\s*:\s*"[^"]*""#,
                with: #""CredentialSecret":"<redacted>""#,
                options: .regularExpression
            )
            .redacting(secrets)
        return String(text.prefix(4_096))
    }

    /// Maps a CloudSSO / POP gateway error code to the kind the rotation reasons about (reference §2, §3).
    public static func mapError(
        code: String,
        message: String,
        action: String,
        requestId: String?,
        status: Int
    )
        -> ProviderError
    {
        let kind: ProviderError.Kind
        switch code {
        case "EntityNotExists.SCIMCredential": kind = .keyNotFound
        case "EntityNotExists.Directory": kind = .zoneNotFound
        case "InvalidTimeStamp.Expired": kind = .signatureExpired
        case _ where code.hasPrefix("Throttling") || code == "Rejected.Throttling": kind = .throttled
        case _ where action == "CreateSCIMServerCredential" && isLimitCode(code): kind = .limitExceeded
        case "SignatureDoesNotMatch", "IncompleteSignature", "SignatureNonceUsed", "NoPermission", "InvalidAccessKeyId":
            kind = .authFailure
        case _
        where code.hasPrefix("InvalidAccessKeyId") || code.hasPrefix("Forbidden")
            || code.hasPrefix("InvalidSecurityToken"):
            kind = .authFailure
        case "InternalError", "ServiceUnavailable": kind = .serverError
        case _ where status >= 500: kind = .serverError
        default: kind = .invalidRequest
        }
        return ProviderError(
            kind,
            action: action,
            code: code,
            message: message,
            requestId: requestId,
            httpStatus: status
        )
    }

    /// The limit's code is undocumented (reference §2): any code naming an exceeded limit or quota.
    public static func isLimitCode(_ code: String) -> Bool {
        code.contains("LimitExceeded") || code.contains("QuotaExceeded") || code.contains("Exceed")
    }
}
