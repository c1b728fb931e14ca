import Foundation
@_spi(Testing) import PostgresHistory
@_spi(Testing) import RotationHistory
import SCIMRotatorCore
import Testing

/// What only PostgreSQL has (its trigger, its roles, concurrent replicas) and what both backends must agree on
/// (the same head for the same events, a copy from one to the other).
@Suite(
    "The PostgreSQL history",
    .enabled(if: Backend.postgresConfigured, "\(Backend.skipMessage)"),
    .serialized
)
struct PostgresHistoryTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func step(_ index: Int, policy: String = "p") -> JournalWrite {
        JournalWrite(events: [
            NewEvent(
                policy: policy,
                provider: index % 2 == 0 ? .tencent : .alibaba,
                zone: "z-aaaaaaaaaaaa",
                rotationId: index % 3 == 0 ? "r\(index / 3)" : nil,
                kind: index % 2 == 0 ? .keyCreated : .keyPromoted,
                keyId: index % 5 == 0 ? nil : "k\(index)",
                actor: .scheduler,
                reason: index % 4 == 0 ? nil : "réason \(index) with \"quotes\", ü and 🔑",
                detail: index % 3 == 0 ? [:] : ["sink": "file:/x/\(index)", "a": "b"]
            )
        ])
    }

    static func fill(_ store: any HistoryStore, _ count: Int, from first: Int = 0) async throws {
        for index in first..<(first + count) {
            try await store.record(step(index), at: start.addingTimeInterval(Double(index) * 61.5))
        }
    }

    @Test("the same events give the same records and the same head on SQLite and PostgreSQL")
    func sameHead() async throws {
        let sqlite = try SQLiteHistoryStore()
        let postgres = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        try await Self.fill(sqlite, 40)
        try await Self.fill(postgres, 40)
        let head = try #require(try await sqlite.head())
        #expect(try await postgres.head()! == head)
        #expect(try await postgres.events(EventFilter()) == (try await sqlite.events(EventFilter())))
        #expect(try await postgres.verifyChain() == ChainVerification(checked: 40, firstBroken: nil))
    }

    @Test("events are append-only: UPDATE, DELETE and TRUNCATE are refused; an edit behind the trigger is found")
    func appendOnly() async throws {
        let store = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        try await Self.fill(store, 5)
        for sql in [
            "UPDATE events SET reason = 'x' WHERE seq = 3", "DELETE FROM events WHERE seq = 3", "TRUNCATE events",
        ] {
            let error = await #expect(throws: HistoryError.self) { try await store.unsafeExecute(sql) }
            #expect(error?.description.contains("append-only") == true, "\(sql): \(String(describing: error))")
        }
        #expect(try await store.verifyChain() == ChainVerification(checked: 5, firstBroken: nil))
        // The owner can drop the trigger; the chain still tells.
        try await store.unsafeExecute("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        try await store.unsafeExecute("UPDATE events SET key_id = 'other' WHERE seq = 3")
        let edited = try await store.verifyChain()
        #expect(edited.firstBroken?.seq == 3)
        #expect(edited.firstBroken?.problem.contains("edited") == true)
        try await store.unsafeExecute("DELETE FROM events WHERE seq = 2")
        #expect(try await store.verifyChain().firstBroken?.seq == 3)
    }

    @Test("the daemon's role appends and updates the journal, and may not change events")
    func daemonGrants() async throws {
        let owner = try await PostgresHistoryStore.open(try #require(Backend.ownerURL))
        try await owner.unsafeExecute("GRANT UPDATE ON rotations, keys, sinks, policy_state TO scim_daemon")
        let daemon = try await PostgresHistoryStore.open(try #require(Backend.daemonURL))
        try await Self.fill(daemon, 3)
        var state = PolicyState(policy: "p")
        state.failures = 1
        try await daemon.record(JournalWrite(policyState: state), at: Self.start)
        state.failures = 2
        try await daemon.record(JournalWrite(policyState: state), at: Self.start)
        #expect(try await owner.policyState(policy: "p") == state)
        let secret = Secret("token-value")
        #expect(
            secret.fingerprint(key: try await daemon.fingerprintKey())
                == secret.fingerprint(key: try await owner.fingerprintKey())
        )
        for sql in ["UPDATE events SET reason = 'x' WHERE seq = 1", "DELETE FROM events WHERE seq = 1"] {
            let error = await #expect(throws: HistoryError.self) { try await daemon.unsafeExecute(sql) }
            #expect(error?.description.contains("lacks a privilege") == true, "\(String(describing: error))")
        }
        #expect(try await owner.verifyChain().firstBroken == nil)
    }

    @Test("two stores (two replicas) appending at once keep one chain")
    func concurrentReplicas() async throws {
        let url = try await Backend.freshDatabase()
        let first = try await PostgresHistoryStore.open(url)
        let second = try await PostgresHistoryStore.open(url)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for writer in 0..<8 {
                let store = writer % 2 == 0 ? first : second
                tasks.addTask {
                    for step in 0..<25 {
                        let recorded = try await store.record(
                            Self.step(writer * 100 + step, policy: "p\(writer)"),
                            at: Date()
                        )
                        #expect(recorded.count == 1)
                    }
                }
            }
            try await tasks.waitForAll()
        }
        #expect(try await first.verifyChain() == ChainVerification(checked: 200, firstBroken: nil))
        #expect(try await first.head()! == (try await second.head())!)
        let events = try await second.events(EventFilter())
        #expect(events.map(\.seq) == Array(1...200))
        for writer in 0..<8 {
            #expect(events.filter { $0.policy == "p\(writer)" }.compactMap(\.keyId).count <= 25)
        }
    }

    @Test(
        "a SQLite history copied into PostgreSQL verifies with the same head; again, it continues; another is refused"
    )
    func copy() async throws {
        let sqlite = try SQLiteHistoryStore()
        try await Self.fill(sqlite, 30)
        var rotation = RotationRecord(
            policy: "p",
            provider: .tencent,
            zone: "z",
            trigger: .scheduled,
            reason: nil,
            oldKeyId: nil,
            now: Self.start
        )
        rotation.id = "r1"
        var key = KeyRecord(policy: "p", keyId: "k1", role: .current, firstSeen: Self.start)
        key.fingerprint = "hmac"
        var sink = SinkRecord(policy: "p", sink: "file:/x")
        sink.keyId = "k1"
        var state = PolicyState(policy: "p")
        state.lastSuccessAt = Self.start
        try await sqlite.record(
            JournalWrite(rotation: rotation, keys: [key], sinks: [sink], policyState: state),
            at: Self.start
        )

        let url = try await Backend.freshDatabase()
        let postgres = try await PostgresHistoryStore.open(url)
        let summary = try await HistoryCopy.copy(from: sqlite, to: postgres)
        #expect(summary.copied == 30 && summary.alreadyThere == 0)
        #expect(try await postgres.head()! == (try await sqlite.head())!)
        #expect(try await postgres.verifyChain() == ChainVerification(checked: 30, firstBroken: nil))
        #expect(try await postgres.events(EventFilter()) == (try await sqlite.events(EventFilter())))
        #expect(try await postgres.rotation(id: "r1") == rotation)
        #expect(try await postgres.keys(policy: "p") == [key])
        #expect(try await postgres.sinks(policy: "p") == [sink])
        #expect(try await postgres.policyState(policy: "p") == state)

        // The source goes on; a second copy appends only what is new.
        try await Self.fill(sqlite, 7, from: 30)
        let again = try await HistoryCopy.copy(from: sqlite, to: postgres)
        #expect(again.copied == 7 && again.alreadyThere == 30)
        #expect(try await postgres.head()! == (try await sqlite.head())!)

        // Another history (different times, so different hashes) does not join.
        let other = try SQLiteHistoryStore()
        for index in 0..<40 { try await other.record(Self.step(index), at: Self.start) }
        let refused = await #expect(throws: HistoryError.self) { try await HistoryCopy.copy(from: other, to: postgres) }
        #expect(refused?.description.contains("do not join") == true)
        #expect(try await postgres.head()?.seq == 37)
        // Records that do not continue the chain are refused by the store itself.
        let foreign = try await other.events(EventFilter(seqs: 38...40))
        await #expect(throws: HistoryError.self) { try await postgres.appendChained(foreign) }
    }

    @Test("sessions commit synchronously; the fingerprint key is per database and stable; read-only opens")
    func settings() async throws {
        let url = try await Backend.freshDatabase()
        let missing = await #expect(throws: HistoryError.self) {
            try await PostgresHistoryStore.open(url, readOnly: true)
        }
        #expect(missing?.description.contains("no scim-rotator history") == true)
        #expect(try await PostgresHistoryStore.openExisting(url) == nil)
        let store = try await PostgresHistoryStore.open(url)
        #expect(try await store.unsafeText("SHOW synchronous_commit") == "on")
        let secret = Secret("token-value")
        let key = secret.fingerprint(key: try await store.fingerprintKey())
        let reopened = try await PostgresHistoryStore.open(url, readOnly: true)
        #expect(secret.fingerprint(key: try await reopened.fingerprintKey()) == key)
        let other = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        #expect(secret.fingerprint(key: try await other.fingerprintKey()) != key)
        let readOnly = await #expect(throws: HistoryError.self) { try await Self.fill(reopened, 1) }
        #expect(readOnly?.description.contains("read-only") == true)
    }
}
