import Foundation
import Logging
import PostgresNIO
import RotationHistory

/// Leases (``LeaseStore``): one row per policy in `leases`, every expiry computed and compared on the database's
/// clock (`clock_timestamp()`, the server's time at the statement, not at the start of its transaction), never a
/// replica's. A takeover happens in one transaction that locks the row, so two replicas never both take it; the
/// fence check of a journal write (``checkFence(_:on:)``) holds a share lock on the row until COMMIT, so a takeover
/// waits for a write that was allowed, and a write after the takeover is refused.
extension PostgresHistoryStore: LeaseStore {
    public func acquireLease(policy: String, holder: String, ttl: Double) async throws -> Lease? {
        let millis = Self.millis(ttl)
        return try await transaction { connection -> Lease? in
            let rows = try await connection.query(
                """
                SELECT holder, epoch, expires_at > clock_timestamp(), released FROM leases
                WHERE policy = \(policy) FOR UPDATE
                """,
                logger: self.logger
            ).collect()
            guard let row = rows.first else {
                let inserted = try await connection.query(
                    """
                    INSERT INTO leases (policy, holder, epoch, expires_at, acquired_at)
                    VALUES (\(policy), \(holder), 1, clock_timestamp() + \(millis) * interval '1 millisecond',
                            clock_timestamp())
                    ON CONFLICT (policy) DO NOTHING
                    RETURNING epoch, expires_at
                    """,
                    logger: self.logger
                ).collect()
                return try inserted.first.map { row in
                    let (epoch, expires) = try row.decode((Int64, Date).self)
                    return Lease(policy: policy, holder: holder, epoch: epoch, expiresAt: expires, newEpoch: true)
                }
            }
            let (previous, epoch, live, released) = try row.decode((String, Int64, Bool, Bool).self)
            let held = live && !released
            if held && previous != holder { return nil }
            // A live lease of this holder is extended; anything else is a takeover, in a new epoch.
            let next = held ? epoch : epoch + 1
            let updated = try await connection.query(
                """
                UPDATE leases SET holder = \(holder), epoch = \(next), released = false,
                    expires_at = clock_timestamp() + \(millis) * interval '1 millisecond',
                    acquired_at = CASE WHEN \(held) THEN acquired_at ELSE clock_timestamp() END
                WHERE policy = \(policy)
                RETURNING expires_at
                """,
                logger: self.logger
            ).collect()
            guard let expires = try updated.first?.decode(Date.self) else { return nil }
            return Lease(
                policy: policy,
                holder: holder,
                epoch: next,
                expiresAt: expires,
                previousHolder: previous,
                previousReleased: released,
                newEpoch: !held
            )
        }
    }

    public func renewLease(_ lease: Lease, ttl: Double) async throws -> Lease {
        let millis = Self.millis(ttl)
        let rows = try await run {
            try await client.query(
                """
                UPDATE leases SET expires_at = clock_timestamp() + \(millis) * interval '1 millisecond'
                WHERE policy = \(lease.policy) AND holder = \(lease.holder) AND epoch = \(lease.epoch)
                    AND NOT released AND expires_at > clock_timestamp()
                RETURNING expires_at
                """,
                logger: logger
            ).collect()
        }
        guard let expires = try rows.first?.decode(Date.self) else {
            throw LeaseLost(lease.fence, why: "it expired or another replica took it over before the renewal")
        }
        var renewed = lease
        renewed.expiresAt = expires
        renewed.newEpoch = false
        return renewed
    }

    public func releaseLease(_ lease: Lease) async throws {
        _ = try await run {
            try await client.query(
                """
                UPDATE leases SET released = true, expires_at = least(expires_at, clock_timestamp())
                WHERE policy = \(lease.policy) AND holder = \(lease.holder) AND epoch = \(lease.epoch)
                    AND NOT released
                """,
                logger: logger
            )
        }
    }

    public func leases() async throws -> [Lease] {
        try await run {
            var result: [Lease] = []
            // A released lease's expiry is the moment it was released.
            let rows = try await client.query(
                "SELECT policy, holder, epoch, expires_at FROM leases ORDER BY policy",
                logger: logger
            )
            for try await row in rows {
                let (policy, holder, epoch, expires) = try row.decode((String, String, Int64, Date).self)
                result.append(Lease(policy: policy, holder: holder, epoch: epoch, expiresAt: expires))
            }
            return result
        }
    }

    public func heartbeat(replica: String, ttl: Double) async throws -> [Replica] {
        let millis = Self.millis(ttl)
        return try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO replicas (replica, expires_at)
                VALUES (\(replica), clock_timestamp() + \(millis) * interval '1 millisecond')
                ON CONFLICT (replica) DO UPDATE SET expires_at = excluded.expires_at
                """,
                logger: self.logger
            )
            // Replicas gone for a day are forgotten (a pod's id changes with every restart).
            try await connection.query(
                "DELETE FROM replicas WHERE expires_at < clock_timestamp() - interval '1 day'",
                logger: self.logger
            )
            var live: [Replica] = []
            let rows = try await connection.query(
                "SELECT replica, expires_at FROM replicas WHERE expires_at > clock_timestamp() ORDER BY replica",
                logger: self.logger
            )
            for try await row in rows {
                let (id, expires) = try row.decode((String, Date).self)
                live.append(Replica(id: id, expiresAt: expires))
            }
            return live
        }
    }

    public func withdraw(replica: String) async throws {
        _ = try await run {
            try await client.query(
                "UPDATE replicas SET expires_at = clock_timestamp() WHERE replica = \(replica)",
                logger: logger
            )
        }
    }

    /// The LISTEN/NOTIFY channel of changes.
    static let changes = "scim_rotator_changes"

    public func announceChange(policy: String) async throws {
        _ = try await run {
            try await client.query("SELECT pg_notify(\(Self.changes), \(policy))", logger: logger)
        }
    }

    public func listenForChanges(_ onChange: @escaping @Sendable (String) -> Void) async throws {
        try await run {
            try await client.withConnection { connection in
                try await connection.listen(on: Self.changes) { notifications in
                    for try await notification in notifications { onChange(notification.payload) }
                }
            }
        }
    }

    public func databaseNow() async throws -> Date {
        try await run {
            try await client.query("SELECT clock_timestamp()", logger: logger).collect().first?.decode(Date.self)
                ?? Date()
        }
    }

    /// Inside a journal write's transaction: the write's fence still holds (same policy, holder and epoch, not
    /// released, not expired by the database's clock), and stays so until COMMIT (a share lock on the row, which a
    /// takeover's FOR UPDATE waits for). Throws ``LeaseLost`` otherwise, and the transaction writes nothing.
    func checkFence(_ fence: LeaseFence, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            SELECT 1 FROM leases
            WHERE policy = \(fence.policy) AND holder = \(fence.holder) AND epoch = \(fence.epoch)
                AND NOT released AND expires_at > clock_timestamp()
            FOR SHARE
            """,
            logger: logger
        ).collect()
        guard !rows.isEmpty else { throw LeaseLost(fence) }
    }

    static func millis(_ seconds: Double) -> Int64 { Int64((max(0, seconds) * 1000).rounded()) }
}
