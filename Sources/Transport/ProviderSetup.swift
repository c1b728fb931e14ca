import Foundation
import SCIMRotatorCore

/// Everything one zone's provider is built from: the zone, where the cloud is and how to reach it. Each cloud module
/// builds its provider from one (`TencentCICProvider(setup:)`, `AlibabaCloudSSOProvider(setup:)`); `CloudProviders`
/// makes one from a policy.
public struct ProviderSetup: Sendable {
    public var zone: String
    public var keyLimit: Int
    /// nil: the cloud's public endpoint (for `region`, where the cloud has regional endpoints).
    public var endpoint: URL?
    public var region: String?
    /// The zone the cloud's zone-less times are read in, where it writes such times (Tencent); nil: its default.
    public var apiTimeZone: TimeZone?
    public var credentials: CloudCredentials
    public var transport: any HTTPTransport
    public var clock: any RotatorClock
    public var tuning: ClientTuning

    public init(
        zone: String,
        keyLimit: Int,
        endpoint: URL? = nil,
        region: String? = nil,
        apiTimeZone: TimeZone? = nil,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock = SystemClock(),
        tuning: ClientTuning = ClientTuning()
    ) {
        self.zone = zone
        self.keyLimit = keyLimit
        self.endpoint = endpoint
        self.region = region
        self.apiTimeZone = apiTimeZone
        self.credentials = credentials
        self.transport = transport
        self.clock = clock
        self.tuning = tuning
    }
}

/// How a cloud client waits and retries. The defaults are production's; tests shorten them.
public struct ClientTuning: Sendable {
    /// Seconds per request.
    public var timeout: Double
    public var retry: RetryPolicy
    /// nil: the limiter every client of the cloud in this process shares.
    public var rateLimiter: RateLimiter?
    /// Pauses between retries; nil sleeps.
    public var pause: (@Sendable (Double) async throws -> Void)?

    public init(
        timeout: Double = 15,
        retry: RetryPolicy = RetryPolicy(),
        rateLimiter: RateLimiter? = nil,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.timeout = timeout
        self.retry = retry
        self.rateLimiter = rateLimiter
        self.pause = pause
    }
}
