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
    /// Whether the API creates keys. Without it (AWS IAM Identity Center) a person makes the token in the console and
    /// hands it over (`rotate --token-stdin`): the rotation waits for them, then verifies, delivers and promotes it.
    public var canCreate: Bool
    /// Whether the API lists a zone's keys. Without it the journal is the list: the keys a person registered
    /// (`track`) or handed over.
    public var canList: Bool
    /// Whether the API deletes keys. Without it a person deletes the previous token in the console when its grace
    /// period is over, asked by a notification and `status`, and says so (`confirm --old-deleted`).
    public var canDelete: Bool
    /// Where a person makes and deletes keys, for the instructions (issuers without an API).
    public var console: String?
    /// Whether a policy must name its region (the SCIM endpoint depends on it and there is no default).
    public var requiresRegion: Bool
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

    /// Where a person manages keys, for messages.
    public var consoleName: String { console ?? "the \(serviceName) console" }

    /// Whether `zone` has the form of this cloud's zone ids.
    public func isValidZone(_ zone: String) -> Bool {
        zone.range(of: zonePattern, options: .regularExpression) != nil
    }
}

extension ProviderKind {
    /// The clouds whose keys an API creates, lists and deletes (every rotation suite runs over each of them).
    public static var withKeyAPI: [ProviderKind] { allCases.filter(\.traits.canCreate) }

    /// This cloud's ``ProviderTraits``.
    public var traits: ProviderTraits {
        switch self {
        case .tencent: return .tencent
        case .alibaba: return .alibaba
        case .volcengine: return .volcengine
        case .awsIdentityCenter: return .awsIdentityCenter
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
        canCreate: true,
        canList: true,
        canDelete: true,
        console: nil,
        requiresRegion: false,
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
        canCreate: true,
        canList: true,
        canDelete: true,
        console: nil,
        requiresRegion: false,
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
        canCreate: true,
        canList: true,
        canDelete: true,
        console: nil,
        requiresRegion: false,
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

    /// AWS IAM Identity Center's SCIM access tokens: a year's validity, at most two, made and deleted only in the
    /// console (no API). The zone is the SCIM tenant id, the path segment of
    /// `https://scim.<region>.amazonaws.com/<tenant>/scim/v2/`.
    public static let awsIdentityCenter = ProviderTraits(
        kind: .awsIdentityCenter,
        serviceName: "IAM Identity Center",
        zoneNoun: "SCIM tenant id",
        zonePattern: "^[A-Za-z0-9][A-Za-z0-9-]{7,127}$",
        zoneHint: "an IAM Identity Center SCIM tenant id: the path segment after the host in its SCIM endpoint "
            + "(https://scim.REGION.amazonaws.com/TENANT/scim/v2/)",
        exampleZone: "a1b2c3d4e5f-6789-abcd-ef01-23456789abcd",
        exampleRegions: "us-east-1, eu-west-1 or ap-southeast-2",
        serviceRegions: [],
        impliedRegion: nil,
        // No API call is made; named for completeness (the AWS CLI's variables).
        defaultCredentials: CloudCredentials.EnvironmentNames(
            idEnv: "AWS_ACCESS_KEY_ID",
            secretEnv: "AWS_SECRET_ACCESS_KEY",
            tokenEnv: "AWS_SESSION_TOKEN"
        ),
        // "SCIM access tokens are valid for one year" (AWS documentation).
        defaultKeyLifetime: oneYear,
        supportsKeyLifetime: false,
        canCreate: false,
        canList: false,
        canDelete: false,
        console: "the IAM Identity Center console (Settings → Identity source → Automatic provisioning → "
            + "Access tokens)",
        requiresRegion: true,
        canDisable: false,
        protectsLastKey: false,
        hasSyncSwitch: false,
        // "You can have up to two access tokens at a time."
        documentedKeyLimit: 2,
        requestsPerSecond: 20,
        inapplicablePolicyKeys: [
            "apiTimeZone": "IAM Identity Center has no key API; remove this key",
            "endpoint": "IAM Identity Center has no key API to point at; set verify.scim.url to test another SCIM "
                + "endpoint, and remove endpoint",
            "credentials": "IAM Identity Center has no key API, so no access key is read; remove credentials",
            "rotation.keyLifetime": "IAM Identity Center tokens are valid for one year; remove keyLifetime and use "
                + "`maxAge` to rotate sooner",
            "rotation.deleteAfter": "IAM Identity Center tokens cannot be disabled: when the grace period ends a "
                + "person is asked to delete the previous token; remove deleteAfter",
        ]
    )
}
