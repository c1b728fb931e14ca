import Foundation
@_spi(Testing) import PostgresHistory
@_spi(Testing) import RotationHistory
import SCIMRotatorCore
import Testing

/// Leases on the real server: takeover only once the lease expired by the database's clock, a new epoch on every
/// takeover, and a journal write of a holder that lost its lease refused in its own transaction.
@Suite(
    "PostgreSQL leases",
    .enabled(if: Backend.postgresConfigured, "\(Backend.skipMessage)"),
    .serialized
)
struct PostgresLeaseTests {
    static func key(_ id: String) -> KeyRecord {
        KeyRecord(policy: "p", keyId: id, role: .other, firstSeen: Date(timeIntervalSince1970: 1_800_000_000))
    }

    static func write(_ id: String) -> JournalWrite {
        JournalWrite(
            keys: [key(id)],
            events: [
                NewEvent(
                    policy: "p",
                    provider: .tencent,
                    zone: "z-aaaaaaaaaaaa",
                    kind: .keyDiscovered,
                    keyId: id,
                    actor: .scheduler,
                    reason: "test"
                )
            ]
        )
    }

    /// Waits until the database's clock is past `instant` (a loaded machine's sleeps say nothing about it).
    static func waitPast(_ instant: Date, on store: PostgresHistoryStore) async throws {
        while try await store.databaseNow() <= instant { try await Task.sleep(for: .milliseconds(100)) }
    }

    @Test("a live lease is not taken over; once it expires by the database's clock it is, in a new epoch")
    func takeoverAfterExpiry() async throws {
        let store = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        let before = try await store.databaseNow()
        // A TTL no loaded machine outlives between these statements (8 s did, under the full suite).
        let first = try #require(try await store.acquireLease(policy: "p", holder: "a", ttl: 300))
        let after = try await store.databaseNow()
        #expect(first.epoch == 1 && first.holder == "a" && first.previousHolder == nil && first.newEpoch)
        // The expiry is the server's clock plus the TTL.
        #expect(
            first.expiresAt >= before.addingTimeInterval(299.99) && first.expiresAt <= after.addingTimeInterval(300.01)
        )
        #expect(try await store.acquireLease(policy: "p", holder: "b", ttl: 300) == nil)
        // The holder itself extends its live lease without a new epoch (here to a short one, which then runs out).
        let again = try #require(try await store.acquireLease(policy: "p", holder: "a", ttl: 3))
        #expect(again.epoch == 1 && !again.newEpoch && again.previousHolder == "a")
        // Other policies are independent.
        #expect(try await store.acquireLease(policy: "q", holder: "b", ttl: 8)?.epoch == 1)
        try await Self.waitPast(again.expiresAt, on: store)
        let taken = try #require(try await store.acquireLease(policy: "p", holder: "b", ttl: 30))
        #expect(taken.epoch == 2 && taken.holder == "b")
        #expect(taken.previousHolder == "a" && !taken.previousReleased && taken.newEpoch)
        let renewal = await #expect(throws: LeaseLost.self) { try await store.renewLease(again, ttl: 30) }
        #expect(renewal?.description.contains("policy p") == true)
        #expect(try await store.leases().map(\.holder) == ["b", "b"])
    }

    @Test("a released lease is taken at once by the next holder, and recorded as a clean hand-over")
    func release() async throws {
        let store = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        let first = try #require(try await store.acquireLease(policy: "p", holder: "a", ttl: 30))
        try await store.releaseLease(first)
        let second = try #require(try await store.acquireLease(policy: "p", holder: "b", ttl: 30))
        #expect(second.epoch == 2 && second.previousHolder == "a" && second.previousReleased)
        // A stale holder's release does nothing to the new holder's lease.
        try await store.releaseLease(first)
        #expect(try await store.acquireLease(policy: "p", holder: "a", ttl: 30) == nil)
        let renewed = try await store.renewLease(second, ttl: 60)
        #expect(renewed.expiresAt > second.expiresAt)
    }

    @Test("holders racing for a free lease: exactly one gets it")
    func race() async throws {
        let url = try await Backend.freshDatabase()
        let stores = [try await PostgresHistoryStore.open(url), try await PostgresHistoryStore.open(url)]
        let winners = try await withThrowingTaskGroup(of: Lease?.self) { group in
            for holder in 0..<12 {
                group.addTask {
                    try await stores[holder % 2].acquireLease(policy: "p", holder: "h\(holder)", ttl: 30)
                }
            }
            var won: [Lease] = []
            for try await lease in group { if let lease { won.append(lease) } }
            return won
        }
        #expect(winners.count == 1)
        #expect(winners.first?.epoch == 1)
    }

    @Test("a stale holder's journal write is refused in its transaction and records nothing")
    func fencedWrite() async throws {
        let url = try await Backend.freshDatabase()
        let old = try await PostgresHistoryStore.open(url)
        let new = try await PostgresHistoryStore.open(url)
        let lease = try #require(try await old.acquireLease(policy: "p", holder: "a", ttl: 20))
        try await LeaseFence.withFence(lease.fence) {
            try await old.record(Self.write("k1"), at: Date())
        }
        let headBefore = try #require(try await old.head())
        try await Self.waitPast(lease.expiresAt, on: old)
        // Expired, not yet taken over: already refused (the database's clock says the lease is over).
        await #expect(throws: LeaseLost.self) {
            try await LeaseFence.withFence(lease.fence) { try await old.record(Self.write("k2"), at: Date()) }
        }
        let taken = try #require(try await new.acquireLease(policy: "p", holder: "b", ttl: 30))
        #expect(taken.epoch == 2)
        let lost = await #expect(throws: LeaseLost.self) {
            try await LeaseFence.withFence(lease.fence) { try await old.record(Self.write("k3"), at: Date()) }
        }
        #expect(lost?.fence == lease.fence)
        #expect(try await old.head()! == headBefore)
        #expect(try await old.keys(policy: "p").map(\.keyId) == ["k1"])
        // The new holder writes; a write without a fence (SQLite's way, one node) is not checked.
        try await LeaseFence.withFence(taken.fence) { try await new.record(Self.write("k4"), at: Date()) }
        // A fence of another holder with the right epoch is refused too.
        await #expect(throws: LeaseLost.self) {
            try await LeaseFence.withFence(LeaseFence(policy: "p", holder: "a", epoch: 2)) {
                try await old.record(Self.write("k5"), at: Date())
            }
        }
        #expect(try await new.keys(policy: "p").map(\.keyId).sorted() == ["k1", "k4"])
        #expect(try await new.verifyChain().firstBroken == nil)
    }

    @Test("a takeover waits for a write its holder was allowed to start, so the next holder reads it")
    func takeoverWaitsForAllowedWrite() async throws {
        let url = try await Backend.freshDatabase()
        let old = try await PostgresHistoryStore.open(url)
        let new = try await PostgresHistoryStore.open(url)
        let lease = try #require(try await old.acquireLease(policy: "p", holder: "a", ttl: 12))
        // Holds the fence's share lock for a while after the lease expired.
        try await old.unsafeExecute(
            "CREATE FUNCTION slow_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(16); RETURN NEW; END $$"
        )
        try await old.unsafeExecute(
            "CREATE TRIGGER slow BEFORE INSERT ON keys FOR EACH ROW EXECUTE FUNCTION slow_key()"
        )
        let written = Task {
            try await LeaseFence.withFence(lease.fence) { _ = try await old.record(Self.write("k1"), at: Date()) }
        }
        try await Self.waitPast(lease.expiresAt, on: new)
        let taken = try #require(try await new.acquireLease(policy: "p", holder: "b", ttl: 30))
        try await written.value
        #expect(taken.epoch == 2)
        #expect(try await new.keys(policy: "p").map(\.keyId) == ["k1"])
    }

    @Test("replicas: a heartbeat lists the live ones; a withdrawn or silent one drops out")
    func replicas() async throws {
        let store = try await PostgresHistoryStore.open(try await Backend.freshDatabase())
        #expect(try await store.heartbeat(replica: "a", ttl: 30).map(\.id) == ["a"])
        let c = try await store.heartbeat(replica: "c", ttl: 20).first { $0.id == "c" }
        #expect(try await store.heartbeat(replica: "b", ttl: 30).map(\.id) == ["a", "b", "c"])
        try await store.withdraw(replica: "a")
        try await Self.waitPast(try #require(c).expiresAt, on: store)
        #expect(try await store.heartbeat(replica: "b", ttl: 30).map(\.id) == ["b"])
    }

    @Test("a change one process announces reaches another that listens (LISTEN/NOTIFY)")
    func notifications() async throws {
        let url = try await Backend.freshDatabase()
        let listening = try await PostgresHistoryStore.open(url)
        let announcing = try await PostgresHistoryStore.open(url)
        let (heard, hear) = AsyncStream.makeStream(of: String.self)
        let listener = Task {
            defer { hear.finish() }  // a listener that fails ends the wait below instead of hanging it
            try await listening.listenForChanges { hear.yield($0) }
        }
        defer { listener.cancel() }
        // Announced until heard: the listener's LISTEN may not be in place yet.
        let announcer = Task {
            for _ in 0..<100 {
                try await announcing.announceChange(policy: "p7")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { announcer.cancel() }
        var iterator = heard.makeAsyncIterator()
        #expect(await iterator.next() == "p7")
    }

    @Test("the daemon's role takes, renews and releases leases with the documented grants")
    func daemonGrants() async throws {
        let owner = try await PostgresHistoryStore.open(try #require(Backend.ownerURL))
        try await owner.unsafeExecute(
            "GRANT UPDATE ON rotations, keys, sinks, policy_state, leases, replicas TO scim_daemon"
        )
        try await owner.unsafeExecute("GRANT DELETE ON replicas TO scim_daemon")
        let daemon = try await PostgresHistoryStore.open(try #require(Backend.daemonURL))
        let holder = "grants-\(UUID().uuidString)"
        let lease = try #require(try await daemon.acquireLease(policy: holder, holder: holder, ttl: 30))
        try await LeaseFence.withFence(lease.fence) {
            _ = try await daemon.record(JournalWrite(policyState: PolicyState(policy: holder)), at: Date())
        }
        _ = try await daemon.renewLease(lease, ttl: 30)
        try await daemon.releaseLease(lease)
        _ = try await daemon.heartbeat(replica: holder, ttl: 30)
        try await daemon.withdraw(replica: holder)
    }
}
