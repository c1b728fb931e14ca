import Foundation

/// What scim-rotator knows about one cloud before talking to it: how its zones are named and written, where its access
/// key is read from, which policy keys apply, the lifetime and count of its keys, its request budget. Policy checks,
/// messages, the clients' shared rate limiters and the providers read these values; a new cloud is one more value
/// here (and a ``ProviderKind`` case).
public struct ProviderTraits: Sendable {
    public var kind: ProviderKind
    /// The service's short name in messages (`CIC`, `CloudSSO`).
    public var serviceName: String
    /// What the cloud calls a zone in its API and console (`ZoneId`, `DirectoryId`).
    public var zoneNoun: String
    /// A zone id's form, a regular expression over the whole id.
    public var zonePattern: String
    /// The zone id form in words, for the message that refuses one: "a CIC ZoneId: z- followed by ...".
    public var zoneHint: String
    public var exampleZone: String
    /// Region ids for messages.
    public var exampleRegions: String
    /// The regions that serve the API, where only some do; empty when any region id reaches it.
    public var serviceRegions: [String]
    /// The region a policy that names none talks to, where the endpoint depends on the region.
    public var impliedRegion: String?
    /// The environment variables the official SDKs and CLIs read the access key from (tccli, aliyun).
    public var defaultCredentials: CloudCredentials.EnvironmentNames
    /// A key's lifetime when the policy names none (or, without ``supportsKeyLifetime``, the one the cloud fixes).
    public var defaultKeyLifetime: TimeSpan
    /// Whether Create takes a lifetime (`rotation.keyLifetime`).
    public var supportsKeyLifetime: Bool
    /// Whether a key can be disabled without deleting it. Without it, a key the rotation retires is deleted once its
    /// grace period is over (there is no disabled state in between).
    public var canDisable: Bool
    /// Whether the cloud refuses to delete a zone's last key (Volcano Engine `SCIMTokenDeletionConflict`). The engine
    /// then never plans to, and a key it must remove (one that failed verification) stays, its removal announced, until
    /// another key exists.
    public var protectsLastKey: Bool
    /// Whether the API has a SCIM synchronization switch (`sync` reads and sets it).
    public var hasSyncSwitch: Bool
    /// How many keys (enabled or disabled) the cloud documents a zone may hold.
    public var documentedKeyLimit: Int
    /// Requests per second per account and action that the cloud documents.
    public var requestsPerSecond: Int
    /// Policy keys that do not apply to this cloud, each with the fix the policy check prints.
    public var inapplicablePolicyKeys: [String: String]

    /// Whether `zone` has the form of this cloud's zone ids.
    public func isValidZone(_ zone: String) -> Bool {
        zone.range(of: zonePattern, options: .regularExpression) != nil
    }
}

extension ProviderKind {
    /// This cloud's ``ProviderTraits``.
    public var traits: ProviderTraits {
        switch self {
        case .tencent: return .tencent
        case .alibaba: return .alibaba
        case .volcengine: return .volcengine
        }
    }
}

extension ProviderTraits {
    /// The one-year lifetime both clouds give a key by default.
    static let oneYear = TimeSpan.days(365)

    /// Tencent Cloud Organization Identity Center (CIC), reference §1-§3.
    public static let tencent = ProviderTraits(
        kind: .tencent,
        serviceName: "CIC",
        zoneNoun: "ZoneId",
        zonePattern: "^z-[0-9a-z]{12}$",
        zoneHint: "a CIC ZoneId: z- followed by 12 lower-case letters or digits",
        exampleZone: "z-vft38p2hq8tq",
        exampleRegions: "ap-guangzhou, na-siliconvalley or eu-frankfurt",
        // One global endpoint per site; the organization API ignores X-TC-Region.
        serviceRegions: [],
        impliedRegion: nil,
        defaultCredentials: CloudCredentials.EnvironmentNames(
            idEnv: "TENCENTCLOUD_SECRET_ID",
            secretEnv: "TENCENTCLOUD_SECRET_KEY",
            tokenEnv: "TENCENTCLOUD_SESSION_TOKEN"
        ),
        defaultKeyLifetime: oneYear,
        supportsKeyLifetime: true,
        canDisable: true,
        protectsLastKey: false,
        hasSyncSwitch: true,
        // "Up to 2 SCIM keys can be created" (reference §2).
        documentedKeyLimit: 2,
        requestsPerSecond: 20,
        inapplicablePolicyKeys: [:]
    )

    /// Alibaba Cloud CloudSSO, reference §1-§3.
    public static let alibaba = ProviderTraits(
        kind: .alibaba,
        serviceName: "CloudSSO",
        zoneNoun: "DirectoryId",
        zonePattern: "^d-[0-9a-z]{6,32}$",
        zoneHint: "a CloudSSO DirectoryId: d- followed by lower-case letters or digits",
        exampleZone: "d-00fc2p61abcd",
        exampleRegions: "cn-shanghai or ap-southeast-1",
        // Reference §1, Endpoints.
        serviceRegions: [
            "cn-shanghai", "cn-hongkong", "ap-northeast-2", "ap-southeast-1", "us-west-1", "eu-central-1",
        ],
        // The official SDK refuses to guess; this keeps the default but says so.
        impliedRegion: "cn-shanghai",
        defaultCredentials: CloudCredentials.EnvironmentNames(
            idEnv: "ALIBABA_CLOUD_ACCESS_KEY_ID",
            secretEnv: "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            tokenEnv: "ALIBABA_CLOUD_SECURITY_TOKEN"
        ),
        // CloudSSO fixes validity at one year: Create takes no duration.
        defaultKeyLifetime: oneYear,
        supportsKeyLifetime: false,
        canDisable: true,
        protectsLastKey: false,
        hasSyncSwitch: true,
        // "You can create up to two SCIM credentials" (reference §2).
        documentedKeyLimit: 2,
        requestsPerSecond: 100,
        inapplicablePolicyKeys: [
            "apiTimeZone": "Alibaba CloudSSO times carry their zone (UTC); remove this key",
            "rotation.keyLifetime":
                "Alibaba CloudSSO fixes key validity at one year; remove keyLifetime and use `maxAge` to rotate sooner",
        ]
    )

    /// Volcano Engine CloudIdentity (云身份中心), from the official SDK (volcenginesdk-cloudidentity 5.0.54): three
    /// actions, Create, List and Delete; no status update and no synchronization switch.
    public static let volcengine = ProviderTraits(
        kind: .volcengine,
        serviceName: "CloudIdentity",
        // Create and List take no zone: one CloudIdentity instance per account, named by the account id.
        zoneNoun: "account id",
        zonePattern: "^[0-9]{6,20}$",
        zoneHint: "a Volcano Engine account id: 6 to 20 digits (the zone is never sent; it names the account)",
        exampleZone: "2100123456",
        exampleRegions: "cn-beijing, cn-shanghai or ap-southeast-1",
        // open.volcengineapi.com serves every region; the region only enters the signature's scope.
        serviceRegions: [],
        impliedRegion: nil,
        defaultCredentials: CloudCredentials.EnvironmentNames(
            idEnv: "VOLCENGINE_ACCESS_KEY",
            secretEnv: "VOLCENGINE_SECRET_KEY",
            tokenEnv: "VOLCENGINE_SESSION_TOKEN"
        ),
        // The documented example key lives a year; Create takes no duration.
        defaultKeyLifetime: oneYear,
        supportsKeyLifetime: false,
        canDisable: false,
        protectsLastKey: true,
        hasSyncSwitch: false,
        // Undocumented; the policy's keyLimit overrides it.
        documentedKeyLimit: 2,
        requestsPerSecond: 20,
        inapplicablePolicyKeys: [
            "apiTimeZone": "Volcano Engine CloudIdentity times carry their offset (RFC 3339); remove this key",
            "rotation.keyLifetime":
                "Volcano Engine CloudIdentity's Create takes no lifetime; remove keyLifetime and use `maxAge` to "
                + "rotate sooner",
            "rotation.deleteAfter":
                "Volcano Engine CloudIdentity cannot disable a key: the previous key is deleted when the grace period "
                + "ends; remove deleteAfter",
        ]
    )
}
