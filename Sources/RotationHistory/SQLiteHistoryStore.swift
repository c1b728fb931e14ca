import Crypto
import Foundation
import GRDB
import GRDBSQLite
import SCIMRotatorCore
import Synchronization

/// A problem with the history database, phrased for the operator: what, where, and what to do.
public struct HistoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The history database: SQLite in WAL mode through GRDB, with migrations, a busy timeout and transactions.
///
/// `events` is append-only (triggers reject UPDATE and DELETE) and hash-chained: every record carries the SHA-256 of
/// the previous record's hash and its own fields, so `audit verify` finds an edited, deleted or reordered row.
public final class SQLiteHistoryStore: HistoryStore {
    struct QueuedSteps: ~Copyable {
        var steps: [(write: JournalWrite, now: Date, continuation: CheckedContinuation<[HistoryEvent], any Error>)] = []
        var writerScheduled = false
        /// Transactions written by ``record(_:at:)`` so far (tests check that concurrent steps share them).
        var batches = 0
    }

    let writer: any DatabaseWriter
    public let path: String
    private let queued = Mutex(QueuedSteps())
    private let writerQueue = DispatchQueue(label: "scim-rotator.history-writer")

    /// `PRAGMA application_id` of scim-rotator's databases ("SCRO"): `file` and operators can tell them apart, and
    /// scim-rotator refuses to add its tables to another application's database.
    public static let applicationID: Int32 = 0x5343_524F

    /// Opens (creating and migrating) the database at `path`; `readOnly` opens an existing one for queries only.
    ///
    /// The database and its `-wal` and `-shm` files are created 0600 and kept so (the database holds the fingerprint
    /// key). A database that is not scim-rotator's is refused before anything is written to it. A writable open runs
    /// SQLite's quick check first and refuses a database that fails it. A read-only open of a database this user
    /// cannot write (a backup, a snapshot, a read-only mount) falls back to reading it as immutable.
    public init(path: String, readOnly: Bool = false, busyTimeout: Double = 10) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty,
            !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue
        {
            throw HistoryError("\(path): the directory \(directory) does not exist; create it or pass another --db")
        }
        if readOnly, !FileManager.default.fileExists(atPath: path) {
            throw HistoryError(
                "\(path): no history database here yet; it is created by reconcile, rotate or daemon (or pass --db)"
            )
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "scim-rotator"
        do {
            if !readOnly { try DatabaseFiles.createPrivately(path) }
            try Self.checkOwnership(path: path)
            // Before the pool opens: opening one writes (GRDB makes sure a WAL file exists).
            if !readOnly { try Self.quickCheck(path: path, configuration: configuration) }
            writer =
                readOnly
                ? try Self.openReadOnly(path: path, configuration: configuration)
                : try DatabasePool(path: path, configuration: configuration)
            try Self.prepare(writer, readOnly: readOnly, path: path)
            if !readOnly { DatabaseFiles.keepPrivate(path) }
        } catch let error as HistoryError {
            throw error
        } catch let error as DatabaseError {
            throw Self.explain(error, path: path)
        }
    }

    /// Opens read-only; when that fails because SQLite cannot create the `-shm` file it needs for WAL (the directory
    /// or the file is read-only to this user), opens the file as immutable instead: read exactly as it is on disk.
    static func openReadOnly(path: String, configuration: Configuration) throws -> DatabaseQueue {
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        } catch let error as DatabaseError
            where [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM].contains(error.resultCode)
            && sqlite3_compileoption_used("USE_URI") == 1
        {
            var allowed = CharacterSet.urlPathAllowed
            allowed.remove(charactersIn: "?#%")
            let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
            let queue = try DatabaseQueue(path: "file:\(encoded)?immutable=1", configuration: configuration)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        }
    }

    /// Refuses a database that belongs to another application, before anything is written to it: its
    /// `application_id` is someone else's, or it has tables and they are not scim-rotator's. An empty or new file is
    /// fine, and so is a scim-rotator database from before application ids (it gets one on its next writable open).
    static func checkOwnership(path: String) throws {
        guard let header = DatabaseFiles.header(path), header.count >= 100,
            header.starts(with: Array("SQLite format 3\u{0}".utf8))
        else { return }  // new, empty, or not SQLite at all (SQLite itself says so)
        let id = header[68..<72].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
        if id == applicationID { return }
        if id != 0 {
            throw HistoryError(
                "\(path) is another application's SQLite database (application_id 0x\(String(UInt32(bitPattern: id), radix: 16))), not a scim-rotator history; nothing was written to it. Point --db at a file of its own (a new path is created)"
            )
        }
        var configuration = Configuration()
        configuration.readonly = true
        guard
            let tables = try? DatabaseQueue(path: path, configuration: configuration).read({ db in
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            })
        else { return }  // cannot look inside: opening it says why
        let ours: Set = ["grdb_migrations", "meta", "events"]
        if tables.isEmpty || ours.isSubset(of: Set(tables)) { return }
        let shown = tables.prefix(8).joined(separator: ", ") + (tables.count > 8 ? ", ..." : "")
        throw HistoryError(
            "\(path) is another application's SQLite database (tables: \(shown)), not a scim-rotator history; nothing was written to it. Point --db at a file of its own (a new path is created)"
        )
    }

    /// SQLite's quick check on a read-only connection, before anything is written: a damaged database is never
    /// written to. A new (empty) file passes.
    static func quickCheck(path: String, configuration: Configuration) throws {
        guard (DatabaseFiles.header(path)?.count ?? 0) > 0 else { return }
        var readOnly = configuration
        readOnly.readonly = true
        let problems = try DatabaseQueue(path: path, configuration: readOnly).unsafeRead { db in
            try checkRows(db, pragma: "quick_check(5)")
        }
        guard problems != ["ok"] else { return }
        throw HistoryError(
            "\(path) fails SQLite's quick check (\(problems.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") }.joined(separator: "; "))): it is damaged, and nothing was written to it. Restore it from a backup; `scim-rotator audit verify` shows what is still readable"
        )
    }

    /// SQLite's full integrity check (every page, every index against its table): `["ok"]`, or up to `limit`
    /// problems.
    public func integrityCheck(limit: Int = 20) throws -> [String] {
        try run { try writer.unsafeRead { db in try Self.checkRows(db, pragma: "integrity_check(\(max(1, limit)))") } }
    }

    /// The rows of a checking pragma; SQLite may report the damage as rows and then fail the statement with
    /// SQLITE_CORRUPT, which becomes the last row here instead of an error. (Run outside a transaction: a read
    /// transaction's COMMIT would fail on the same damage.)
    static func checkRows(_ db: Database, pragma: String) throws -> [String] {
        var rows: [String] = []
        do {
            let cursor = try String.fetchCursor(db, sql: "PRAGMA \(pragma)")
            while let row = try cursor.next() { rows.append(row) }
        } catch let error as DatabaseError
            where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
        {
            rows.append(error.message ?? "database disk image is malformed")
        }
        return rows
    }

    /// The newest record's sequence number and chain hash: the head an operator anchors elsewhere.
    public func head() throws -> (seq: Int64, hash: String)? {
        try run {
            try writer.read { db in
                try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").map {
                    (seq: $0["seq"], hash: $0["hash"])
                }
            }
        }
    }

    /// The chain hash recorded for record `seq`; nil when there is no such record.
    public func chainHash(seq: Int64) throws -> String? {
        try run {
            try writer.read { db in
                try String.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [seq])
            }
        }
    }

    /// A private in-memory database, for tests.
    public init(inMemory: Void = ()) throws {
        path = ":memory:"
        writer = try DatabaseQueue()
        try Self.prepare(writer, readOnly: false, path: path)
    }

    static func explain(_ error: DatabaseError, path: String) -> HistoryError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return HistoryError(
                "\(path) is not a scim-rotator history database, or it is corrupted (SQLite: \(error.message ?? "\(error.resultCode)")); restore it from a backup or move it aside"
            )
        case .SQLITE_READONLY:
            return HistoryError(
                "\(path) is read-only for this user; scim-rotator must be able to write its history (check the file and directory permissions)"
            )
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return HistoryError(
                "\(path) cannot be opened (\(error.message ?? "\(error.resultCode)")); check that the path is a file this user can read and write"
            )
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return HistoryError(
                "\(path) is locked by another process; retry, or find what holds it (another scim-rotator?)"
            )
        case .SQLITE_FULL:
            return HistoryError("\(path): the disk is full; free space, nothing was recorded for the last step")
        default:
            return HistoryError("\(path): SQLite error \(error.resultCode): \(error.message ?? "")")
        }
    }

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
        return migrator
    }

    static func prepare(_ writer: any DatabaseWriter, readOnly: Bool, path: String) throws {
        let migrator = Self.migrator
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

    /// The writer connection's `PRAGMA synchronous` (2 is FULL), for tests.
    var synchronousMode: Int {
        get throws {
            try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        }
    }

    func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw Self.explain(error, path: path)
        }
    }

    // MARK: HistoryStore

    public func fingerprintKey() throws -> SymmetricKey {
        try run {
            let text = try writer.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'fingerprintKey'")
            }
            guard let text, let data = Data(base64Encoded: text) else {
                throw HistoryError("\(path): the fingerprint key is missing; the database is damaged")
            }
            return SymmetricKey(data: data)
        }
    }

    @discardableResult
    public func commit(_ write: JournalWrite, at now: Date) throws -> [HistoryEvent] {
        try writeBatch([(write, now)])[0].get()
    }

    /// Group commit without blocking: the step joins a queue, and one serial writer takes everything queued so far
    /// and writes it in one transaction (a savepoint per step, so one step's failure is its caller's alone) with one
    /// sync, while the callers are suspended. Alone, a step is written at once; under load, the disk syncs once per
    /// batch instead of once per step, and no thread of the concurrency pool waits on the disk.
    @discardableResult
    public func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent] {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = queued.withLock { queue in
                queue.steps.append((write, now, continuation))
                defer { queue.writerScheduled = true }
                return !queue.writerScheduled
            }
            if startWriter { writerQueue.async { self.drain() } }
        }
    }

    /// How many transactions ``record(_:at:)`` has written.
    var recordBatches: Int { queued.withLock { $0.batches } }

    /// Writes every queued step in one batch; runs on `writerQueue` only.
    private func drain() {
        let batch = queued.withLock { queue in
            defer {
                queue.steps = []
                queue.writerScheduled = false
                queue.batches += 1
            }
            return queue.steps
        }
        guard !batch.isEmpty else { return }
        let results = writeBatch(batch.map { ($0.write, $0.now) })
        for (step, result) in zip(batch, results) { step.continuation.resume(with: result) }
    }

    /// Writes a batch of journal steps in one transaction, each in its own savepoint.
    private func writeBatch(_ batch: [(JournalWrite, Date)]) -> [Result<[HistoryEvent], any Error>] {
        var results: [Result<[HistoryEvent], any Error>] = []
        do {
            try writer.write { db in
                results = []
                for (write, now) in batch {
                    var recorded: [HistoryEvent] = []
                    do {
                        try db.inSavepoint {
                            if let rotation = write.rotation { try rotation.save(db) }
                            for key in write.keys { try key.save(db) }
                            for sink in write.sinks { try sink.save(db) }
                            if let state = write.policyState { try state.save(db) }
                            recorded = try Self.append(write.events, at: now, db: db)
                            return .commit
                        }
                        results.append(.success(recorded))
                    } catch let error as DatabaseError {
                        results.append(.failure(Self.explain(error, path: path)))
                    } catch {
                        results.append(.failure(error))
                    }
                }
            }
            return results
        } catch {
            // The transaction itself failed (disk full, locked past the busy timeout): nothing in it was recorded.
            let failure = (error as? DatabaseError).map { Self.explain($0, path: path) } ?? error
            return batch.map { _ in .failure(failure) }
        }
    }

    static func append(_ events: [NewEvent], at now: Date, db: Database) throws -> [HistoryEvent] {
        guard !events.isEmpty else { return [] }
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        var seq: Int64 = last?["seq"] ?? 0
        var prevHash: String = last?["hash"] ?? ""
        let time = HistoryTime.format(now)
        var recorded: [HistoryEvent] = []
        for event in events {
            seq += 1
            var record = HistoryEvent(
                seq: seq,
                time: time,
                policy: event.policy,
                provider: event.provider.rawValue,
                zone: event.zone,
                rotationId: event.rotationId,
                kind: event.kind.rawValue,
                keyId: event.keyId,
                actor: event.actor.rawValue,
                reason: event.reason,
                requestId: event.requestId,
                detail: event.detail.isEmpty ? nil : Self.detailJSON(event.detail),
                prevHash: prevHash,
                hash: ""
            )
            record.hash = chainHash(record)
            try record.insert(db)
            prevHash = record.hash
            recorded.append(record)
        }
        return recorded
    }

    static func detailJSON(_ detail: [String: String]) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// SHA-256 over the previous hash and every field, each length-prefixed so that no two records encode alike:
    /// `prevHash "\n" (len ":" field ";" | "-;")*`, fields in the order of ``chainFields``.
    public static func chainHash(_ event: HistoryEvent) -> String {
        chainHash(
            prevHash: event.prevHash,
            fields: [
                String(event.seq), event.time, event.policy, event.provider, event.zone, event.rotationId, event.kind,
                event.keyId, event.actor, event.reason, event.requestId, event.detail,
            ]
        )
    }

    static func chainHash(prevHash: String, fields: [String?]) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        buffer.append(contentsOf: prevHash.utf8)
        buffer.append(UInt8(ascii: "\n"))
        for field in fields { appendField(field?.utf8, to: &buffer) }
        return SHA256.hash(data: buffer).hexString
    }

    /// One field of the chain encoding: `len ":" bytes ";"`, or `-;` for NULL.
    static func appendField<Field: Collection<UInt8>>(_ bytes: Field?, to buffer: inout [UInt8]) {
        guard let bytes else {
            buffer.append(contentsOf: "-;".utf8)
            return
        }
        buffer.append(contentsOf: String(bytes.count).utf8)
        buffer.append(UInt8(ascii: ":"))
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: ";"))
    }

    // The journal's reads run on every step of every pass: cached statements (compiled once per connection),
    // not the query interface (which builds and authorizes the SQL on every call).

    public func activeRotation(policy: String) throws -> RotationRecord? {
        try run {
            try writer.read { db in
                try RotationRecord.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT * FROM rotations WHERE policy = ? AND state NOT IN ('completed', 'failed', 'blocked')
                            ORDER BY startedAt DESC LIMIT 1
                            """
                    ),
                    arguments: [policy]
                )
            }
        }
    }

    public func rotation(id: String) throws -> RotationRecord? {
        try run {
            try writer.read { db in
                try RotationRecord.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM rotations WHERE id = ?"),
                    arguments: [id]
                )
            }
        }
    }

    public func keys(policy: String) throws -> [KeyRecord] {
        try run {
            try writer.read { db in
                try KeyRecord.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM keys WHERE policy = ? ORDER BY firstSeen"),
                    arguments: [policy]
                )
            }
        }
    }

    public func sinks(policy: String) throws -> [SinkRecord] {
        try run {
            try writer.read { db in
                try SinkRecord.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM sinks WHERE policy = ? ORDER BY sink"),
                    arguments: [policy]
                )
            }
        }
    }

    public func policyState(policy: String) throws -> PolicyState {
        try run {
            try writer.read { db in
                try PolicyState.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM policyState WHERE policy = ?"),
                    arguments: [policy]
                )
            } ?? PolicyState(policy: policy)
        }
    }

    public func policyStates() throws -> [PolicyState] {
        try run { try writer.read { db in try PolicyState.fetchAll(db) } }
    }

    public func events(_ filter: EventFilter) throws -> [HistoryEvent] {
        try run {
            try writer.read { db in
                var request = HistoryEvent.all()
                if let policy = filter.policy { request = request.filter(Column("policy") == policy) }
                if let since = filter.since { request = request.filter(Column("time") >= HistoryTime.format(since)) }
                if let until = filter.until { request = request.filter(Column("time") < HistoryTime.format(until)) }
                if !filter.kinds.isEmpty { request = request.filter(filter.kinds.contains(Column("kind"))) }
                if let rotationId = filter.rotationId { request = request.filter(Column("rotationId") == rotationId) }
                if let limit = filter.limit {
                    return try request.order(Column("seq").desc).limit(limit).fetchAll(db).reversed()
                }
                return try request.order(Column("seq")).fetchAll(db)
            }
        }
    }

    /// Walks the chain in `seq` order and recomputes every hash. It reads the columns' bytes straight from SQLite
    /// (no `Row`, no `String` per field): a million records take about a second.
    public func verifyChain() throws -> ChainVerification {
        try run {
            try writer.read { db in
                let statement = try db.makeStatement(
                    sql: """
                        SELECT seq, time, policy, provider, zone, rotationId, kind, keyId, actor, reason, requestId,
                               detail, prevHash, hash
                        FROM events ORDER BY seq
                        """
                )
                let handle = statement.sqliteStatement
                func bytes(_ column: Int32) -> UnsafeRawBufferPointer? {
                    guard sqlite3_column_type(handle, column) != SQLITE_NULL else { return nil }
                    let pointer = sqlite3_column_blob(handle, column)
                    return UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(handle, column)))
                }
                var checked = 0
                var prevHash: [UInt8] = []
                var computed: [UInt8] = []
                var buffer: [UInt8] = []
                buffer.reserveCapacity(1_024)
                var expectedSeq: Int64 = 1
                defer { sqlite3_reset(handle) }
                while true {
                    let code = sqlite3_step(handle)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else {
                        throw DatabaseError(
                            resultCode: ResultCode(rawValue: code),
                            message: String(cString: sqlite3_errmsg(db.sqliteConnection))
                        )
                    }
                    checked += 1
                    let seq = sqlite3_column_int64(handle, 0)
                    if seq != expectedSeq {
                        return ChainVerification(
                            checked: checked,
                            firstBroken: (seq, "sequence jumps from \(expectedSeq - 1) to \(seq): records were deleted")
                        )
                    }
                    guard let storedPrev = bytes(12), storedPrev.elementsEqual(prevHash) else {
                        return ChainVerification(
                            checked: checked,
                            firstBroken: (
                                seq,
                                "its link to record \(seq - 1) does not match: a record before it was changed or removed"
                            )
                        )
                    }
                    buffer.removeAll(keepingCapacity: true)
                    buffer.append(contentsOf: prevHash)
                    buffer.append(UInt8(ascii: "\n"))
                    Self.appendField(String(seq).utf8, to: &buffer)
                    for column: Int32 in 1...11 { Self.appendField(bytes(column), to: &buffer) }
                    computed.removeAll(keepingCapacity: true)
                    SHA256.hash(data: buffer).appendHex(to: &computed)
                    guard let hash = bytes(13), hash.elementsEqual(computed) else {
                        return ChainVerification(
                            checked: checked,
                            firstBroken: (seq, "its hash does not match its contents: the record was edited")
                        )
                    }
                    swap(&prevHash, &computed)
                    expectedSeq += 1
                }
                return ChainVerification(checked: checked, firstBroken: nil)
            }
        }
    }

    /// Holds the database's write lock while `body` runs (tests of a locked database: another process writing).
    public func unsafeHoldingWriteLock(_ body: @Sendable () throws -> Void) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('lockProbe', 'held')")
            try body()
        }
    }

    /// Runs raw SQL in a transaction, for tests that tamper with the database on purpose.
    public func unsafeExecute(_ sql: String) throws {
        try writer.write { db in try db.execute(sql: sql) }
    }
}

extension HistoryEvent: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "events"
}

extension RotationRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "rotations"
}

extension KeyRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "keys"
}

extension SinkRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sinks"
}

extension PolicyState: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "policyState"
}
