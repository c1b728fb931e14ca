import Foundation
import RotationHistory
import SCIMRotatorCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Benchmarks that run the real `scim-rotator` binary as a child process.
enum ProcessBenchmarks {
    /// An idle daemon with `policies` policies for `seconds`: CPU, peak RSS, and how late its timer fires when a
    /// rotation falls due in the middle of the window.
    static func idleDaemon(binary: String, policies: Int, seconds: Double) async throws -> [Row] {
        let directory = Bench.workDirectory.appendingPathComponent(
            "bench-idle-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory + "/policies", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        var config = "tencent:\n  accounts:\n"
        for index in 0..<policies {
            config +=
                "    - {secretId: AKIDidle\(String(index).leftPadded(6)), secretKey: idleKey\(index), zones: [\(Fleet.zoneId(index))]}\n"
        }
        config += "  zones:\n" + (0..<policies).map { "    - {id: \(Fleet.zoneId($0))}\n" }.joined()
        try config.write(toFile: directory + "/emulator.yaml", atomically: true, encoding: .utf8)
        let (emulator, emulatorOut, _) = try spawn(
            binary,
            ["emulator", "--port", "0", "--config", directory + "/emulator.yaml"],
            environment: ProcessInfo.processInfo.environment
        )
        defer {
            emulator.terminate()
            emulator.waitUntilExit()
        }
        var line = Data()
        while true {
            let byte = emulatorOut.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let info = try JSONSerialization.jsonObject(with: line) as? [String: Any],
            let url = info["url"] as? String
        else {
            throw BenchError("the emulator printed no start-up line")
        }
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.up))
        let dueAt = now.addingTimeInterval(seconds / 2)
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        for index in 0..<policies {
            let expires = index == 0 ? dueAt.addingTimeInterval(30 * 86_400) : now.addingTimeInterval(80 * 86_400)
            post(
                "\(url)/_emulator/zones/\(Fleet.zoneId(index))/keys",
                [
                    "createdAt": now.addingTimeInterval(-10 * 86_400).formatted(Date.ISO8601FormatStyle()),
                    "expiresAt": expires.formatted(Date.ISO8601FormatStyle()),
                ]
            )
            environment["ACCOUNT_\(index)_ID"] = "AKIDidle\(String(index).leftPadded(6))"
            environment["ACCOUNT_\(index)_KEY"] = "idleKey\(index)"
            try """
            provider: tencent
            zone: \(Fleet.zoneId(index))
            endpoint: \(url)
            credentials: {idEnv: ACCOUNT_\(index)_ID, secretEnv: ACCOUNT_\(index)_KEY}
            rotation: {keyLifetime: 90d, rotateBefore: 30d}
            deliver:
              - file: {path: \(directory)/out/idle-\(index).token}
            """.write(
                toFile: "\(directory)/policies/idle-\(String(index).leftPadded(4)).yaml",
                atomically: true,
                encoding: .utf8
            )
        }
        let database = directory + "/history.sqlite"
        let (daemon, _, daemonErr) = try spawn(
            binary,
            [
                "daemon", "--policies", directory + "/policies", "--db", database, "--http", "127.0.0.1:0",
                "--log-format", "json",
            ],
            environment: environment
        )
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        let port = try waitUntilHealthy(daemonErr)
        let startupCPU = cpuSeconds(daemon.processIdentifier)
        try await Task.sleep(for: .seconds(seconds))
        let idleCPU = cpuSeconds(daemon.processIdentifier) - startupCPU
        let rss = peakRSS(daemon.processIdentifier)
        let resident = residentBreakdown(daemon.processIdentifier)
        // The same daemon with one policy: what the binary, its runtime and libraries cost before the policies.
        let single = directory + "/one-policy"
        try FileManager.default.createDirectory(atPath: single, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: "\(directory)/policies/idle-0001.yaml",
            toPath: single + "/idle-0001.yaml"
        )
        let (one, _, oneErr) = try spawn(
            binary,
            [
                "daemon", "--policies", single, "--db", directory + "/one.sqlite", "--http", "127.0.0.1:0",
                "--log-format", "json",
            ],
            environment: environment
        )
        defer {
            one.terminate()
            one.waitUntilExit()
        }
        _ = try waitUntilHealthy(oneErr)
        try await Task.sleep(for: .seconds(2))
        let floor = peakRSS(one.processIdentifier)
        let metrics = String(decoding: get("http://127.0.0.1:\(port)/metrics").1, as: UTF8.self)
        let timerLateness = metrics.split(separator: "\n").first {
            $0.hasPrefix("scim_rotator_timer_lateness_seconds ")
        }
        .flatMap { Double($0.split(separator: " ").last ?? "") }
        let store = try SQLiteHistoryStore(path: database, readOnly: true)
        let started = try await store.events(EventFilter(policy: "idle-0000", kinds: [.rotationStarted])).first?.date
        let lateness = started.map { $0.timeIntervalSince(dueAt) }
        return [
            Row(
                benchmark: "idle daemon, \(policies) policies, \(Int(seconds)) s (one rotation falls due midway)",
                measured: String(
                    format:
                        "%.3f CPU s idle (startup %.2f s), peak RSS %.1f MiB; now: anonymous %.1f, executable %.1f, Swift libraries %.1f, system libraries %.1f MiB",
                    idleCPU,
                    startupCPU,
                    rss,
                    resident.anon,
                    resident.binary,
                    resident.swift,
                    resident.system
                ),
                baseline: String(format: "the same daemon with 1 policy: peak RSS %.1f MiB", floor),
                ratio: String(
                    format: "RSS %.2f× (100 policies / 1); %.4f CPU s per policy-minute",
                    rss / floor,
                    idleCPU / Double(policies) / (seconds / 60)
                ),
                target: "< 0.1 CPU s, < 30 MiB",
                met: idleCPU < 0.1 && rss < 30
            ),
            Row(
                benchmark: "timer lateness when a rotation falls due",
                measured: lateness.map { String(format: "rotation started %.3f s after due", $0) }
                    ?? "no rotation started",
                baseline: timerLateness.map { String(format: "timer fired %.4f s late", $0) } ?? "-",
                ratio: "-",
                target: "< 1 s",
                met: lateness.map { $0 >= -0.001 && $0 < 1 } ?? false
            ),
        ]
    }

    /// History: `count` events, then a filtered query and `audit verify`, through the API and the CLI.
    static func history(binary: String?, count: Int) async throws -> [Row] {
        let directory = Bench.workDirectory.appendingPathComponent(
            "bench-history-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/history.sqlite"
        let store = try SQLiteHistoryStore(path: path)
        let kinds: [EventKind] = [
            .rotationStarted, .keyCreated, .keyVerified, .keyDelivered, .keyPromoted, .rotationCompleted, .keyDisabled,
            .keyDeleted,
        ]
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let batch = 5_000
        let insertStart = ContinuousClock.now
        var written = 0
        while written < count {
            let events = (written..<min(count, written + batch)).map { index in
                NewEvent(
                    policy: "policy-\(String(index % 100).leftPadded(3))",
                    provider: .tencent,
                    zone: "z-bench" + String(index % 100).leftPadded(7),
                    rotationId: "r-\(index / 8)",
                    kind: kinds[(index / 100) % kinds.count],
                    keyId: "scimcred-\(String(index / 8).leftPadded(12))",
                    actor: .scheduler,
                    reason: "benchmark",
                    detail: ["n": String(index)]
                )
            }
            try await store.record(JournalWrite(events: events), at: start.addingTimeInterval(Double(written)))
            written += events.count
        }
        let insertSeconds = (ContinuousClock.now - insertStart).seconds
        func time(_ body: () async throws -> Void) async rethrows -> Double {
            let begin = ContinuousClock.now
            try await body()
            return (ContinuousClock.now - begin).seconds
        }
        var found = 0
        var queries: [Double] = []
        for _ in 0..<5 {
            queries.append(
                try await time {
                    found = try await store.events(
                        EventFilter(policy: "policy-042", kinds: [.rotationCompleted], limit: 100)
                    ).count
                }
            )
        }
        let range = try await time {
            _ = try await store.events(
                EventFilter(
                    since: start.addingTimeInterval(Double(count / 2)),
                    until: start.addingTimeInterval(Double(count / 2 + 3_600)),
                    limit: 1_000
                )
            )
        }
        var verification = ChainVerification(checked: 0, firstBroken: nil)
        let verify = try await time { verification = try await store.verifyChain() }
        var cliQuery = Double.nan
        var cliVerify = Double.nan
        if let binary {
            cliQuery = try await time {
                _ = try run(
                    binary,
                    [
                        "history", "--db", path, "--policy", "policy-042", "--event", "rotation.completed", "--limit",
                        "100", "--format", "json",
                    ]
                )
            }
            cliVerify = try await time { _ = try run(binary, ["audit", "verify", "--db", path]) }
        }
        let median = queries.sorted()[queries.count / 2]
        return [
            Row(
                benchmark: "history: \(count) events written",
                measured: String(
                    format: "%.1f s (%.0f events/s, chained)",
                    insertSeconds,
                    Double(count) / insertSeconds
                ),
                baseline: "-",
                ratio: "-",
                target: "-",
                met: nil
            ),
            Row(
                benchmark: "filtered history query (policy + event + limit 100)",
                measured: String(
                    format: "%.1f ms median of 5 (%d rows); CLI incl. process start %.0f ms",
                    median * 1_000,
                    found,
                    cliQuery * 1_000
                ),
                baseline: String(format: "time range query %.1f ms", range * 1_000),
                ratio: "-",
                target: "< 100 ms",
                met: median < 0.1
            ),
            Row(
                benchmark: "audit verify over \(verification.checked) events",
                measured: String(
                    format: "%.2f s; CLI %.2f s%@",
                    verify,
                    cliVerify,
                    verification.firstBroken == nil ? "" : " BROKEN"
                ),
                baseline: "-",
                ratio: String(format: "%.0f events/s", Double(verification.checked) / verify),
                target: "< 3 s",
                met: verify < 3 && verification.firstBroken == nil && verification.checked == count
            ),
        ]
    }
}
