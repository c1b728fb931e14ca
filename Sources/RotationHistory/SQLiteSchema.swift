import Foundation
import GRDB

/// The SQLite history's schema: migrations (GRDB's migrator, a version per change), and what every writable open
/// sets: `synchronous = FULL` and the `application_id` that marks the file as scim-rotator's.
enum SQLiteSchema {
    /// `PRAGMA application_id` of scim-rotator's databases ("SCRO"): `file` and operators can tell them apart, and
    /// scim-rotator refuses to add its tables to another application's database.
    static let applicationID: Int32 = 0x5343_524F

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY NOT NULL, time TEXT NOT NULL, policy TEXT NOT NULL,
                        provider TEXT NOT NULL, zone TEXT NOT NULL, rotationId TEXT, kind TEXT NOT NULL, keyId TEXT,
                        actor TEXT NOT NULL, reason TEXT, requestId TEXT, detail TEXT, prevHash TEXT NOT NULL,
                        hash TEXT NOT NULL);
                    CREATE INDEX events_policy_time ON events(policy, time);
                    CREATE INDEX events_kind_time ON events(kind, time);
                    CREATE INDEX events_time ON events(time);
                    CREATE INDEX events_rotation ON events(rotationId);
                    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
                    CREATE TABLE rotations (
                        id TEXT PRIMARY KEY NOT NULL, policy TEXT NOT NULL, provider TEXT NOT NULL, zone TEXT NOT NULL,
                        trigger TEXT NOT NULL, reason TEXT, state TEXT NOT NULL, newKeyId TEXT,
                        newKeyFingerprint TEXT, oldKeyId TEXT, deleteOld INTEGER NOT NULL, attempts INTEGER NOT NULL,
                        startedAt DATETIME NOT NULL, updatedAt DATETIME NOT NULL, finishedAt DATETIME, lastError TEXT);
                    CREATE INDEX rotations_policy_state ON rotations(policy, state);
                    CREATE TABLE keys (
                        policy TEXT NOT NULL, keyId TEXT NOT NULL, role TEXT NOT NULL, status TEXT,
                        createdAt DATETIME, expiresAt DATETIME, firstSeen DATETIME NOT NULL, lastSeen DATETIME,
                        promotedAt DATETIME, disabledAt DATETIME, disabledByUs INTEGER NOT NULL, deletedAt DATETIME,
                        fingerprint TEXT, intent TEXT, intentAt DATETIME, rotationId TEXT,
                        PRIMARY KEY (policy, keyId));
                    CREATE TABLE policyState (
                        policy TEXT PRIMARY KEY NOT NULL, failures INTEGER NOT NULL, nextAttemptAt DATETIME,
                        lastError TEXT, lastSuccessAt DATETIME, lastCheckedAt DATETIME, nextCheckAt DATETIME,
                        stuck INTEGER NOT NULL, blocked INTEGER NOT NULL, syncStatus TEXT);
                    """
            )
            var random = SystemRandomNumberGenerator()
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
            try db.execute(
                sql: "INSERT INTO meta (key, value) VALUES ('fingerprintKey', ?), ('createdBy', ?)",
                arguments: [key.base64EncodedString(), "scim-rotator"]
            )
        }
        migrator.registerMigration("v2: manual confirmation") { db in
            try db.execute(
                sql:
                    "ALTER TABLE rotations ADD COLUMN waitingFor TEXT; ALTER TABLE rotations ADD COLUMN confirmedAt DATETIME"
            )
        }
        migrator.registerMigration("v3: what each sink holds, explained keys, the current key's health") { db in
            try db.execute(
                sql: """
                    ALTER TABLE rotations ADD COLUMN keysBeforeCreate TEXT;
                    ALTER TABLE rotations ADD COLUMN consentedRetire TEXT;
                    ALTER TABLE policyState ADD COLUMN currentCheckedAt DATETIME;
                    ALTER TABLE policyState ADD COLUMN currentProblem TEXT;
                    ALTER TABLE policyState ADD COLUMN currentProblemKeyId TEXT;
                    CREATE TABLE sinks (
                        policy TEXT NOT NULL, sink TEXT NOT NULL, keyId TEXT, deliveredAt DATETIME, rotationId TEXT,
                        attemptKeyId TEXT, attemptAt DATETIME, lastError TEXT,
                        PRIMARY KEY (policy, sink));
                    """
            )
        }
        migrator.registerMigration("v4: indexes in sequence order for the documented filters") { db in
            // Every query returns events in `seq` order (the newest N for --limit): an index on (filter, seq) serves
            // it without sorting; the (filter, time) ones could only find the rows.
            try db.execute(
                sql: """
                    CREATE INDEX events_policy_seq ON events(policy, seq);
                    CREATE INDEX events_kind_seq ON events(kind, seq);
                    DROP INDEX events_policy_time;
                    DROP INDEX events_kind_time;
                    """
            )
        }
        return migrator
    }

    static func prepare(_ writer: any DatabaseWriter, readOnly: Bool, path: String) throws {
        let migrator = migrator
        try writer.read { db in
            if try migrator.hasBeenSuperseded(db) {
                let known = try migrator.appliedIdentifiers(db).sorted().joined(separator: ", ")
                throw HistoryError(
                    "\(path) was written by a newer scim-rotator (schema migrations: \(known)); upgrade scim-rotator, or restore the database this version wrote"
                )
            }
        }
        if readOnly {
            let complete = try writer.read { try migrator.hasCompletedMigrations($0) }
            guard complete else {
                throw HistoryError("\(path) is an older or empty history database; run reconcile once to upgrade it")
            }
        } else {
            // GRDB opens WAL databases with synchronous=NORMAL: a commit survives a process crash but may be lost with
            // the machine (power, kernel). The journal records a step before its cloud side effect, so a lost record
            // could hide a key that exists: every commit is synced to disk instead (group commit keeps that cheap).
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // Marks the file as scim-rotator's (checkOwnership has already refused anyone else's).
            try writer.write { db in
                if try Int32.fetchOne(db, sql: "PRAGMA application_id") != applicationID {
                    try db.execute(sql: "PRAGMA application_id = \(applicationID)")
                }
            }
            try migrator.migrate(writer)
        }
    }

}
