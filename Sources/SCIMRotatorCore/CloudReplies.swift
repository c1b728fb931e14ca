import Foundation

// What every cloud's provider does the same way with the replies of its actions: read a key, read the sync status,
// treat a key already gone as deleted.

extension SCIMKey {
    /// A key from the fields a cloud reports for it. `parseTime` reads the cloud's time format (`text`, `field`);
    /// an unknown status is an `.unexpectedReply` of `action`.
    public init(
        reportedId id: String,
        status: String,
        statusField: String = "Status",
        createTime: String,
        expireTime: String,
        type: String?,
        action: String,
        requestId: String? = nil,
        parseTime: (_ text: String, _ field: String) throws -> Date
    ) throws {
        guard let known = KeyStatus(rawValue: status) else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "unknown \(statusField) \"\(status)\"",
                requestId: requestId
            )
        }
        self.init(
            id: id,
            status: known,
            createdAt: try parseTime(createTime, "CreateTime"),
            expiresAt: try parseTime(expireTime, "ExpireTime"),
            type: type ?? "BearerToken"
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
