import Foundation
import SCIMRotatorCore

/// One CIC zone's SCIM keys, behind the ``SCIMKeyProvider`` seam.
public struct TencentCICProvider: SCIMKeyProvider {
    /// Identity providers push to this SCIM base URL on the China site (reference §6).
    public static let chinaSCIMURL = URL(string: "https://scim.tencentcloudsso.com/scim/v2")!
    public static let internationalSCIMURL = URL(string: "https://scim.tencentcloudssointl.com/scim/v2")!
    /// "Up to 2 SCIM keys can be created" (reference §2).
    public static let documentedKeyLimit = 2

    public let client: TencentCICClient
    public let zone: String
    public let keyLimit: Int
    public let scimBaseURL: URL
    public var kind: ProviderKind { .tencent }
    public var supportsKeyLifetime: Bool { true }

    public init(client: TencentCICClient, zone: String, keyLimit: Int = documentedKeyLimit, scimBaseURL: URL? = nil) {
        self.client = client
        self.zone = zone
        self.keyLimit = keyLimit
        self.scimBaseURL = scimBaseURL ?? Self.defaultSCIMURL(for: client.configuration.endpoint)
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

    public func listKeys() async throws -> [SCIMKey] {
        let action = "ListSCIMCredentials"
        return try await client.listSCIMCredentials(zoneId: zone).SCIMCredentials.map { item in
            guard let status = KeyStatus(rawValue: item.Status) else {
                throw ProviderError(.unexpectedReply, action: action, message: "unknown Status \"\(item.Status)\"")
            }
            return SCIMKey(
                id: item.CredentialId,
                status: status,
                createdAt: try client.parseTime(item.CreateTime, field: "CreateTime", action: action),
                expiresAt: try client.parseTime(item.ExpireTime, field: "ExpireTime", action: action),
                type: item.CredentialType ?? "BearerToken"
            )
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
            guard let status = KeyStatus(rawValue: created.CredentialStatus) else {
                throw ProviderError(
                    .unexpectedReply,
                    action: action,
                    message: "unknown CredentialStatus",
                    requestId: requestId
                )
            }
            let key = SCIMKey(
                id: created.CredentialId,
                status: status,
                createdAt: try client.parseTime(created.CreateTime, field: "CreateTime", action: action),
                expiresAt: try client.parseTime(created.ExpireTime, field: "ExpireTime", action: action),
                type: created.CredentialType ?? "BearerToken"
            )
            return CreatedKey(key: key, secret: Secret(created.CredentialSecret), requestId: requestId)
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
        do {
            try await client.deleteSCIMCredential(zoneId: zone, credentialId: keyId)
            return true
        } catch let error as ProviderError where error.kind == .keyNotFound {
            return false
        }
    }

    public func syncStatus() async throws -> SyncStatus {
        let reply = try await client.getSCIMSynchronizationStatus(zoneId: zone)
        guard let status = SyncStatus(rawValue: reply.SCIMSynchronizationStatus) else {
            throw ProviderError(
                .unexpectedReply,
                action: "GetSCIMSynchronizationStatus",
                message: "unknown SCIMSynchronizationStatus \"\(reply.SCIMSynchronizationStatus)\""
            )
        }
        return status
    }

    public func setSyncStatus(_ status: SyncStatus) async throws {
        try await client.updateSCIMSynchronizationStatus(zoneId: zone, status: status)
    }

    public func describeZone() async throws -> ZoneInfo {
        let center = try await client.describeIdentityCenter()
        return ZoneInfo(
            zoneId: center.ZoneId ?? zone,
            name: center.ZoneName,
            serviceEnabled: center.ServiceStatus == "Enabled",
            syncStatus: center.ScimSyncStatus.flatMap(SyncStatus.init(rawValue:))
        )
    }
}
