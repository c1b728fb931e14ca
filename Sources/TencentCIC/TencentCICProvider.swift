import Foundation
import SCIMRotatorCore
import Transport

/// One CIC zone's SCIM keys, behind the ``SCIMKeyProvider`` seam.
public struct TencentCICProvider: SCIMKeyProvider {
    /// Identity providers push to this SCIM base URL on the China site (reference §6).
    public static let chinaSCIMURL = URL(string: "https://scim.tencentcloudsso.com/scim/v2")!
    public static let internationalSCIMURL = URL(string: "https://scim.tencentcloudssointl.com/scim/v2")!
    public static let traits = ProviderTraits.tencent

    public let client: TencentCICClient
    public let zone: String
    public let keyLimit: Int
    public let scimBaseURL: URL
    public var kind: ProviderKind { Self.traits.kind }
    public var supportsKeyLifetime: Bool { Self.traits.supportsKeyLifetime }

    public init(
        client: TencentCICClient,
        zone: String,
        keyLimit: Int = traits.documentedKeyLimit,
        scimBaseURL: URL? = nil
    ) {
        self.client = client
        self.zone = zone
        self.keyLimit = keyLimit
        self.scimBaseURL = scimBaseURL ?? Self.defaultSCIMURL(for: client.configuration.endpoint)
    }

    /// The provider for `setup`: the China site unless it names an endpoint.
    public init(setup: ProviderSetup) {
        let client = TencentCICClient(
            configuration: TencentCICConfiguration(
                endpoint: setup.endpoint ?? TencentCICConfiguration.chinaEndpoint,
                region: setup.region,
                timeout: setup.tuning.timeout,
                retry: setup.tuning.retry,
                apiTimeZone: setup.apiTimeZone ?? TencentTime.defaultZone
            ),
            credentials: setup.credentials,
            transport: setup.transport,
            clock: setup.clock,
            rateLimiter: setup.tuning.rateLimiter ?? TencentCICClient.sharedRateLimiter,
            pause: setup.tuning.pause
        )
        self.init(client: client, zone: setup.zone, keyLimit: setup.keyLimit)
    }

    /// The SCIM URL that goes with an API endpoint: the public sites map to their SCIM hosts, anything else (the
    /// emulator) serves SCIM itself under `/scim/v2`.
    public static func defaultSCIMURL(for endpoint: URL) -> URL {
        switch endpoint.host {
        case TencentCICConfiguration.chinaEndpoint.host: return chinaSCIMURL
        case TencentCICConfiguration.internationalEndpoint.host: return internationalSCIMURL
        default:
            var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
            components?.path = "/scim/v2"
            return components?.url ?? endpoint
        }
    }

    func key(_ item: some ReportedSCIMKey, action: String, requestId: String? = nil) throws -> SCIMKey {
        try SCIMKey(reported: item, action: action, requestId: requestId) {
            try client.parseTime($0, field: $1, action: action)
        }
    }

    public func listKeys() async throws -> [SCIMKey] {
        let action = "ListSCIMCredentials"
        return try await client.listSCIMCredentials(zoneId: zone).SCIMCredentials.map {
            try key($0, action: action)
        }
    }

    /// Creates a key. CreateSCIMCredential has no idempotency token, so when its reply is lost the zone is listed
    /// again: a key that appeared meanwhile was made by the lost call, and is reported as `.createdWithoutSecret`
    /// (its secret is gone) instead of creating a second one; if none appeared, the create is retried once.
    public func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey {
        let action = "CreateSCIMCredential"
        return try await LostReplyGuard.create(action: action, known: knownKeys, list: listKeys) {
            let (created, requestId) = try await client.createSCIMCredential(
                zoneId: zone,
                expireDuration: lifetime?.seconds
            )
            return CreatedKey(
                key: try key(created, action: action, requestId: requestId),
                secret: Secret(created.CredentialSecret),
                requestId: requestId
            )
        }
    }

    public func setStatus(of keyId: String, to status: KeyStatus) async throws {
        do {
            try await client.updateSCIMCredentialStatus(zoneId: zone, credentialId: keyId, newStatus: status)
        } catch let error as ProviderError where error.code == "InvalidParameter.UserScimCredentialStatusError" {
            // Setting the status a key already has may be refused (reference §1.4): success if the list agrees.
            let current = try await client.listSCIMCredentials(zoneId: zone, credentialId: keyId).SCIMCredentials
            guard current.first?.Status == status.rawValue else { throw error }
        }
    }

    @discardableResult
    public func deleteKey(_ keyId: String) async throws -> Bool {
        try await deletingKey { try await client.deleteSCIMCredential(zoneId: zone, credentialId: keyId) }
    }

    public func syncStatus() async throws -> SyncStatus {
        try SyncStatus(reported: try await client.getSCIMSynchronizationStatus(zoneId: zone).SCIMSynchronizationStatus)
    }

    public func setSyncStatus(_ status: SyncStatus) async throws {
        try await client.updateSCIMSynchronizationStatus(zoneId: zone, status: status)
    }
}
