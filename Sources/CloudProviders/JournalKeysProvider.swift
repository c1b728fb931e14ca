import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// The keys of an issuer without a key API (``ProviderTraits/canList`` false: AWS IAM Identity Center), as the journal
/// knows them: the token a person registered (`track`) and the ones they handed over (`rotate --token-stdin`). Nothing
/// here calls the issuer: creating happens in its console (the engine takes the handed-over token instead of calling
/// ``createKey(lifetime:knownKeys:)``) and so does deleting (the engine asks a person, ``ProviderTraits/canDelete``).
public struct JournalKeysProvider: SCIMKeyProvider {
    public let kind: ProviderKind
    public let zone: String
    public let keyLimit: Int
    public var supportsKeyLifetime: Bool { false }
    public let scimBaseURL: URL
    let policy: String
    let store: any HistoryStore

    public init(policy: Policy, store: any HistoryStore, scimBaseURL: URL? = nil) {
        self.kind = policy.provider
        self.zone = policy.zone
        self.keyLimit = policy.keyLimit
        self.policy = policy.name
        self.store = store
        self.scimBaseURL =
            scimBaseURL ?? policy.verify.scimURL
            ?? Self.awsSCIMURL(region: policy.region ?? "", tenant: policy.zone)  // the policy check requires a region
    }

    /// `https://scim.<region>.amazonaws.com/<tenant>/scim/v2`, IAM Identity Center's SCIM endpoint.
    public static func awsSCIMURL(region: String, tenant: String) -> URL {
        URL(string: "https://scim.\(region).amazonaws.com/\(tenant)/scim/v2")!
    }

    /// The journal's keys that exist: registered or handed over, not recorded as deleted.
    public func listKeys() async throws -> [SCIMKey] {
        try await store.keys(policy: policy).compactMap { record in
            guard !record.role.isGone, let created = record.createdAt, let expires = record.expiresAt else {
                return nil
            }
            return SCIMKey(id: record.keyId, status: record.status ?? .enabled, createdAt: created, expiresAt: expires)
        }
    }

    public func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey {
        throw noAPI("CreateSCIMCredential", "a person makes the token in the console and hands it over")
    }

    public func setStatus(of keyId: String, to status: KeyStatus) async throws {
        throw noAPI("UpdateSCIMCredentialStatus", "a token cannot be disabled, only deleted in the console")
    }

    /// The journal stops listing the key once the engine records it gone; the token itself is deleted by a person.
    @discardableResult public func deleteKey(_ keyId: String) async throws -> Bool { true }

    public func syncStatus() async throws -> SyncStatus {
        throw noAPI("syncStatus", "provisioning is switched on and off in the console")
    }

    public func setSyncStatus(_ status: SyncStatus) async throws {
        throw noAPI("setSyncStatus", "provisioning is switched on and off in the console")
    }

    func noAPI(_ action: String, _ instead: String) -> ProviderError {
        ProviderError(
            .invalidRequest,
            action: action,
            code: "NoKeyAPI",
            message: "\(kind.traits.serviceName) has no API for its SCIM tokens: \(instead)"
        )
    }
}
