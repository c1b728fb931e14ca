import Foundation
import SCIMRotatorCore
import Transport

/// One account's CloudIdentity SCIM credentials, behind the ``SCIMKeyProvider`` seam. The zone names the account for
/// audit and locks; it is never sent (Create and List take no zone: one CloudIdentity instance per account).
///
/// The cloud cannot disable a key (``ProviderTraits/canDisable`` is false): the rotation deletes the previous key when
/// its grace period ends, and the cloud refuses to delete the last key (`SCIMTokenDeletionConflict`).
public struct VolcengineProvider: SCIMKeyProvider {
    public static let traits = ProviderTraits.volcengine

    public let client: VolcengineClient
    public let zone: String
    public let keyLimit: Int
    public let scimBaseURL: URL
    public var kind: ProviderKind { Self.traits.kind }
    public var supportsKeyLifetime: Bool { Self.traits.supportsKeyLifetime }

    public init(
        client: VolcengineClient,
        account: String,
        keyLimit: Int = traits.documentedKeyLimit,
        scimBaseURL: URL? = nil
    ) {
        self.client = client
        self.zone = account
        self.keyLimit = keyLimit
        self.scimBaseURL = scimBaseURL ?? Self.defaultSCIMURL(for: client.configuration)
    }

    public init(setup: ProviderSetup) {
        let client = VolcengineClient(
            configuration: VolcengineConfiguration(
                endpoint: setup.endpoint,
                region: setup.region,
                timeout: setup.tuning.timeout,
                retry: setup.tuning.retry
            ),
            credentials: setup.credentials,
            transport: setup.transport,
            clock: setup.clock,
            rateLimiter: setup.tuning.rateLimiter ?? VolcengineClient.sharedRateLimiter,
            pause: setup.tuning.pause
        )
        self.init(client: client, account: setup.zone, keyLimit: setup.keyLimit)
    }

    /// `https://cloudidentity-scim.<region>.volces.com/scim/v2` for the public endpoints; any other endpoint (the
    /// emulator) serves SCIM itself under `/scim/v2`.
    public static func defaultSCIMURL(for configuration: VolcengineConfiguration) -> URL {
        if let host = configuration.endpoint.host, host.hasSuffix(".volcengineapi.com"),
            CloudRegion.isValid(configuration.region),
            let url = URL(string: "https://cloudidentity-scim.\(configuration.region).volces.com/scim/v2")
        {
            return url
        }
        var components = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/scim/v2"
        components?.query = nil
        return components?.url ?? configuration.endpoint
    }

    func key(_ item: VolcCredential, action: String, requestId: String? = nil) throws -> SCIMKey {
        try SCIMKey(reported: item, action: action, requestId: requestId) {
            try client.parseTime($0, field: $1, action: action)
        }
    }

    public func listKeys() async throws -> [SCIMKey] {
        try await client.listSCIMServerCredentials().SCIMServerCredentials.map {
            try key($0, action: "ListSCIMServerCredentials")
        }
    }

    /// Creates a credential. The limit is undocumented, so the count is checked first; a lost reply is handled by
    /// ``LostReplyGuard``.
    public func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey {
        let action = "CreateSCIMServerCredential"
        let existing: [SCIMKey]
        if let knownKeys { existing = knownKeys } else { existing = try await listKeys() }
        guard existing.count < keyLimit else {
            throw ProviderError(
                .limitExceeded,
                action: action,
                code: "LocalCheck",
                message: "the account already holds \(existing.count) of \(keyLimit) SCIM credentials"
            )
        }
        return try await LostReplyGuard.create(action: action, known: knownKeys, list: listKeys) {
            let (reply, requestId) = try await client.createSCIMServerCredential()
            guard let secret = reply.CredentialSecret, !secret.isEmpty else {
                throw ProviderError(
                    .unexpectedReply,
                    action: action,
                    message: "the reply has no CredentialSecret",
                    requestId: requestId
                )
            }
            return CreatedKey(
                key: try key(reply, action: action, requestId: requestId),
                secret: Secret(secret),
                requestId: requestId
            )
        }
    }

    /// CloudIdentity has no status update; the rotation never asks (``ProviderTraits/canDisable``).
    public func setStatus(of keyId: String, to status: KeyStatus) async throws {
        throw ProviderError(
            .invalidRequest,
            action: "setStatus",
            message: "Volcano Engine CloudIdentity cannot disable or enable a SCIM credential; delete it instead"
        )
    }

    /// A key already gone is not an error; the last key is refused by the cloud (`.lastKeyProtected`).
    @discardableResult
    public func deleteKey(_ keyId: String) async throws -> Bool {
        try await deletingKey { try await client.deleteSCIMServerCredential(credentialId: keyId) }
    }

    /// CloudIdentity's API has no SCIM synchronization switch.
    public func syncStatus() async throws -> SyncStatus { throw Self.noSyncSwitch("syncStatus") }

    public func setSyncStatus(_ status: SyncStatus) async throws { throw Self.noSyncSwitch("setSyncStatus") }

    static func noSyncSwitch(_ action: String) -> ProviderError {
        ProviderError(
            .invalidRequest,
            action: action,
            code: "NoSyncSwitch",
            message: "Volcano Engine CloudIdentity has no SCIM synchronization switch in its API "
                + "(its SCIM credential actions are Create, List and Delete)"
        )
    }
}
