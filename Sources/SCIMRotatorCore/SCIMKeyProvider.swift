import Foundation

/// The clouds scim-rotator knows. Raw values are the `provider:` spelling in policies.
public enum ProviderKind: String, Sendable, Codable, CaseIterable {
    case tencent
    case alibaba
    case volcengine
    /// AWS IAM Identity Center: no key API; its tokens are made and deleted in the console, and this tool tracks them
    /// (assisted rotation, ``ProviderTraits/canCreate``).
    case awsIdentityCenter = "aws-identity-center"
}

/// One zone's SCIM keys on one cloud: the seam between the rotation and Tencent CIC / Alibaba
/// CloudSSO / Volcano Engine CloudIdentity.
///
/// Implementations retry transient failures themselves and throw ``ProviderError`` for the rest. Every call is
/// idempotent except ``createKey(lifetime:)``, which throws `.createdWithoutSecret` rather than create twice when a
/// reply is lost.
public protocol SCIMKeyProvider: Sendable {
    var kind: ProviderKind { get }
    var zone: String { get }
    /// How many keys (enabled or disabled) the cloud lets a zone hold.
    var keyLimit: Int { get }
    /// Whether `createKey(lifetime:)` honours a lifetime (Tencent) or the cloud fixes it (Alibaba: one year).
    var supportsKeyLifetime: Bool { get }
    /// The SCIM 2.0 base URL identity providers call with these keys (ends in `/scim/v2`).
    var scimBaseURL: URL { get }

    func listKeys() async throws -> [SCIMKey]
    /// Creates a key. `knownKeys`: the zone's keys as just listed, if the caller has them (saves a List call for
    /// the lost-reply check); nil lists them first.
    func createKey(lifetime: TimeSpan?, knownKeys: [SCIMKey]?) async throws -> CreatedKey
    /// Sets the status; a key already in that status is not an error. Only called where the cloud's traits say
    /// ``ProviderTraits/canDisable``.
    func setStatus(of keyId: String, to status: KeyStatus) async throws
    /// Deletes the key; returns false when it was already gone.
    @discardableResult func deleteKey(_ keyId: String) async throws -> Bool
    func syncStatus() async throws -> SyncStatus
    func setSyncStatus(_ status: SyncStatus) async throws
}

extension SCIMKeyProvider {
    public func createKey(lifetime: TimeSpan?) async throws -> CreatedKey {
        try await createKey(lifetime: lifetime, knownKeys: nil)
    }
}

/// An access key for a cloud API, read from the environment, never from argv or a policy file.
public struct CloudCredentials: Sendable {
    public var accessKeyId: String
    public var secret: Secret
    public var token: Secret?

    public init(accessKeyId: String, secret: Secret, token: Secret? = nil) {
        self.accessKeyId = accessKeyId
        self.secret = secret
        self.token = token
    }

    /// The names of the environment variables that hold an access key.
    public struct EnvironmentNames: Sendable, Hashable, Codable {
        public var idEnv: String
        public var secretEnv: String
        public var tokenEnv: String?

        public init(idEnv: String, secretEnv: String, tokenEnv: String?) {
            self.idEnv = idEnv
            self.secretEnv = secretEnv
            self.tokenEnv = tokenEnv
        }
    }

    public struct MissingError: Error, CustomStringConvertible, Sendable {
        public var variable: String
        public var description: String {
            "environment variable \(variable) is not set or empty: export the cloud access key there "
                + "(policies name variables, never values)"
        }
    }

    /// Reads the access key from `environment` under `names`.
    public static func fromEnvironment(
        _ names: EnvironmentNames,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> CloudCredentials {
        guard let id = environment[names.idEnv], !id.isEmpty else { throw MissingError(variable: names.idEnv) }
        guard let secret = environment[names.secretEnv], !secret.isEmpty else {
            throw MissingError(variable: names.secretEnv)
        }
        let token = names.tokenEnv.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : Secret($0) }
        return CloudCredentials(accessKeyId: id, secret: Secret(secret), token: token)
    }
}
