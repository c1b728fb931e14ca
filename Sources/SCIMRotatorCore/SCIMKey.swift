import Foundation

/// Whether a SCIM key accepts bearer requests. The raw values are the clouds' own spelling.
public enum KeyStatus: String, Sendable, Codable, CaseIterable {
    case enabled = "Enabled"
    case disabled = "Disabled"
}

/// A SCIM bearer key as a cloud lists it: never the secret.
public struct SCIMKey: Sendable, Hashable, Codable {
    public var id: String
    public var status: KeyStatus
    public var createdAt: Date
    public var expiresAt: Date
    public var type: String

    public init(id: String, status: KeyStatus, createdAt: Date, expiresAt: Date, type: String = "BearerToken") {
        self.id = id
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.type = type
    }

    /// Enabled and not yet expired at `now`: an identity provider can use it.
    public func isUsable(at now: Date) -> Bool {
        status == .enabled && expiresAt > now
    }

    public func isExpired(at now: Date) -> Bool {
        expiresAt <= now
    }
}

/// What CreateSCIMCredential returns: the listed key, and its secret, shown this once.
public struct CreatedKey: Sendable {
    public var key: SCIMKey
    public var secret: Secret
    public var requestId: String?

    public init(key: SCIMKey, secret: Secret, requestId: String?) {
        self.key = key
        self.secret = secret
        self.requestId = requestId
    }
}

/// Whether the zone's identity center accepts SCIM pushes at all.
public enum SyncStatus: String, Sendable, Codable {
    case enabled = "Enabled"
    case disabled = "Disabled"
}
