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

/// A client for Tencent Cloud Organization's Identity Center SCIM key actions (API 2021-03-31, TC3-HMAC-SHA256): the
/// table of actions over ``SignedAPI`` in the Tencent dialect.
///
/// Every attempt is signed afresh (new timestamp). Transient failures are retried with full-jitter backoff; auth and
/// parameter errors never are. Requests are spaced by a per-account, per-action ``RateLimiter``.
public struct TencentCICClient: Sendable {
    public let configuration: TencentCICConfiguration
    let api: SignedAPI<TencentCICDialect>
    public var credentials: CloudCredentials { api.credentials }

    /// A limiter shared by every client in the process, so two policies on one account share its budget.
    public static let sharedRateLimiter = RateLimiter(limit: TencentCICProvider.traits.requestsPerSecond)

    public init(
        configuration: TencentCICConfiguration,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        rateLimiter: RateLimiter = sharedRateLimiter,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.configuration = configuration
        api = SignedAPI(
            dialect: TencentCICDialect(configuration: configuration),
            credentials: credentials,
            transport: transport,
            clock: clock,
            rateLimiter: rateLimiter,
            retry: configuration.retry,
            pause: pause
        )
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

    /// Sends `action` (see ``SignedAPI/call(_:_:idempotent:)``).
    func call<T: Decodable>(
        _ action: String,
        _ params: [String: JSONParam],
        idempotent: Bool = true
    )
        async throws -> (T, requestId: String?)
    {
        try await api.call(action, params, idempotent: idempotent)
    }

    /// The exact request the client sends for `action` at `timestamp`: public so tests can compare it with the SDK's.
    public func signedRequest(action: String, body: Data, timestamp: Int64) -> HTTPRequest {
        api.dialect.signedRequest(action: action, body: body, timestamp: timestamp, credentials: credentials)
    }
}
