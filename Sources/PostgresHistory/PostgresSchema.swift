import Foundation
import Logging
import PostgresNIO
import RotationHistory

/// The PostgreSQL history's schema: numbered migrations, each applied once in its own transaction under a
/// transaction-scoped advisory lock (replicas starting together do not migrate twice), recorded in
/// `schema_version`.
///
/// The same history as SQLite's: `events` is append-only (a trigger rejects UPDATE, DELETE and TRUNCATE, whoever
/// asks) and hash-chained by ``HashChain``; `prev_hash` is UNIQUE, so two appenders that raced past the chain lock
/// could not both link to one record. The journal's records (rotations, keys, sinks, policy state) are stored as
/// JSON beside the columns their queries use. The role the daemon connects as needs SELECT and INSERT on every
/// table, UPDATE on the journal's and on `leases` and `replicas`, and DELETE on `replicas` (never UPDATE or DELETE
/// on `events`); see deploy/README.md.
enum PostgresSchema {
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// The advisory lock key (with the schema's name hashed as the second half) of migrations and chain appends.
    static let lockClass: Int32 = 0x5343_524F  // "SCRO", like SQLite's application_id

    static let versionTable = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
        """

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "v1: history and journal",
            statements: [
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                """
                CREATE TABLE events (
                    seq BIGINT PRIMARY KEY CHECK (seq > 0), time TEXT COLLATE "C" NOT NULL, policy TEXT NOT NULL,
                    provider TEXT NOT NULL, zone TEXT NOT NULL, rotation_id TEXT, kind TEXT NOT NULL, key_id TEXT,
                    actor TEXT NOT NULL, reason TEXT, request_id TEXT, detail TEXT,
                    prev_hash TEXT COLLATE "C" NOT NULL UNIQUE, hash TEXT COLLATE "C" NOT NULL)
                """,
                "CREATE INDEX events_policy_time ON events (policy, time)",
                "CREATE INDEX events_kind_time ON events (kind, time)",
                "CREATE INDEX events_time ON events (time)",
                "CREATE INDEX events_rotation ON events (rotation_id)",
                """
                CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'events are append-only (% rejected)', TG_OP USING ERRCODE = 'SR001';
                END $$
                """,
                """
                CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
                    FOR EACH ROW EXECUTE FUNCTION events_append_only()
                """,
                """
                CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
                    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()
                """,
                """
                CREATE TABLE rotations (
                    id TEXT PRIMARY KEY, policy TEXT NOT NULL, state TEXT NOT NULL,
                    started_at TIMESTAMPTZ NOT NULL, record JSONB NOT NULL)
                """,
                "CREATE INDEX rotations_policy_state ON rotations (policy, state)",
                """
                CREATE TABLE keys (
                    policy TEXT NOT NULL, key_id TEXT NOT NULL, first_seen TIMESTAMPTZ NOT NULL,
                    record JSONB NOT NULL, PRIMARY KEY (policy, key_id))
                """,
                """
                CREATE TABLE sinks (
                    policy TEXT NOT NULL, sink TEXT NOT NULL, record JSONB NOT NULL, PRIMARY KEY (policy, sink))
                """,
                "CREATE TABLE policy_state (policy TEXT PRIMARY KEY, record JSONB NOT NULL)",
            ]
        ),
        Migration(
            version: 2,
            name: "v2: leases of replicas",
            statements: [
                // One lease per policy; expires_at is on the database's clock; epoch grows on every takeover.
                """
                CREATE TABLE leases (
                    policy TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL CHECK (epoch > 0),
                    expires_at TIMESTAMPTZ NOT NULL, acquired_at TIMESTAMPTZ NOT NULL,
                    released BOOLEAN NOT NULL DEFAULT false)
                """,
                // The replicas alive now (a heartbeat each): what policies are shared out among.
                "CREATE TABLE replicas (replica TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL)",
            ]
        ),
    ]

    static var latest: Int { migrations.last?.version ?? 0 }

    /// The schema version in the database; 0 when it has none yet.
    static func version(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let exists =
            try await connection.query(
                "SELECT to_regclass('schema_version') IS NOT NULL",
                logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return 0 }
        return try await connection.query("SELECT coalesce(max(version), 0) FROM schema_version", logger: logger)
            .collect().first?.decode(Int.self) ?? 0
    }

    /// Applies the missing migrations; the first one also stores a new random fingerprint key.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        for migration in migrations {
            // Replicas starting together: the one that waited for the lock may have looked the tables up before
            // the other created them (a stale catalog cache in its transaction) and fail on a duplicate; a new
            // transaction sees them.
            for attempt in 1...3 {
                do {
                    try await apply(migration, client, logger: logger)
                    break
                } catch let error as PostgresTransactionError where attempt < 3 && isDuplicate(error) {
                    continue
                }
            }
        }
    }

    static func isDuplicate(_ error: PostgresTransactionError) -> Bool {
        let state = (error.closureError as? PSQLError)?.serverInfo?[.sqlState]
        return state == "42P07" || state == "42710" || state == "23505"
    }

    static func apply(_ migration: Migration, _ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(lockClass), hashtext('migrate'))",
                logger: logger
            )
            guard try await version(on: connection, logger: logger) < migration.version else { return }
            try await connection.query(PostgresQuery(unsafeSQL: versionTable), logger: logger)
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            if migration.version == 1 {
                var random = SystemRandomNumberGenerator()
                let key = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
                try await connection.query(
                    """
                    INSERT INTO meta (key, value) VALUES ('fingerprintKey', \(key.base64EncodedString())),
                        ('createdBy', 'scim-rotator')
                    """,
                    logger: logger
                )
            }
            try await connection.query(
                "INSERT INTO schema_version (version, name) VALUES (\(migration.version), \(migration.name))",
                logger: logger
            )
        }
    }
}
