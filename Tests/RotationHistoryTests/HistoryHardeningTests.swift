import Crypto
import Foundation
import GRDB
@_spi(Testing) import RotationHistory
import SCIMRotatorCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

func mode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int
}

func digest(_ path: String) -> String {
    SHA256.hash(data: FileManager.default.contents(atPath: path) ?? Data()).hexString
}

/// Overwrites the page header of the database's last page (after its WAL was checkpointed): a damaged b-tree page.
func corruptLastPage(_ path: String) throws {
    let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    let pageSize =
        try SQLiteHistoryStore.unsafeConnection(path: path) { db in try Int.fetchOne(db, sql: "PRAGMA page_size") }
        ?? 4_096
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    try handle.seek(toOffset: UInt64(size - pageSize))
    try handle.write(contentsOf: Data(repeating: 0xEE, count: 16))
    try handle.close()
}

@Suite("The history database: files, ownership, integrity, head", .serialized)
struct HistoryHardeningTests {
    func path() -> String { HistoryStoreTests.temporaryPath() }

    /// `events` records in one transaction (one disk sync, so the test does not hold a pool thread for long).
    func fill(_ store: SQLiteHistoryStore, events: Int) async throws {
        try await store.record(
            JournalWrite(
                events: (0..<events).map { index in
                    NewEvent(
                        policy: "p\(index % 7)",
                        provider: .tencent,
                        zone: "z-aaaaaaaaaaaa",
                        kind: .keyCreated,
                        keyId: "k\(index)",
                        actor: .scheduler,
                        reason: String(repeating: "r", count: 200)
                    )
                }
            ),
            at: Date(timeIntervalSince1970: 1_800_000_000)
        )
    }

    @Test("the database, -wal and -shm are created 0600, and a looser existing database is tightened")
    func fileModes() async throws {
        let path = path()
        let store = try SQLiteHistoryStore(path: path)
        try await fill(store, events: 3)
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(mode(file) == 0o600, "\(file): \(String(mode(file) ?? 0, radix: 8))")
        }
        let loose = self.path()
        _ = try SQLiteHistoryStore(path: loose)
        chmod(loose, 0o644)
        _ = try SQLiteHistoryStore(path: loose)
        #expect(mode(loose) == 0o600)
        let lockDirectory = path + ".locks"
        let lock = try await FileLock.acquire(path: lockDirectory + "/p.lock").get()
        #expect(mode(lockDirectory) == 0o700)
        #expect(mode(lock.path) == 0o600)
        withExtendedLifetime(store) {}
    }

    @Test("our databases carry an application_id; another application's database is refused and left untouched")
    func ownership() async throws {
        let ours = path()
        _ = try SQLiteHistoryStore(path: ours)
        let id = try SQLiteHistoryStore.unsafeConnection(path: ours) { db in
            try Int32.fetchOne(db, sql: "PRAGMA application_id")
        }
        #expect(id == SQLiteHistoryStore.applicationID)

        let foreign = path()
        try SQLiteHistoryStore.unsafeConnection(path: foreign) { db in
            try db.execute(
                sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)"
            )
        }
        let before = digest(foreign)
        for readOnly in [false, true] {
            let error = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: foreign, readOnly: readOnly) }
            #expect(error?.description.contains("another application's SQLite database (tables: invoices)") == true)
        }
        #expect(digest(foreign) == before, "not a byte was written")

        let marked = path()
        try SQLiteHistoryStore.unsafeConnection(path: marked) { db in
            try db.execute(sql: "PRAGMA application_id = 1234; CREATE TABLE meta (key TEXT)")
        }
        let other = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: marked) }
        #expect(other?.description.contains("application_id 0x4d2") == true)

        // An empty SQLite file (created by hand) is fine, and becomes ours.
        let empty = path()
        try SQLiteHistoryStore.unsafeConnection(path: empty) { db in try db.execute(sql: "PRAGMA user_version = 0") }
        _ = try SQLiteHistoryStore(path: empty)
        #expect(
            try SQLiteHistoryStore.unsafeConnection(path: empty) {
                try Int32.fetchOne($0, sql: "PRAGMA application_id")
            }
                == SQLiteHistoryStore.applicationID
        )

        // A history written before application ids is still ours.
        let legacy = path()
        let store = try SQLiteHistoryStore(path: legacy)
        try await fill(store, events: 2)
        try store.unsafeExecute("PRAGMA application_id = 0")
        _ = try SQLiteHistoryStore(path: legacy)
        #expect(try await SQLiteHistoryStore(path: legacy).events(EventFilter()).count == 2)
    }

    @Test("a damaged page: the integrity check names it, and a writable open refuses before writing")
    func integrity() async throws {
        let path = path()
        do {
            let store = try SQLiteHistoryStore(path: path)
            try await fill(store, events: 300)
            #expect(try await store.integrityCheck() == ["ok"])
        }
        try SQLiteHistoryStore.unsafeConnection(path: path) { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try corruptLastPage(path)
        let damaged = digest(path)
        let readOnly = try SQLiteHistoryStore(path: path, readOnly: true)
        #expect(try await readOnly.integrityCheck() != ["ok"])
        let refused = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: path) }
        #expect(refused?.description.contains("quick check") == true, "\(String(describing: refused))")
        #expect(refused?.description.contains("nothing was written") == true)
        #expect(digest(path) == damaged)
    }

    @Test("the head is the newest record's sequence number and chain hash")
    func head() async throws {
        let store = try SQLiteHistoryStore()
        #expect(try await store.head() == nil)
        try await fill(store, events: 5)
        let head = try #require(try await store.head())
        #expect(head.seq == 5)
        #expect(head.hash.count == 64)
        #expect(try await store.chainHash(seq: 5) == head.hash)
        #expect(try await store.chainHash(seq: 6) == nil)
        #expect(try await store.verifyChain().firstBroken == nil)
    }
}
