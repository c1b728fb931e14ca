import Foundation
import SCIMRotatorCore
import Transport

/// One CloudSSO directory's SCIM credentials, behind the ``SCIMKeyProvider`` seam.
public struct AlibabaCloudSSOProvider: SCIMKeyProvider {
    public static let traits = ProviderTraits.alibaba

    public let client: AlibabaCloudSSOClient
    public let zone: String
    public let keyLimit: Int
    public let scimBaseURL: URL
    public var kind: ProviderKind { Self.traits.kind }
    /// CloudSSO fixes validity at one year: Create takes no duration.
    public var supportsKeyLifetime: Bool { Self.traits.supportsKeyLifetime }

    public init(
        client: AlibabaCloudSSOClient,
        directory: String,
        keyLimit: Int = traits.documentedKeyLimit,
        scimBaseURL: URL? = nil
    ) {
        self.client = client
        self.zone = directory
        self.keyLimit = keyLimit
        self.scimBaseURL = scimBaseURL ?? Self.defaultSCIMURL(for: client.configuration)
    }

    /// The provider for `setup`: the endpoint of its region (``AlibabaCloudSSOConfiguration/defaultRegion`` when it
    /// names none) unless it names an endpoint.
    public init(setup: ProviderSetup) {
        let client = AlibabaCloudSSOClient(
            configuration: AlibabaCloudSSOConfiguration(
                endpoint: setup.endpoint,
                region: setup.region,
                timeout: setup.tuning.timeout,
                retry: setup.tuning.retry
            ),
            credentials: setup.credentials,
            transport: setup.transport,
            clock: setup.clock,
            rateLimiter: setup.tuning.rateLimiter ?? AlibabaCloudSSOClient.sharedRateLimiter,
            pause: setup.tuning.pause
        )
        self.init(client: client, directory: setup.zone, keyLimit: setup.keyLimit)
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
        try SCIMKey(reported: item, action: action) { try client.parseTime($0, field: $1, action: action) }
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

    /// `EntityNotExists.SCIMCredential` means already gone.
    @discardableResult
    public func deleteKey(_ keyId: String) async throws -> Bool {
        try await deletingKey { try await client.deleteSCIMServerCredential(directoryId: zone, credentialId: keyId) }
    }

    public func syncStatus() async throws -> SyncStatus {
        try SyncStatus(
            reported: try await client.getSCIMSynchronizationStatus(directoryId: zone).SCIMSynchronizationStatus
        )
    }

    public func setSyncStatus(_ status: SyncStatus) async throws {
        try await client.setSCIMSynchronizationStatus(directoryId: zone, status: status)
    }
}
