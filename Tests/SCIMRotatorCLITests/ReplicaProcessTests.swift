import Foundation
@_spi(Testing) import PostgresHistory
import RotationHistory
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Daemon replicas as real processes: the emulator (every cloud call slowed down, so a rotation lasts seconds) and
/// one PostgreSQL history shared by two `daemon` processes with a short lease.
@Suite(
    "Daemon replicas on PostgreSQL",
    .enabled(
        if: ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL"] != nil,
        "PostgreSQL cases skipped: SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL is not set (scripts/test.sh starts a server)"
    ),
    .serialized
)
struct ReplicaProcessTests {
    static let ttl = 4.0
    static let zones = (1...6).map { "z-replica0000\($0)" }

    /// An emulator serving six zones, each cloud call `latency` ms late, and six policies, one per zone.
    final class Fleet {
        let directory: String
        let emulator: Process
        let url: String
        let database: String
        var daemons: [String: Process] = [:]

        init(latency: Int) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("replicas-\(UUID())").path
            try FileManager.default.createDirectory(atPath: directory + "/policies", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
            let zoneList = ReplicaProcessTests.zones.joined(separator: ", ")
            try """
            tencent:
              accounts:
                - {secretId: AKIDreplica0000000001, secretKey: replicaKey, zones: [\(zoneList)]}
              zones:
            \(ReplicaProcessTests.zones.map { "    - {id: \($0)}" }.joined(separator: "\n"))
            latencyMs: \(latency)
            """.write(toFile: directory + "/emulator.yaml", atomically: true, encoding: .utf8)
            let (process, out, _) = CLI.process(["emulator", "--port", "0", "--config", directory + "/emulator.yaml"])
            try process.run()
            emulator = process
            var text = ""
            out.read(into: &text, until: { $0.contains("\n") }, deadline: Date().addingTimeInterval(60))
            let info = try JSONSerialization.jsonObject(with: Data(text.prefix { $0 != "\n" }.utf8))
            url = try #require((info as? [String: Any])?["url"] as? String)
            for (index, zone) in ReplicaProcessTests.zones.enumerated() {
                try """
                provider: tencent
                zone: \(zone)
                endpoint: \(url)
                rotation: {keyLifetime: 90d, rotateBefore: 30d}
                deliver:
                  - file: {path: \(directory)/out/p\(index + 1).token}
                """.write(toFile: "\(directory)/policies/p\(index + 1).yaml", atomically: true, encoding: .utf8)
            }
            let admin = try #require(ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL"])
            database = try await PostgresHistoryStore.unsafeFreshDatabase(adminURL: admin)
        }

        var environment: [String: String] {
            ["TENCENTCLOUD_SECRET_ID": "AKIDreplica0000000001", "TENCENTCLOUD_SECRET_KEY": "replicaKey"]
        }

        /// Starts `daemon --replica-id NAME`, its log in DIRECTORY/NAME.log.
        func start(_ name: String, ttl: Double = ReplicaProcessTests.ttl) throws {
            let log = "\(directory)/\(name).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = [
                "daemon", "--policies", directory + "/policies", "--db", database, "--replica-id", name,
                "--lease-ttl", "\(Int(ttl))s", "--log-format", "json",
            ]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardError = process.standardOutput
            process.standardInput = FileHandle.nullDevice
            try process.run()
            daemons[name] = process
        }

        func log(_ name: String) -> String {
            (try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? ""
        }

        /// Waits until the daemon's log contains `text` (polled every 50 ms: quicker than the history), up to
        /// `seconds`.
        func waitForLog(_ name: String, _ text: String, _ seconds: Double) async throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if log(name).contains(text) { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        func signal(_ name: String, _ signal: Int32) {
            if let pid = daemons[name]?.processIdentifier { kill(pid, signal) }
        }

        func events(_ kinds: [EventKind] = []) async throws -> [HistoryEvent] {
            let store = try await PostgresHistoryStore.open(database, readOnly: true)
            defer { Task { await store.close() } }
            return try await store.events(EventFilter(kinds: kinds))
        }

        /// Waits until `done` holds for the history's events, up to `seconds`.
        func waitFor(
            _ seconds: Double,
            _ what: String,
            _ done: ([HistoryEvent]) -> Bool
        ) async throws -> [HistoryEvent] {
            let deadline = Date().addingTimeInterval(seconds)
            while true {
                let events = (try? await self.events()) ?? []
                if done(events) { return events }
                if Date() > deadline {
                    Issue.record("timed out waiting for \(what); events: \(events.map { "\($0.policy) \($0.kind)" })")
                    return events
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        func zoneKeyCounts() throws -> [Int] {
            let semaphore = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var data: Data?
            URLSession.shared.dataTask(with: URL(string: url + "/_emulator/state")!) { body, _, _ in
                data = body
                semaphore.signal()
            }.resume()
            semaphore.wait()
            let state = try JSONSerialization.jsonObject(with: data ?? Data("{}".utf8)) as? [String: Any]
            let zones = state?["zones"] as? [[String: Any]] ?? []
            return zones.map { ($0["keys"] as? [[String: Any]] ?? []).count }
        }

        deinit {
            for process in daemons.values where process.isRunning {
                kill(process.processIdentifier, SIGCONT)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            emulator.terminate()
            emulator.waitUntilExit()
        }
    }

    static func count(_ events: [HistoryEvent], _ kind: EventKind, _ policy: String) -> Int {
        events.filter { $0.kind == kind && $0.policy == policy }.count
    }

    static var policies: [String] { (1...zones.count).map { "p\($0)" } }

    @Test("two daemons split the policies and each policy rotates exactly once")
    func split() async throws {
        let fleet = try await Fleet(latency: 50)
        try fleet.start("A")
        try fleet.start("B")
        let events = try await fleet.waitFor(90, "every policy's first rotation") { events in
            Self.policies.allSatisfy { Self.count(events, .rotationCompleted, $0) == 1 }
        }
        // Both replicas settle on their share: wait for the rebalance, then look at the last holders.
        try await Task.sleep(for: .seconds(Self.ttl))
        let after = try await fleet.events()
        for policy in Self.policies {
            #expect(Self.count(after, .rotationStarted, policy) == 1, "\(policy) rotated more than once")
        }
        var holders: [String: String] = [:]
        for event in after where event.kind == .leaseAcquired {
            holders[event.policy] = event.detail?.contains("\"holder\":\"A\"") == true ? "A" : "B"
        }
        #expect(Set(holders.values) == ["A", "B"], "\(holders)")
        // status shows each policy's lease.
        let status = try CLI.run(
            ["status", "--policies", fleet.directory + "/policies", "--db", fleet.database],
            environment: fleet.environment
        )
        #expect(status.stdout.components(separatedBy: "  lease: ").count == Self.policies.count + 1, "\(status.stdout)")
        #expect(try fleet.zoneKeyCounts().allSatisfy { $0 <= 2 })
        _ = events
    }

    @Test("a holder frozen mid-rotation longer than its lease: the other takes over, the thawed one is fenced")
    func freeze() async throws {
        // Each cloud call takes 6 s: A is frozen while its CreateSCIMCredential is on the wire (the rotation was
        // journaled just before it), even when this test process is starved for seconds on a loaded machine. The
        // default lease TTL (30 s) leaves a 6 s call its deadline.
        let ttl = 30.0
        let fleet = try await Fleet(latency: 6_000)
        try fleet.start("A", ttl: ttl)
        #expect(try await fleet.waitForLog("A", "\"rotation.started\"", 90), "A started no rotation")
        fleet.signal("A", SIGSTOP)
        let frozenAt = Date()
        try fleet.start("B", ttl: ttl)
        let takeover = try await fleet.waitFor(ttl * 3 + 30, "B's takeover") { events in
            events.contains { $0.kind == .leaseLost }
        }
        let failover = Date().timeIntervalSince(frozenAt)
        #expect(takeover.contains { $0.kind == .leaseLost })
        // Counted from the freeze, so it includes B's own start-up, which a loaded machine (the whole suite in
        // parallel) stretches to many seconds; the lease runs out TTL after A's last renewal. The kill -9 test holds
        // the TTL + 1 s target with both replicas running.
        #expect(failover < ttl + 30, "took over \(failover) s after the freeze")
        // Frozen for longer than the lease, then thawed.
        try await Task.sleep(for: .seconds(ttl))
        fleet.signal("A", SIGCONT)
        _ = try await fleet.waitFor(240, "every policy's rotation") { events in
            Self.policies.allSatisfy { Self.count(events, .rotationCompleted, $0) == 1 }
        }
        try await Task.sleep(for: .seconds(ttl))
        let after = try await fleet.events()
        for policy in Self.policies {
            #expect(Self.count(after, .rotationStarted, policy) == 1, "\(policy) rotated more than once")
            #expect(Self.count(after, .rotationCompleted, policy) == 1)
        }
        #expect(try fleet.zoneKeyCounts().allSatisfy { $0 <= 2 }, "a zone exceeded the key limit")
        #expect(fleet.log("A").contains("lost the lease"), "the thawed replica was not fenced")
        let store = try await PostgresHistoryStore.open(fleet.database, readOnly: true)
        #expect(try await store.verifyChain().firstBroken == nil)
        print("failover after a freeze: \(String(format: "%.2f", failover)) s (lease TTL \(ttl) s)")
    }

    @Test("kill -9 of a replica: the other takes its policies within the lease TTL and a second")
    func killNine() async throws {
        let fleet = try await Fleet(latency: 20)
        try fleet.start("A")
        try fleet.start("B")
        _ = try await fleet.waitFor(90, "every policy's first rotation") { events in
            Self.policies.allSatisfy { Self.count(events, .rotationCompleted, $0) == 1 }
        }
        try await Task.sleep(for: .seconds(Self.ttl + 1))
        let before = try await fleet.events([.leaseAcquired]).count
        fleet.signal("B", SIGKILL)
        let killedAt = Date()
        let after = try await fleet.waitFor(Self.ttl * 3, "A to take B's policies") { events in
            events.filter { $0.kind == .leaseAcquired }.count > before
        }
        let failover = Date().timeIntervalSince(killedAt)
        let first = try #require(after.filter { $0.kind == .leaseAcquired }.dropFirst(before).first)
        #expect(first.detail?.contains("\"holder\":\"A\"") == true)
        #expect(failover <= Self.ttl + 1, "took \(failover) s")
        print("failover after kill -9: \(String(format: "%.2f", failover)) s (lease TTL \(Self.ttl) s)")
    }
}
