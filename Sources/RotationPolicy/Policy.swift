import Foundation
import SCIMRotatorCore

/// One zone's rotation policy, as written in `policies/NAME.yaml` (see the README for every key).
public struct Policy: Sendable {
    /// `name:` or the file name without extension.
    public var name: String
    /// The file it was read from (for messages).
    public var file: String
    public var provider: ProviderKind
    /// Tencent ZoneId (`z-...`) or Alibaba DirectoryId (`d-...`).
    public var zone: String
    /// The cloud API endpoint; nil means the provider's public endpoint.
    public var endpoint: URL?
    public var region: String?
    /// Names of the environment variables that hold this zone's access key.
    public var credentials: CloudCredentials.EnvironmentNames
    /// Tencent only: the zone CIC's zone-less times are read in (`apiTimeZone: "+08:00"` or an IANA name).
    public var apiTimeZone: TimeZone?
    /// Keys a zone may hold, disabled ones included (both clouds: 2).
    public var keyLimit: Int
    public var rotation: RotationSettings
    public var deliver: [DeliverySpec]
    public var verify: VerifySpec

    public init(
        name: String,
        file: String = "<memory>",
        provider: ProviderKind,
        zone: String,
        endpoint: URL? = nil,
        region: String? = nil,
        credentials: CloudCredentials.EnvironmentNames? = nil,
        apiTimeZone: TimeZone? = nil,
        keyLimit: Int = 2,
        rotation: RotationSettings = RotationSettings(),
        deliver: [DeliverySpec] = [],
        verify: VerifySpec = VerifySpec()
    ) {
        self.name = name
        self.file = file
        self.provider = provider
        self.zone = zone
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials ?? .sdkDefault(for: provider)
        self.apiTimeZone = apiTimeZone
        self.keyLimit = keyLimit
        self.rotation = rotation
        self.deliver = deliver
        self.verify = verify
    }

    /// The lifetime new keys get: the policy's, or the cloud's fixed one year.
    public var effectiveKeyLifetime: TimeSpan { rotation.keyLifetime ?? .days(365) }
}

/// When and how keys rotate (`rotation:`).
public struct RotationSettings: Sendable, Equatable {
    /// ExpireDuration of new keys (Tencent only); nil = the cloud's default of one year.
    public var keyLifetime: TimeSpan?
    /// Start a rotation when the current key has less than this left.
    public var rotateBefore: TimeSpan
    /// Also rotate when the current key is older than this.
    public var maxAge: TimeSpan?
    /// The previous key stays enabled this long after the new one is promoted.
    public var gracePeriod: TimeSpan
    /// Disabled keys are deleted this long after this tool disabled them; nil = never.
    public var deleteAfter: TimeSpan?
    /// A preferred time window for scheduled rotations.
    public var window: RotationWindow?
    /// Rotations start up to this much earlier than due, by an amount fixed per policy.
    public var jitter: TimeSpan?
    /// The first pause after a failed attempt; doubles per consecutive failure up to `maxBackoff`.
    public var minBackoff: TimeSpan
    public var maxBackoff: TimeSpan
    /// After this many consecutive failures the policy is flagged stuck.
    public var stuckAfter: Int

    public init(
        keyLifetime: TimeSpan? = nil,
        rotateBefore: TimeSpan = .days(30),
        maxAge: TimeSpan? = nil,
        gracePeriod: TimeSpan = .hours(24),
        deleteAfter: TimeSpan? = .days(7),
        window: RotationWindow? = nil,
        jitter: TimeSpan? = nil,
        minBackoff: TimeSpan = .minutes(5),
        maxBackoff: TimeSpan = .hours(6),
        stuckAfter: Int = 5
    ) {
        self.keyLifetime = keyLifetime
        self.rotateBefore = rotateBefore
        self.maxAge = maxAge
        self.gracePeriod = gracePeriod
        self.deleteAfter = deleteAfter
        self.window = window
        self.jitter = jitter
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
        self.stuckAfter = stuckAfter
    }
}

/// Where a new key goes before it is promoted (`deliver:`). Every sink must succeed.
public enum DeliverySpec: Sendable, Equatable {
    /// Atomic write + rename, `mode` (default 0600), parent directory fsynced.
    case file(path: String, mode: Int)
    /// Runs `command` with the secret on stdin (never in argv or the environment); non-zero exit fails.
    case exec(command: [String], timeout: TimeSpan)

    /// A short description without secrets, for history and logs.
    public var summary: String {
        switch self {
        case .file(let path, _): return "file \(path)"
        case .exec(let command, _): return "exec \(command.first ?? "")"
        }
    }
}

/// How a new key is proven to work before anyone gets it (`verify:`).
public struct VerifySpec: Sendable, Equatable {
    /// The SCIM base URL (ending in `/scim/v2`); nil = the provider's.
    public var scimURL: URL?
    /// Attempts of the authenticated GET before the key is declared broken (propagation).
    public var attempts: Int
    /// Pause between attempts.
    public var interval: TimeSpan

    public init(scimURL: URL? = nil, attempts: Int = 5, interval: TimeSpan = TimeSpan(seconds: 2)) {
        self.scimURL = scimURL
        self.attempts = attempts
        self.interval = interval
    }
}
