import Foundation
import SCIMRotatorCore

/// One CloudSSO directory's SCIM credentials, behind the ``SCIMKeyProvider`` seam.
public struct AlibabaCloudSSOProvider: SCIMKeyProvider {
    /// "You can create up to two SCIM credentials" (reference §2).
    public static let documentedKeyLimit = 2

    public let client: AlibabaCloudSSOClient
    public let zone: String
    public let keyLimit: Int
    public let scimBaseURL: URL
    public var kind: ProviderKind { .alibaba }
    /// CloudSSO fixes validity at one year: Create takes no duration.
    public var supportsKeyLifetime: Bool { false }

    public init(
        client: AlibabaCloudSSOClient,
        directory: String,
        keyLimit: Int = documentedKeyLimit,
        scimBaseURL: URL? = nil
    ) {
        self.client = client
        self.zone = directory
        self.keyLimit = keyLimit
        self.scimBaseURL = scimBaseURL ?? Self.defaultSCIMURL(for: client.configuration)
    }

    /// `https://cloudsso-scim-<region>.aliyun.com/scim/v2` for the public endpoints (reference §6); any other
    /// endpoint (the emulator) serves SCIM itself under `/scim/v2`.
    public static func defaultSCIMURL(for configuration: AlibabaCloudSSOConfiguration) -> URL {
        if let host = configuration.endpoint.host, host.hasSuffix(".aliyuncs.com"),
            CloudRegion.isValid(configuration.region),
            let url = URL(string: "https://cloudsso-scim-\(configuration.region).aliyun.com/scim/v2")
        {
            return url
        }
        var components = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/scim/v2"
        components?.query = nil
        return components?.url ?? configuration.endpoint
    }

    func key(_ item: SSOCredential, action: String) throws -> SCIMKey {
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

    public func listKeys() async throws -> [SCIMKey] {
        try await client.listSCIMServerCredentials(directoryId: zone).SCIMServerCredentials.map {
            try key($0, action: "ListSCIMServerCredentials")
        }
    }

    /// Creates a credential. The limit's error code is undocumented, so the count is checked first; a lost reply is
    /// handled by ``LostReplyGuard``.
    public func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey {
        let action = "CreateSCIMServerCredential"
        let existing: [SCIMKey]
        if let knownKeys { existing = knownKeys } else { existing = try await listKeys() }
        guard existing.count < keyLimit else {
            throw ProviderError(
                .limitExceeded,
                action: action,
                code: "LocalCheck",
                message: "the directory already holds \(existing.count) of \(keyLimit) SCIM credentials"
            )
        }
        return try await LostReplyGuard.create(action: action, known: knownKeys, list: listKeys) {
            let reply = try await client.createSCIMServerCredential(directoryId: zone)
            guard let secret = reply.SCIMServerCredential.CredentialSecret, !secret.isEmpty else {
                throw ProviderError(
                    .unexpectedReply,
                    action: action,
                    message: "the reply has no CredentialSecret",
                    requestId: reply.RequestId
                )
            }
            return CreatedKey(
                key: try key(reply.SCIMServerCredential, action: action),
                secret: Secret(secret),
                requestId: reply.RequestId
            )
        }
    }

    public func setStatus(of keyId: String, to status: KeyStatus) async throws {
        try await client.updateSCIMServerCredentialStatus(directoryId: zone, credentialId: keyId, newStatus: status)
    }

    /// `EntityNotExists.SCIMCredential` means already gone (as terraform treats it).
    @discardableResult
    public func deleteKey(_ keyId: String) async throws -> Bool {
        do {
            try await client.deleteSCIMServerCredential(directoryId: zone, credentialId: keyId)
            return true
        } catch let error as ProviderError where error.kind == .keyNotFound {
            return false
        }
    }

    public func syncStatus() async throws -> SyncStatus {
        let reply = try await client.getSCIMSynchronizationStatus(directoryId: zone)
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
        try await client.setSCIMSynchronizationStatus(directoryId: zone, status: status)
    }

    public func describeZone() async throws -> ZoneInfo {
        let directory = try await client.getDirectory(directoryId: zone).Directory
        let sync = try? await syncStatus()
        return ZoneInfo(
            zoneId: directory.DirectoryId,
            name: directory.DirectoryName,
            serviceEnabled: true,
            syncStatus: sync
        )
    }
}
