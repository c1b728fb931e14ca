import Crypto
import Foundation
import GRDB
import GRDBSQLite
import SCIMRotatorCore
import Synchronization

/// The history database: SQLite in WAL mode through GRDB (schema and migrations in ``SQLiteSchema``, the file's
/// checks in ``SQLiteFile``), every commit synced, steps written with group commit (``GroupCommit``).
///
/// `events` is append-only (triggers reject UPDATE and DELETE) and hash-chained (``HashChain``), so `audit verify`
/// finds an edited, deleted or reordered row.
public final class SQLiteHistoryStore: HistoryStore {
    let writer: any DatabaseWriter
    public let path: String
    private let groupCommit: GroupCommit
    /// Read once: it never changes.
    private let fingerprint = Mutex<SymmetricKey?>(nil)

    /// `PRAGMA application_id` of scim-rotator's databases.
    public static var applicationID: Int32 { SQLiteSchema.applicationID }

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
            if !readOnly { try SQLiteFile.createPrivately(path) }
            try SQLiteFile.checkOwnership(path: path)
            // Before the pool opens: opening one writes (GRDB makes sure a WAL file exists).
            if !readOnly { try SQLiteFile.quickCheck(path: path, configuration: configuration) }
            writer =
                readOnly
                ? try SQLiteFile.openReadOnly(path: path, configuration: configuration)
                : try DatabasePool(path: path, configuration: configuration)
            try SQLiteSchema.prepare(writer, readOnly: readOnly, path: path)
            if !readOnly { SQLiteFile.keepPrivate(path) }
        } catch let error as HistoryError {
            throw error
        } catch let error as DatabaseError {
            throw SQLiteFile.explain(error, path: path)
        }
        groupCommit = Self.groupCommit(writer, path: path)
    }

    /// A private in-memory database, for tests.
    public init(inMemory: Void = ()) throws {
        path = ":memory:"
        writer = try DatabaseQueue()
        try SQLiteSchema.prepare(writer, readOnly: false, path: path)
        groupCommit = Self.groupCommit(writer, path: path)
    }

    static func groupCommit(_ writer: any DatabaseWriter, path: String) -> GroupCommit {
        GroupCommit(
            writer: writer,
            fail: { error in (error as? DatabaseError).map { SQLiteFile.explain($0, path: path) } ?? error },
            write: { db, batch in write(batch, db: db, path: path) }
        )
    }

    func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError {
            throw SQLiteFile.explain(error, path: path)
        }
    }

    // MARK: Writing

    public func fingerprintKey() async throws -> SymmetricKey {
        if let key = fingerprint.withLock({ $0 }) { return key }
        let text = try await run {
            try await writer.read { db in
                try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'fingerprintKey'")
            }
        }
        guard let text, let data = Data(base64Encoded: text) else {
            throw HistoryError("\(path): the fingerprint key is missing; the database is damaged")
        }
        let key = SymmetricKey(data: data)
        fingerprint.withLock { $0 = key }
        return key
    }

    /// Writes the step (and its events, chained) atomically and durably, sharing a transaction and a sync with the
    /// steps recorded at the same moment; returns once it is on disk.
    @discardableResult
    public func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent] {
        try await groupCommit.record(write, at: now)
    }

    /// Writes a batch of journal steps in the current transaction, each in its own savepoint.
    static func write(
        _ batch: [(JournalWrite, Date)],
        db: Database,
        path: String
    ) -> [Result<[HistoryEvent], any Error>] {
        batch.map { write, now in
            do {
                var recorded: [HistoryEvent] = []
                try db.inSavepoint {
                    if let rotation = write.rotation { try rotation.save(db) }
                    for key in write.keys { try key.save(db) }
                    for sink in write.sinks { try sink.save(db) }
                    if let state = write.policyState { try state.save(db) }
                    if !write.events.isEmpty {
                        let last = try Row.fetchOne(
                            db.cachedStatement(sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
                        )
                        recorded = HashChain.chain(write.events, after: last.map { ($0["seq"], $0["hash"]) }, at: now)
                        for event in recorded { try event.insert(db) }
                    }
                    return .commit
                }
                return .success(recorded)
            } catch let error as DatabaseError {
                return .failure(SQLiteFile.explain(error, path: path))
            } catch {
                return .failure(error)
            }
        }
    }

    // MARK: Reading

    // The journal's reads run on every step of every pass: cached statements (compiled once per connection),
    // not the query interface (which builds and authorizes the SQL on every call).

    public func activeRotation(policy: String) async throws -> RotationRecord? {
        try await run {
            try await writer.read { db in
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

    public func rotation(id: String) async throws -> RotationRecord? {
        try await run {
            try await writer.read { db in
                try RotationRecord.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM rotations WHERE id = ?"),
                    arguments: [id]
                )
            }
        }
    }

    public func keys(policy: String) async throws -> [KeyRecord] {
        try await run {
            try await writer.read { db in
                try KeyRecord.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM keys WHERE policy = ? ORDER BY firstSeen"),
                    arguments: [policy]
                )
            }
        }
    }

    public func sinks(policy: String) async throws -> [SinkRecord] {
        try await run {
            try await writer.read { db in
                try SinkRecord.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM sinks WHERE policy = ? ORDER BY sink"),
                    arguments: [policy]
                )
            }
        }
    }

    public func policyState(policy: String) async throws -> PolicyState {
        try await run {
            try await writer.read { db in
                try PolicyState.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM policyState WHERE policy = ?"),
                    arguments: [policy]
                )
            } ?? PolicyState(policy: policy)
        }
    }

    public func policyStates() async throws -> [PolicyState] {
        try await run { try await writer.read { db in try PolicyState.fetchAll(db) } }
    }

    public func events(_ filter: EventFilter) async throws -> [HistoryEvent] {
        try await run {
            try await writer.read { db in
                var request = HistoryEvent.all()
                if let policy = filter.policy { request = request.filter(Column("policy") == policy) }
                if let since = filter.since { request = request.filter(Column("time") >= HistoryTime.format(since)) }
                if let until = filter.until { request = request.filter(Column("time") < HistoryTime.format(until)) }
                if !filter.kinds.isEmpty {
                    request = request.filter(filter.kinds.map(\.rawValue).contains(Column("kind")))
                }
                if let rotationId = filter.rotationId { request = request.filter(Column("rotationId") == rotationId) }
                if let seqs = filter.seqs { request = request.filter(seqs.contains(Column("seq"))) }
                if let limit = filter.limit {
                    return try request.order(Column("seq").desc).limit(limit).fetchAll(db).reversed()
                }
                return try request.order(Column("seq")).fetchAll(db)
            }
        }
    }

    /// The newest record's sequence number and chain hash: the head an operator anchors elsewhere.
    public func head() async throws -> (seq: Int64, hash: String)? {
        try await run {
            try await writer.read { db in
                try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").map {
                    (seq: $0["seq"], hash: $0["hash"])
                }
            }
        }
    }

    /// The chain hash recorded for record `seq`; nil when there is no such record.
    public func chainHash(seq: Int64) async throws -> String? {
        try await run {
            try await writer.read { db in
                try String.fetchOne(db, sql: "SELECT hash FROM events WHERE seq = ?", arguments: [seq])
            }
        }
    }

    /// Walks the chain in `seq` order and recomputes every hash. It reads the columns' bytes straight from SQLite
    /// (no `Row`, no `String` per field): a million records take about a second.
    public func verifyChain() async throws -> ChainVerification {
        try await run {
            try await writer.read { db in
                let columns = HashChain.columns.joined(separator: ", ")
                let statement = try db.makeStatement(
                    sql: "SELECT seq, \(columns), prevHash, hash FROM events ORDER BY seq"
                )
                let fieldColumns = Array(Int32(1)...Int32(HashChain.columns.count))
                let prevColumn = Int32(HashChain.columns.count + 1)
                let handle = statement.sqliteStatement
                func bytes(_ column: Int32) -> UnsafeRawBufferPointer? {
                    guard sqlite3_column_type(handle, column) != SQLITE_NULL else { return nil }
                    let pointer = sqlite3_column_blob(handle, column)
                    return UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(handle, column)))
                }
                var verifier = HashChain.Verifier()
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
                    if let broken = verifier.check(
                        seq: sqlite3_column_int64(handle, 0),
                        fields: fieldColumns.map(bytes),
                        prevHash: bytes(prevColumn),
                        hash: bytes(prevColumn + 1)
                    ) {
                        return ChainVerification(checked: verifier.checked, firstBroken: broken)
                    }
                }
                return ChainVerification(checked: verifier.checked, firstBroken: nil)
            }
        }
    }

    /// SQLite's full integrity check (every page, every index against its table): `["ok"]`, or up to `limit`
    /// problems.
    public func integrityCheck(limit: Int = 20) async throws -> [String] {
        try await run {
            try writer.unsafeRead { db in try SQLiteFile.checkRows(db, pragma: "integrity_check(\(max(1, limit)))") }
        }
    }
}

// MARK: Test hooks

extension SQLiteHistoryStore {
    /// Holds the database's write lock while `body` runs (tests of a locked database: another process writing).
    @_spi(Testing)
    public func unsafeHoldingWriteLock(_ body: @Sendable () throws -> Void) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('lockProbe', 'held')")
            try body()
        }
    }

    /// Runs raw SQL in a transaction, for tests that tamper with the database on purpose.
    @_spi(Testing)
    public func unsafeExecute(_ sql: String) throws {
        try writer.write { db in try db.execute(sql: sql) }
    }

    /// The writer connection's `PRAGMA synchronous` (2 is FULL).
    @_spi(Testing)
    public var synchronousMode: Int {
        get throws {
            try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        }
    }

    /// How many transactions ``record(_:at:)`` has written.
    @_spi(Testing)
    public var recordBatches: Int { groupCommit.batches }

    /// Runs `body` on a connection of its own to the file at `path`, outside any store, closed before this returns
    /// (tests that edit a file behind the store's back). It waits for a lock as the stores do: a store a test let go
    /// of closes its connections in the background, and the last one checkpoints the WAL under an exclusive lock.
    @_spi(Testing)
    public static func unsafeConnection<T>(path: String, _ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.inDatabase(body)
    }
}
