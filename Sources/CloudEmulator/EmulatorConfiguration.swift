import Foundation
import SCIMRotatorCore
import Yams

/// What the emulator serves at start-up: `scim-rotator emulator --config FILE` reads this from YAML or JSON.
///
/// ```yaml
/// alibaba:
///   accounts:
///     - {accessKeyId: LTAI5t..., accessKeySecret: ..., directories: [d-00fc2p61abcd]}
///   directories:
///     - {id: d-00fc2p61abcd, region: cn-shanghai}
/// volcengine:
///   accounts:
///     - {accessKeyId: AKLT..., accessKeySecret: ..., zones: ["2100000001"]}   # one account, its id as the zone
///   zones:
///     - {id: "2100000001", region: cn-beijing}
/// tencent:
///   accounts:
///     - {secretId: AKIDexample..., secretKey: ..., zones: [z-vft38p2hq8tq]}
///   zones:
///     - {id: z-vft38p2hq8tq, name: prod, syncStatus: Enabled}
/// keyLimit: 2            # keys per zone, disabled ones included
/// rateLimit: 20          # requests per second per action per account (Tencent)
/// latencyMs: 0           # added to every cloud API call
/// alibabaLimitCode: LimitExceeded.SCIMCredential   # the (undocumented) code CloudSSO's limit answers with
/// alibabaLimitStatus: 400
/// volcengineLimitCode: SCIMServerCredentialLimitExceeded  # the (undocumented) code CloudIdentity's limit answers with
/// volcengineLimitStatus: 400
/// scimRequiresSync: false  # true: SCIM calls to a zone whose synchronization is disabled answer 403
/// ```
public struct EmulatorConfiguration: Sendable, Codable, Equatable {
    public struct Account: Sendable, Codable, Equatable {
        public var secretId: String?
        public var secretKey: String?
        /// Set for temporary (STS) credentials: requests must then carry this token.
        public var token: String?
        public var zones: [String]

        public init(secretId: String? = nil, secretKey: String? = nil, token: String? = nil, zones: [String]) {
            self.secretId = secretId
            self.secretKey = secretKey
            self.token = token
            self.zones = zones
        }

        enum CodingKeys: String, CodingKey {
            case secretId, secretKey, token, zones, directories, accessKeyId, accessKeySecret, securityToken
        }

        /// Tencent spells an access key `secretId`/`secretKey`; Alibaba `accessKeyId`/`accessKeySecret`, and its
        /// zones are `directories`: both spellings are accepted.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            secretId =
                try c.decodeIfPresent(String.self, forKey: .secretId)
                ?? c.decodeIfPresent(String.self, forKey: .accessKeyId)
            secretKey =
                try c.decodeIfPresent(String.self, forKey: .secretKey)
                ?? c.decodeIfPresent(String.self, forKey: .accessKeySecret)
            token =
                try c.decodeIfPresent(String.self, forKey: .token)
                ?? c.decodeIfPresent(String.self, forKey: .securityToken)
            zones =
                try c.decodeIfPresent([String].self, forKey: .zones) ?? c.decodeIfPresent(
                    [String].self,
                    forKey: .directories
                ) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(secretId, forKey: .secretId)
            try c.encodeIfPresent(secretKey, forKey: .secretKey)
            try c.encodeIfPresent(token, forKey: .token)
            try c.encode(zones, forKey: .zones)
        }
    }

    public struct Zone: Sendable, Codable, Equatable {
        public var id: String
        public var name: String?
        /// False: the identity center is not opened (FailedOperation.IdentityCenterNotOpen).
        public var opened: Bool?
        public var syncStatus: SyncStatus?
        public var keyLimit: Int?
        public var region: String?

        public init(
            id: String,
            name: String? = nil,
            opened: Bool? = nil,
            syncStatus: SyncStatus? = nil,
            keyLimit: Int? = nil,
            region: String? = nil
        ) {
            self.id = id
            self.name = name
            self.opened = opened
            self.syncStatus = syncStatus
            self.keyLimit = keyLimit
            self.region = region
        }
    }

    public struct Cloud: Sendable, Codable, Equatable {
        public var accounts: [Account]
        public var zones: [Zone]

        public init(accounts: [Account], zones: [Zone]) {
            self.accounts = accounts
            self.zones = zones
        }

        enum CodingKeys: String, CodingKey {
            case accounts, zones, directories
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            accounts = try c.decodeIfPresent([Account].self, forKey: .accounts) ?? []
            zones =
                try c.decodeIfPresent([Zone].self, forKey: .zones) ?? c.decodeIfPresent(
                    [Zone].self,
                    forKey: .directories
                ) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(accounts, forKey: .accounts)
            try c.encode(zones, forKey: .zones)
        }
    }

    public var tencent: Cloud?
    public var alibaba: Cloud?
    /// Volcano Engine CloudIdentity: each account's zone is its account id (one instance per account).
    public var volcengine: Cloud?
    /// AWS IAM Identity Center: SCIM tenants only (no key API). Tokens are seeded through the admin API, as a person
    /// makes them in the console, and the tenant's SCIM endpoint is `/<tenant>/scim/v2/`.
    public var awsIdentityCenter: Cloud?
    public var keyLimit: Int?
    public var rateLimit: Int?
    public var latencyMs: Int?
    /// Alibaba: the error code and HTTP status the limit answers with (undocumented by the cloud).
    public var alibabaLimitCode: String?
    /// Alibaba: requests per second per action per account (documented 100).
    public var alibabaRateLimit: Int?
    public var alibabaLimitStatus: Int?
    /// Refuse SCIM calls (403) to a zone whose SCIM synchronization is disabled (CloudSSO: "If you disable SCIM
    /// synchronization, you can no longer synchronize users or groups"). Default false.
    public var scimRequiresSync: Bool?
    /// Volcano: the error code and HTTP status the key-count limit answers with (undocumented by the cloud).
    public var volcengineLimitCode: String?
    public var volcengineLimitStatus: Int?

    public init(
        tencent: Cloud? = nil,
        alibaba: Cloud? = nil,
        volcengine: Cloud? = nil,
        awsIdentityCenter: Cloud? = nil,
        keyLimit: Int? = nil,
        rateLimit: Int? = nil,
        latencyMs: Int? = nil
    ) {
        self.tencent = tencent
        self.alibaba = alibaba
        self.volcengine = volcengine
        self.awsIdentityCenter = awsIdentityCenter
        self.keyLimit = keyLimit
        self.rateLimit = rateLimit
        self.latencyMs = latencyMs
    }

    /// The demo world: one Tencent zone, one Alibaba directory and one Volcano account, each with one demo access key.
    public static let demo = EmulatorConfiguration(
        tencent: Cloud(
            accounts: [
                Account(
                    secretId: DemoCredentials.tencentSecretId,
                    secretKey: DemoCredentials.tencentSecretKey,
                    zones: [DemoCredentials.tencentZone]
                )
            ],
            zones: [Zone(id: DemoCredentials.tencentZone, name: "demo", syncStatus: .enabled)]
        ),
        alibaba: Cloud(
            accounts: [
                Account(
                    secretId: DemoCredentials.alibabaAccessKeyId,
                    secretKey: DemoCredentials.alibabaAccessKeySecret,
                    zones: [DemoCredentials.alibabaDirectory]
                )
            ],
            zones: [
                Zone(id: DemoCredentials.alibabaDirectory, name: "demo", syncStatus: .enabled, region: "cn-shanghai")
            ]
        ),
        volcengine: Cloud(
            accounts: [
                Account(
                    secretId: DemoCredentials.volcengineAccessKey,
                    secretKey: DemoCredentials.volcengineSecretKey,
                    zones: [DemoCredentials.volcengineAccount]
                )
            ],
            zones: [Zone(id: DemoCredentials.volcengineAccount, name: "demo", region: "cn-beijing")]
        ),
        awsIdentityCenter: Cloud(
            accounts: [],
            zones: [Zone(id: DemoCredentials.awsTenant, name: "demo", region: "us-east-1")]
        )
    )

    /// The configuration of `kind`'s cloud.
    public subscript(cloud kind: ProviderKind) -> Cloud? {
        get {
            switch kind {
            case .tencent: return tencent
            case .alibaba: return alibaba
            case .volcengine: return volcengine
            case .awsIdentityCenter: return awsIdentityCenter
            }
        }
        set {
            switch kind {
            case .tencent: tencent = newValue
            case .alibaba: alibaba = newValue
            case .volcengine: volcengine = newValue
            case .awsIdentityCenter: awsIdentityCenter = newValue
            }
        }
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a YAML or JSON configuration file.
    public static func load(path: String) throws -> EmulatorConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "\(path): cannot read the emulator configuration file")
        }
        do {
            return try YAMLDecoder().decode(EmulatorConfiguration.self, from: data)
        } catch {
            throw LoadError(description: "\(path): not a valid emulator configuration: \(error)")
        }
    }
}

/// Fixed credentials of the emulator's demo world, so that the README can show them. They open nothing real.
public enum DemoCredentials {
    public static let tencentZone = "z-demo00000001"
    public static let tencentSecretId = "AKIDemulatorDEMO00000000000000000000"
    public static let tencentSecretKey = "emulatorDEMOsecretKEY0000000000000"
    public static let alibabaDirectory = "d-demo00000001"
    public static let alibabaAccessKeyId = "LTAI5temulatorDEMO000000"
    public static let alibabaAccessKeySecret = "emulatorDEMOalibabaSECRET0000000"
    public static let volcengineAccount = "2100000001"
    public static let volcengineAccessKey = "AKLTemulatorDEMO0000000000000000000000000"
    public static let volcengineSecretKey = "emulatorDEMOvolcengineSECRET000000000000"
    /// The demo IAM Identity Center SCIM tenant (no access key: there is no key API).
    public static let awsTenant = "demo0000aws-tenant-0001"

    /// The demo zone of `kind` (a zone, a directory, an account id).
    public static func zone(for kind: ProviderKind) -> String {
        switch kind {
        case .tencent: return tencentZone
        case .alibaba: return alibabaDirectory
        case .volcengine: return volcengineAccount
        case .awsIdentityCenter: return awsTenant
        }
    }

    /// The demo account's access key on `kind`'s emulated API.
    public static func credentials(for kind: ProviderKind) -> CloudCredentials {
        switch kind {
        case .tencent: return CloudCredentials(accessKeyId: tencentSecretId, secret: Secret(tencentSecretKey))
        case .alibaba: return CloudCredentials(accessKeyId: alibabaAccessKeyId, secret: Secret(alibabaAccessKeySecret))
        case .volcengine: return CloudCredentials(accessKeyId: volcengineAccessKey, secret: Secret(volcengineSecretKey))
        // No key API: nothing signs a request.
        case .awsIdentityCenter: return CloudCredentials(accessKeyId: "-", secret: Secret("-"))
        }
    }
}
