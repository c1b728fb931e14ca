import Foundation
import SCIMRotatorCore
import Transport

/// Where and how to reach the CloudIdentity API.
public struct VolcengineConfiguration: Sendable {
    public static let version = "2023-01-01"
    public static let service = "cloudidentity"
    /// The region a policy that names none signs for (the documentation's examples use it).
    public static let defaultRegion = "cn-beijing"
    /// Regions the SDK reaches on their own host, `cloudidentity.<region>.volcengineapi.com` (its bootstrap list);
    /// every other region is served by `open.volcengineapi.com`.
    public static let regionalHosts: Set<String> = [
        "cn-beijing-autodriving", "ap-southeast-2", "ap-southeast-3", "cn-shanghai-autodriving", "cn-beijing-selfdrive",
    ]

    /// The public endpoint the official SDK resolves for `region`.
    public static func endpoint(region: String) -> URL {
        let host =
            regionalHosts.contains(region) && CloudRegion.isValid(region)
            ? "cloudidentity.\(region).volcengineapi.com" : "open.volcengineapi.com"
        return URL(string: "https://\(host)") ?? URL(fileURLWithPath: "/")
    }

    public var endpoint: URL
    /// Only signed (the credential scope); the zone, the account, is never sent.
    public var region: String
    public var timeout: Double
    public var retry: RetryPolicy

    public init(endpoint: URL? = nil, region: String? = nil, timeout: Double = 15, retry: RetryPolicy = RetryPolicy()) {
        let region = region ?? Self.defaultRegion
        self.region = region
        self.endpoint = endpoint ?? Self.endpoint(region: region)
        self.timeout = timeout
        self.retry = retry
    }
}

/// A client for Volcano Engine CloudIdentity's SCIM credential actions (API 2023-01-01, service `cloudidentity`):
/// the table of actions over ``SignedAPI`` in the Volcano dialect. There is no status update: a key is only created,
/// listed and deleted.
public struct VolcengineClient: Sendable {
    public let configuration: VolcengineConfiguration
    let api: SignedAPI<VolcengineDialect>
    public var credentials: CloudCredentials { api.credentials }

    /// A limiter shared by every client in the process, so two policies on one account share its budget.
    public static let sharedRateLimiter = RateLimiter(limit: VolcengineProvider.traits.requestsPerSecond)

    public init(
        configuration: VolcengineConfiguration,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        rateLimiter: RateLimiter = sharedRateLimiter,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.configuration = configuration
        api = SignedAPI(
            dialect: VolcengineDialect(configuration: configuration),
            credentials: credentials,
            transport: transport,
            clock: clock,
            rateLimiter: rateLimiter,
            retry: configuration.retry,
            pause: pause
        )
    }

    // MARK: Actions

    /// Not idempotent: the official SDK resends a Create after a timeout or a 5xx, which may mint several keys; this
    /// client never resends one that may have run.
    public func createSCIMServerCredential() async throws -> (VolcCredential, requestId: String?) {
        try await api.call("CreateSCIMServerCredential", [], idempotent: false)
    }

    public func listSCIMServerCredentials() async throws -> VolcListResult {
        try await api.call("ListSCIMServerCredentials", []).0
    }

    public func deleteSCIMServerCredential(credentialId: String) async throws {
        let _: (VolcEmptyResult, requestId: String?) = try await api.call(
            "DeleteSCIMServerCredential",
            [("CredentialId", credentialId)]
        )
    }

    /// RFC 3339 with an offset (`2025-05-15T23:37:51+08:00`), or `Z`; fractional seconds allowed.
    public func parseTime(_ text: String, field: String, action: String) throws -> Date {
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
        ] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        throw ProviderError(
            .unexpectedReply,
            action: action,
            message: "\(field) \"\(text)\" is not an RFC 3339 time"
        )
    }

    /// The exact request sent for `action`: public so tests can compare it with the SDK's vectors.
    public func signedRequest(action: String, parameters: [(String, String)], xDate: String) -> HTTPRequest {
        api.dialect.signedRequest(action: action, parameters: parameters, xDate: xDate, credentials: credentials)
    }
}
