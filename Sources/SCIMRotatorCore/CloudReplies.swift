import Foundation

// What every cloud's provider does the same way with the replies of its actions: read a key, read the sync status,
// treat a key already gone as deleted.

/// A key as a cloud's reply describes it, in the field names both clouds use.
public protocol ReportedSCIMKey {
    var CredentialId: String { get }
    var CredentialType: String? { get }
    var CreateTime: String { get }
    var ExpireTime: String { get }
    /// The status field's name (`Status`; `CredentialStatus` in CIC's Create reply) and value.
    var statusField: (name: String, value: String) { get }
}

extension SCIMKey {
    /// A key from a cloud's reply. `parseTime` reads the cloud's time format (`text`, `field`); an unknown status
    /// is an `.unexpectedReply` of `action`.
    public init(
        reported: some ReportedSCIMKey,
        action: String,
        requestId: String? = nil,
        parseTime: (_ text: String, _ field: String) throws -> Date
    ) throws {
        let status = reported.statusField
        guard let known = KeyStatus(rawValue: status.value) else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "unknown \(status.name) \"\(status.value)\"",
                requestId: requestId
            )
        }
        self.init(
            id: reported.CredentialId,
            status: known,
            createdAt: try parseTime(reported.CreateTime, "CreateTime"),
            expiresAt: try parseTime(reported.ExpireTime, "ExpireTime"),
            type: reported.CredentialType ?? "BearerToken"
        )
    }
}

extension SyncStatus {
    /// The status as `GetSCIMSynchronizationStatus` reports it; anything else is an `.unexpectedReply`.
    public init(reported text: String) throws {
        guard let status = SyncStatus(rawValue: text) else {
            throw ProviderError(
                .unexpectedReply,
                action: "GetSCIMSynchronizationStatus",
                message: "unknown SCIMSynchronizationStatus \"\(text)\""
            )
        }
        self = status
    }
}

extension SCIMKeyProvider {
    /// Runs a cloud's Delete: true once deleted, false when the key was already gone (`.keyNotFound`, as terraform
    /// treats it).
    public func deletingKey(_ delete: () async throws -> Void) async throws -> Bool {
        do {
            try await delete()
            return true
        } catch let error as ProviderError where error.kind == .keyNotFound {
            return false
        }
    }
}

extension ProviderError {
    /// Whether an error code names an exceeded limit or quota: how the clouds whose key-count limit answers with an
    /// undocumented code (CloudSSO, CloudIdentity) recognize it.
    public static func namesExceededLimit(_ code: String) -> Bool {
        code.contains("LimitExceeded") || code.contains("QuotaExceeded") || code.contains("Exceed")
    }
}
