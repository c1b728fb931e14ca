import Foundation
@_spi(Testing) import RotationHistory
import SCIMRotatorCore
import Testing

@Suite("The history database")
struct HistoryStoreTests {
    static func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("h.sqlite").path
    }

    func event(_ kind: EventKind, policy: String = "p", key: String? = nil) -> NewEvent {
        NewEvent(
            policy: policy,
            provider: .tencent,
            zone: "z-aaaaaaaaaaaa",
            kind: kind,
            keyId: key,
            actor: .scheduler,
            reason: "r",
            detail: ["a": "b"]
        )
    }

    @Test("events are chained and the chain verifies", arguments: Backend.available)
    func chain(_ backend: Backend) async throws {
        let store = try await backend.makeStore()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<20 {
            try await store.record(
                JournalWrite(events: [event(.keyCreated, key: "k\(index)")]),
                at: start.addingTimeInterval(Double(index))
            )
        }
        let events = try await store.events(EventFilter())
        #expect(events.count == 20)
        #expect(events[0].prevHash == "")
        for (a, b) in zip(events, events.dropFirst()) { #expect(b.prevHash == a.hash) }
        #expect(try await store.verifyChain() == ChainVerification(checked: 20, firstBroken: nil))
    }

    @Test("the table is append-only, and an edited or deleted row is found by audit")
    func tamper() async throws {
        let path = Self.temporaryPath()
        let store = try SQLiteHistoryStore(path: path)
        for index in 0..<5 {
            try await store.record(JournalWrite(events: [event(.keyCreated, key: "k\(index)")]), at: Date())
        }
        #expect(throws: (any Error).self) { try store.unsafeExecute("UPDATE events SET reason = 'x' WHERE seq = 3") }
        #expect(throws: (any Error).self) { try store.unsafeExecute("DELETE FROM events WHERE seq = 3") }
        // Someone with the file drops the trigger and edits a row.
        try store.unsafeExecute("DROP TRIGGER events_no_update; UPDATE events SET keyId = 'other' WHERE seq = 3")
        let edited = try await store.verifyChain()
        #expect(edited.firstBroken?.seq == 3)
        #expect(edited.firstBroken?.problem.contains("edited") == true)
        let again = try SQLiteHistoryStore(path: Self.temporaryPath())
        for index in 0..<5 {
            try await again.record(JournalWrite(events: [event(.keyCreated, key: "k\(index)")]), at: Date())
        }
        try again.unsafeExecute("DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 2")
        #expect(try await again.verifyChain().firstBroken?.seq == 3)
        // A row whose link to its predecessor is rewritten is found there; a row with NULL fields (no key, no
        // rotation) verifies like any other.
        let relinked = try SQLiteHistoryStore(path: Self.temporaryPath())
        for index in 0..<5 {
            try await relinked.record(
                JournalWrite(events: [event(.keyCreated, key: index == 1 ? nil : "k\(index)")]),
                at: Date()
            )
        }
        #expect(try await relinked.verifyChain() == ChainVerification(checked: 5, firstBroken: nil))
        try relinked.unsafeExecute("DROP TRIGGER events_no_update; UPDATE events SET prevHash = 'x' WHERE seq = 4")
        let broken = try await relinked.verifyChain()
        #expect(broken.firstBroken?.seq == 4)
        #expect(broken.firstBroken?.problem.contains("link") == true)
    }

    @Test("filters: policy, kinds, time range, most recent N, sequence numbers", arguments: Backend.available)
    func filters(_ backend: Backend) async throws {
        let store = try await backend.makeStore()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<10 {
            try await store.record(
                JournalWrite(events: [event(index % 2 == 0 ? .keyCreated : .keyDeleted, policy: index < 5 ? "a" : "b")]
                ),
                at: start.addingTimeInterval(Double(index) * 60)
            )
        }
        #expect(try await store.events(EventFilter(policy: "a")).count == 5)
        #expect(try await store.events(EventFilter(kinds: [.keyDeleted])).count == 5)
        #expect(
            try await store.events(
                EventFilter(since: start.addingTimeInterval(120), until: start.addingTimeInterval(300))
            )
            .map(\.seq) == [3, 4, 5]
        )
        #expect(try await store.events(EventFilter(limit: 3)).map(\.seq) == [8, 9, 10])
        #expect(try await store.events(EventFilter(seqs: 4...6)).map(\.seq) == [4, 5, 6])
        #expect(try await store.events(EventFilter(policy: "b", seqs: 4...7)).map(\.seq) == [6, 7])
    }

    @Test("journal records round-trip", arguments: Backend.available)
    func journal(_ backend: Backend) async throws {
        let store = try await backend.makeStore()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var rotation = RotationRecord(
            policy: "p",
            provider: .tencent,
            zone: "z",
            trigger: .manual,
            reason: "why",
            oldKeyId: "k0",
            now: now
        )
        rotation.state = .creating
        var key = KeyRecord(policy: "p", keyId: "k1", role: .pending, firstSeen: now)
        key.intent = .abandon
        var state = PolicyState(policy: "p")
        state.failures = 2
        try await store.record(JournalWrite(rotation: rotation, keys: [key], policyState: state), at: now)
        #expect(try await store.activeRotation(policy: "p") == rotation)
        #expect(try await store.keys(policy: "p") == [key])
        #expect(try await store.policyState(policy: "p") == state)
        rotation.state = .completed
        rotation.keysBeforeCreate = ["k0"]
        var sink = SinkRecord(policy: "p", sink: "file:/run/scim/key")
        sink.keyId = "k1"
        sink.deliveredAt = now
        try await store.record(JournalWrite(rotation: rotation, sinks: [sink]), at: now)
        #expect(try await store.activeRotation(policy: "p") == nil)
        #expect(try await store.rotation(id: rotation.id) == rotation)
        #expect(try await store.sinks(policy: "p") == [sink])
        #expect(try await store.policyStates() == [state])
        #expect(try await store.policyState(policy: "other") == PolicyState(policy: "other"))
    }

    @Test("the fingerprint key is random per database and stable across opens")
    func fingerprintKey() async throws {
        let path = Self.temporaryPath()
        let first = try await SQLiteHistoryStore(path: path).fingerprintKey()
        let reopened = try await SQLiteHistoryStore(path: path).fingerprintKey()
        let other = try await SQLiteHistoryStore(path: Self.temporaryPath()).fingerprintKey()
        let secret = Secret("token-value")
        #expect(secret.fingerprint(key: first) == secret.fingerprint(key: reopened))
        #expect(secret.fingerprint(key: first) != secret.fingerprint(key: other))
    }

    @Test("bad databases give a clear message")
    func badDatabases() throws {
        let missingDirectory = "/nonexistent-\(UUID())/h.sqlite"
        let noDirectory = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: missingDirectory) }
        #expect(noDirectory?.description.contains("does not exist") == true)

        let corrupt = Self.temporaryPath()
        try Data(repeating: 0x42, count: 4_096).write(to: URL(fileURLWithPath: corrupt))
        let corrupted = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: corrupt) }
        #expect(corrupted?.description.contains("corrupted") == true)

        let newer = Self.temporaryPath()
        let store = try SQLiteHistoryStore(path: newer)
        try store.unsafeExecute("INSERT INTO grdb_migrations (identifier) VALUES ('v99')")
        let superseded = #expect(throws: HistoryError.self) { try SQLiteHistoryStore(path: newer) }
        #expect(superseded?.description.contains("newer scim-rotator") == true)

        let absent = #expect(throws: HistoryError.self) {
            try SQLiteHistoryStore(path: Self.temporaryPath() + ".none", readOnly: true)
        }
        #expect(absent?.description.contains("no history database") == true)
    }

    @Test("a database locked by another writer waits, then says so")
    func locked() async throws {
        let path = Self.temporaryPath()
        _ = try SQLiteHistoryStore(path: path)
        let holder = try SQLiteHistoryStore(path: path, busyTimeout: 0.2)
        let waiter = try SQLiteHistoryStore(path: path, busyTimeout: 0.2)
        // Another writer holds the lock until the test has seen the error.
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            try? holder.unsafeHoldingWriteLock {
                held.signal()
                release.wait()
            }
            finished.signal()
        }.start()
        while held.wait(timeout: .now()) == .timedOut { try await Task.sleep(nanoseconds: 5_000_000) }
        let error = await #expect(throws: HistoryError.self) {
            try await waiter.record(
                JournalWrite(events: [
                    NewEvent(policy: "p", provider: .tencent, zone: "z", kind: .keyCreated, actor: .manual)
                ]),
                at: Date()
            )
        }
        #expect(error?.description.contains("locked") == true)
        release.signal()
        while finished.wait(timeout: .now()) == .timedOut { try await Task.sleep(nanoseconds: 5_000_000) }
    }

    @Test("a lock file is exclusive between holders and released with its holder")
    func fileLock() async throws {
        let path = Self.temporaryPath() + ".lock"
        var first: FileLock? = try await FileLock.acquire(path: path).get()
        let second = try await FileLock.acquire(path: path, wait: 0.1)
        guard case .failure(let held) = second else {
            Issue.record("a second holder got the lock")
            return
        }
        #expect(held.pid == getpid())
        #expect(first != nil)
        first = nil
        #expect((try? await FileLock.acquire(path: path).get()) != nil)
    }
}
