internal import Foundation
internal import RotationHistory

/// A policy's lease as `status` shows it (PostgreSQL replicas): who holds it, or held it last, and until when.
struct LeaseStatus: Encodable {
    var holder: String
    var epoch: Int64
    /// On the database's clock: the end of a live lease, or when the last one ended (released or expired).
    var expiresAt: Date
    var held: Bool

    /// Every policy's lease, by policy; empty for a history without leases (SQLite) or when they cannot be read.
    static func load(_ store: (any HistoryStore)?) async -> [String: LeaseStatus] {
        guard let store = store as? any LeaseStore,
            let leases = try? await store.leases(),
            let now = try? await store.databaseNow()
        else { return [:] }
        var result: [String: LeaseStatus] = [:]
        for lease in leases {
            result[lease.policy] = LeaseStatus(
                holder: lease.holder,
                epoch: lease.epoch,
                expiresAt: lease.expiresAt,
                held: lease.expiresAt > now
            )
        }
        return result
    }

    /// `lease: held by B until 12:00:03Z (epoch 4)` or `lease: free since ... (last holder B, epoch 4)`.
    var line: String {
        let at = HistoryTime.format(expiresAt)
        return held
            ? "  lease: held by \(holder) until \(at) (epoch \(epoch))"
            : "  lease: free since \(at) (last holder \(holder), epoch \(epoch))"
    }
}
