import Foundation
import SCIMRotatorCore
import Transport

/// Where and how to reach the CloudSSO API.
public struct AlibabaCloudSSOConfiguration: Sendable {
    public static let version = "2021-05-15"
    /// The region used when a policy names none (``ProviderTraits/impliedRegion``). The official SDK refuses to guess;
    /// this keeps the default but says so (``regionImplied``, `policy check`, and the hint on `EntityNotExists.Directory`).
    public static let defaultRegion = AlibabaCloudSSOProvider.traits.impliedRegion ?? "cn-shanghai"

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
        return "region `\(region)` is not a region id like \(AlibabaCloudSSOProvider.traits.exampleRegions) "
            + "(CloudSSO regions: \(AlibabaCloudSSOProvider.traits.serviceRegions.joined(separator: ", ")))"
    }
}

/// A client for Alibaba Cloud CloudSSO's SCIM credential actions (API 2021-05-15, RPC style, ACS3-HMAC-SHA256): the
/// table of actions over ``SignedAPI`` in the Alibaba dialect.
///
/// Parameters go in the query string of `POST /` with an empty body. Every attempt gets a fresh `x-acs-date` and
/// nonce. Throttling, ServiceUnavailable and any 5xx are retried (honouring `x-acs-retry-after`, milliseconds);
/// auth and parameter errors never are.
public struct AlibabaCloudSSOClient: Sendable {
    public let configuration: AlibabaCloudSSOConfiguration
    let api: SignedAPI<AlibabaCloudSSODialect>
    public var credentials: CloudCredentials { api.credentials }

    /// A limiter shared by every client in the process, so two policies on one account share its budget.
    public static let sharedRateLimiter = RateLimiter(limit: AlibabaCloudSSOProvider.traits.requestsPerSecond)

    public init(
        configuration: AlibabaCloudSSOConfiguration,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        rateLimiter: RateLimiter = sharedRateLimiter,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.configuration = configuration
        api = SignedAPI(
            dialect: AlibabaCloudSSODialect(configuration: configuration),
            credentials: credentials,
            transport: transport,
            clock: clock,
            rateLimiter: rateLimiter,
            retry: configuration.retry,
            pause: pause
        )
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

    /// Sends `action` (see ``SignedAPI/call(_:_:idempotent:)``); a configuration that cannot reach the cloud fails
    /// every call without sending anything.
    func call<T: Decodable>(_ action: String, _ parameters: [String: String], idempotent: Bool = true) async throws -> T
    {
        if let problem = configuration.problem {
            throw ProviderError(.invalidRequest, action: action, message: problem)
        }
        do {
            return try await api.call(action, parameters, idempotent: idempotent).0
        } catch var error as ProviderError where error.kind == .zoneNotFound && configuration.regionImplied {
            error.message += Self.impliedRegionHint
            throw error
        }
    }

    /// Said when a directory is unknown in the region nobody chose.
    static var impliedRegionHint: String {
        let others = AlibabaCloudSSOProvider.traits.serviceRegions.filter {
            $0 != AlibabaCloudSSOConfiguration.defaultRegion
        }
        return "; the policy names no `region:`, so \(AlibabaCloudSSOConfiguration.defaultRegion) was assumed: "
            + "a directory lives in one region; set `region:` to the directory's (CloudSSO regions: "
            + "\(others.joined(separator: ", ")))"
    }

    /// The exact request sent for `action`: public so tests can compare it with the SDK's vectors.
    public func signedRequest(action: String, parameters: [String: String], date: Date, nonce: String) -> HTTPRequest {
        api.dialect.signedRequest(
            action: action,
            parameters: parameters,
            date: date,
            nonce: nonce,
            credentials: credentials
        )
    }
}
