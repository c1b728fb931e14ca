import Foundation
import Logging
import RotationHistory
import ServiceLifecycle

/// A daemon replica's heartbeat in the database (PostgreSQL replicas): announces it alive for one lease TTL, every
/// third of it, and learns who else is; looks again just after another replica's heartbeat would expire, so that
/// its policies move here within the TTL and a fraction of a second. On graceful shutdown it withdraws, and the
/// others take its policies at once. Meanwhile it listens for the changes other processes announce (LISTEN/NOTIFY:
/// a command's rotation, a takeover) and wakes the scheduler for each.
public struct ReplicaHeartbeat: Service {
    public let leases: ReplicaLeases

    public init(_ leases: ReplicaLeases) { self.leases = leases }

    public func run() async {
        let listener = Task { [leases] in await leases.listen() }
        defer { listener.cancel() }
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let next = await beat()
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .milliseconds(Int64(next * 1_000)))
            }
        }
        do {
            try await leases.store.withdraw(replica: leases.replica)
        } catch {
            leases.logger.warning("cannot withdraw this replica; its heartbeat expires by itself")
        }
    }

    /// One heartbeat; returns the seconds until the next one.
    @discardableResult
    public func beat() async -> Double {
        let ttl = leases.ttl
        let sent = ContinuousClock.now
        do {
            let live = try await leases.store.heartbeat(replica: leases.replica, ttl: ttl)
            leases.update(live.map(\.id), at: sent)
            guard let mine = live.first(where: { $0.id == leases.replica }) else { return ttl / 3 }
            // The database's "now" is our own expiry minus the TTL: time left for each other replica.
            let now = mine.expiresAt.addingTimeInterval(-ttl)
            let soonest = live.filter { $0.id != leases.replica }.map { $0.expiresAt.timeIntervalSince(now) }.min()
            return max(0.05, min(ttl / 3, (soonest ?? ttl) + 0.1))
        } catch {
            leases.logger.warning("heartbeat failed; retrying", metadata: ["error": "\(error)"])
            return min(1, ttl / 3)
        }
    }
}
