import CloudEmulator
import Foundation
import Logging
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCLI
import SCIMRotatorCore
import Transport

/// N Tencent zones, each in its own organization account, served by an in-process emulator over real HTTP, with
/// one policy each, wired exactly as the CLI wires them (URLSession, SQLite history in WAL mode, file sinks).
final class Fleet: Sendable {
    let clock: VirtualClock
    let emulator: Emulator
    let server: EmulatorServer
    let url: URL
    let policies: [Policy]
    let wiring: Wiring
    let directory: String

    static func zoneId(_ index: Int) -> String { "z-bench" + String(index).leftPadded(7) }

    /// - Parameters:
    ///   - accounts: how many organization accounts the zones are spread over (`zones`: one zone per account).
    init(zones: Int, accounts: Int? = nil, latencyMs: Int, rateLimit: Int = 20, name: String) async throws {
        directory =
            Bench.workDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        let accountCount = accounts ?? zones
        clock = VirtualClock(start: Date(), flowRate: 1, sleepSpeed: 1)
        var configuration = EmulatorConfiguration(latencyMs: latencyMs)
        configuration.rateLimit = rateLimit
        var accountList: [EmulatorConfiguration.Account] = []
        for account in 0..<accountCount {
            let owned = stride(from: account, to: zones, by: accountCount).map(Self.zoneId)
            accountList.append(
                .init(
                    secretId: "AKIDbench\(String(account).leftPadded(7))",
                    secretKey: "benchSecretKey\(account)",
                    zones: owned
                )
            )
        }
        configuration.tencent = .init(
            accounts: accountList,
            zones: (0..<zones).map { .init(id: Self.zoneId($0), syncStatus: .enabled) }
        )
        emulator = Emulator(configuration: configuration, clock: clock)
        server = EmulatorServer(emulator: emulator)
        url = try await server.start()
        var environment: [String: String] = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        var policies: [Policy] = []
        for index in 0..<zones {
            let account = index % accountCount
            environment["ACCOUNT_\(account)_ID"] = "AKIDbench\(String(account).leftPadded(7))"
            environment["ACCOUNT_\(account)_KEY"] = "benchSecretKey\(account)"
            policies.append(
                Policy(
                    name: "zone-\(String(index).leftPadded(4))",
                    file: "<bench>",
                    provider: .tencent,
                    zone: Self.zoneId(index),
                    endpoint: url,
                    credentials: .init(
                        idEnv: "ACCOUNT_\(account)_ID",
                        secretEnv: "ACCOUNT_\(account)_KEY",
                        tokenEnv: nil
                    ),
                    rotation: RotationSettings(keyLifetime: .days(90), rotateBefore: .days(30)),
                    deliver: [.file(path: "\(directory)/out/zone-\(index).token", mode: 0o600)]
                )
            )
            emulator.seedKey(
                zone: Self.zoneId(index),
                createdAt: clock.now(),
                expiresAt: clock.now().addingTimeInterval(90 * 86_400)
            )
        }
        self.policies = policies
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        wiring = Wiring(
            store: try SQLiteHistoryStore(path: directory + "/history.sqlite"),
            databasePath: directory + "/history.sqlite",
            clock: clock,
            transport: AsyncHTTPClientTransport.shared,
            environment: environment,
            logger: logger
        )
    }

    /// One reconcile pass over every policy, `concurrency` at a time; returns the results and the elapsed seconds.
    func reconcile(concurrency: Int = 16) async -> (results: [PassResult], seconds: Double) {
        let wiring = self.wiring
        let scheduler = Scheduler(
            configuration: .init(concurrency: concurrency),
            clock: clock,
            logger: wiring.logger,
            loadPolicies: { [policies] in policies },
            runPass: { await wiring.pass($0) }
        )
        let start = ContinuousClock.now
        let results = await scheduler.runConcurrently(policies)
        return (results, (ContinuousClock.now - start).seconds)
    }

    func stop() async {
        await server.stop()
    }

    /// Emulator call counts by "provider action code", and the peak requests per second per account/action.
    func calls() -> (calls: [String: Int], peaks: [String: Int]) {
        let state = emulator.state()
        return (state["calls"] as? [String: Int] ?? [:], emulator.peaks())
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
