/// Creating a SCIM key is not idempotent on either cloud (no client token), and the secret is shown only once.
/// When a Create's reply is lost, the zone is listed again: a key that appeared meanwhile was made by the lost call
/// and is reported as `.createdWithoutSecret` (so the rotation abandons it) instead of creating a second one; if none
/// appeared, the create is retried once.
public enum LostReplyGuard {
    public static func create(
        action: String,
        known: [SCIMKey]? = nil,
        list: () async throws -> [SCIMKey],
        create: () async throws -> CreatedKey
    ) async throws -> CreatedKey {
        let listed: [SCIMKey]
        if let known { listed = known } else { listed = try await list() }
        let before = Set(listed.map(\.id))
        var retriedAfterLoss = false
        while true {
            do {
                return try await create()
            } catch let error as ProviderError where error.retryClass == .ambiguous {
                let appeared = try await list().filter { !before.contains($0.id) }
                if let orphan = appeared.max(by: { $0.createdAt < $1.createdAt }) {
                    throw ProviderError(
                        .createdWithoutSecret,
                        action: action,
                        code: error.code,
                        message: "the reply was lost (\(error.kind.rawValue)) but the key was created; "
                            + "its secret cannot be read again",
                        requestId: error.requestId,
                        keyId: orphan.id
                    )
                }
                guard !retriedAfterLoss else { throw error }
                retriedAfterLoss = true
            }
        }
    }
}
