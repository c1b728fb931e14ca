internal import ArgumentParser
internal import CloudEmulator
internal import Foundation
internal import Logging
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore
internal import Transport

extension SCIMRotator {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo",
            abstract: "Watch a simulated year of rotations in about a minute, against the bundled emulator.",
            discussion: """
                Starts the cloud emulator in-process with one zone per policy in --policies (default: \
                policies/demo), seeds each zone with an existing key that a console user made ten months ago, and \
                runs the real daemon loop on a virtual clock that runs --speed times faster than real time. Every \
                event is printed as it happens: first contact (adopt), rotations (create, verify, deliver, \
                promote), the previous key disabled after the grace period and deleted after deleteAfter (on Volcano \
                Engine, which cannot disable a key, deleted when the grace period ends). An AWS IAM Identity Center \
                tenant (no key API) has its token in use registered as `track` does, and the demo plays the person \
                who makes each new token in the console and hands it over when asked, then deletes the old one.

                It leaves the history in --db (default demo.sqlite, replaced on each run) and the delivered keys \
                in demo-out/. Explore with:
                  scim-rotator history --db demo.sqlite
                  scim-rotator audit verify --db demo.sqlite
                """
        )

        @Option(help: ArgumentHelp("Directory of demo policies.", valueName: "dir"))
        var policies: String = "policies/demo"

        @Option(help: ArgumentHelp("History database the demo writes (replaced on each run).", valueName: "path"))
        var db: String = "demo.sqlite"

        @Option(help: "Simulated time to run (e.g. 365d).")
        var duration: String = "365d"

        @Option(
            help: "How much faster than real time the clock runs (525600: a year in a minute; 0: as fast as possible)."
        )
        var speed: Double = 525_600

        @Flag(help: "Print only the summary.")
        var quiet = false

        func validate() throws {
            guard TimeSpan(parsing: duration) != nil else {
                throw ValidationError("--duration \(duration): a duration like 365d")
            }
            guard speed >= 0 else { throw ValidationError("--speed must be 0 or more") }
        }

        func run() async throws {
            let policySet: [Policy]
            do {
                policySet = try PolicyLoader.loadDirectory(policies)
            } catch let error as PolicyError {
                throw CLIError("demo policies are invalid:\n\(error)", exitCode: 2)
            }
            guard !policySet.isEmpty else { throw CLIError("no demo policies in \(policies)", exitCode: 2) }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
            for policy in policySet {
                for case .file(let path, _) in policy.deliver {
                    try? FileManager.default.createDirectory(
                        atPath: (path as NSString).deletingLastPathComponent,
                        withIntermediateDirectories: true
                    )
                }
            }

            let start = Date()
            let clock = VirtualClock(start: start, flowRate: 0, sleepSpeed: speed == 0 ? .infinity : speed)
            let world = DemoWorld(policies: policySet)
            let emulator = CloudEmulator.Emulator(configuration: world.configuration, clock: clock)
            let server = EmulatorServer(emulator: emulator)
            var logger = Logger(label: "scim-rotator.demo") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .error
            guard let span = TimeSpan(parsing: duration) else {
                throw ValidationError("--duration \(duration): a duration like 365d")
            }
            let store = try SQLiteHistoryStore(path: db)
            var began = Date()
            var personFinished: @Sendable () async -> Void = {}
            try await Lifecycle.run([server], logger: logger) { group in
                let url = try await server.listening()
                for policy in policySet {
                    emulator.seedKey(
                        zone: policy.zone,
                        createdAt: start.addingTimeInterval(-300 * 86_400),
                        expiresAt: start.addingTimeInterval(65 * 86_400)
                    )
                }
                let person = DemoPerson(emulator: emulator, clock: clock, policies: policySet)
                var wiring = Wiring(
                    store: store,
                    databasePath: db,
                    clock: clock,
                    transport: AsyncHTTPClientTransport.shared,
                    environment: world.environment,
                    logger: logger
                )
                wiring.endpointOverride = url
                let quiet = self.quiet
                wiring.onEvent = { event in
                    person.notice(event)
                    guard !quiet else { return }
                    Console.line(DemoPrinter.line(event))
                }
                let wired = wiring
                await person.start(wired)
                for policy in policySet where !policy.provider.traits.canList {
                    // The token in use is registered, as `scim-rotator track` does (this tool cannot list it).
                    _ = try await wired.track(
                        policy,
                        createdAt: start.addingTimeInterval(-300 * 86_400),
                        expiresAt: start.addingTimeInterval(65 * 86_400),
                        by: "the demo's person"
                    )
                }
                personFinished = { await person.finish() }
                if !quiet {
                    Console.line(
                        "scim-rotator demo: \(policySet.count) policies, emulator at \(url), simulating \(span) from \(Times.short(start))"
                    )
                    Console.line("each zone starts with a key a console user created 300 days ago (65 days left)\n")
                }
                let scheduler = Scheduler(
                    configuration: .init(
                        concurrency: 16,
                        resync: 7 * 86_400,
                        until: start.addingTimeInterval(span.timeInterval)
                    ),
                    clock: clock,
                    logger: logger,
                    shutdown: wired.shutdown,
                    loadPolicies: { policySet },
                    runPass: { await wired.pass($0) }
                )
                began = Date()
                await Lifecycle.add(scheduler, to: group)
            }
            await personFinished()
            let elapsed = Date().timeIntervalSince(began)
            try await summarize(store: store, policies: policySet, emulator: emulator, elapsed: elapsed, clock: clock)
        }

        func summarize(
            store: SQLiteHistoryStore,
            policies: [Policy],
            emulator: CloudEmulator.Emulator,
            elapsed: Double,
            clock: VirtualClock
        ) async throws {
            let events = try await store.events(EventFilter())
            var counts: [String: Int] = [:]
            for event in events { counts[event.kind.rawValue, default: 0] += 1 }
            let chain = try await store.verifyChain()
            Console.line("")
            Console.line("simulated until \(Times.short(clock.now())) in \(String(format: "%.1f", elapsed)) s")
            for kind in [
                "key.adopted", "rotation.completed", "key.created", "key.disabled", "key.deleted", "key.retired",
                "key.abandoned", "rotation.failed", "rotation.blocked",
            ] {
                if let count = counts[kind] {
                    Console.line("  \(kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(count)")
                }
            }
            Console.line(
                "audit: \(chain.checked) records, hash chain \(chain.firstBroken == nil ? "intact" : "BROKEN at #\(chain.firstBroken!.seq)")"
            )
            for policy in policies {
                let keys = emulator.keys(zone: policy.zone)
                Console.line(
                    "\(policy.name): \(keys.count) key(s) in the zone now: "
                        + keys.map { "\($0.id) \($0.status.rawValue) until \(Times.short($0.expiresAt))" }.joined(
                            separator: ", "
                        )
                )
            }
            Console.line("\nexplore: scim-rotator history --db \(db)   ·   scim-rotator audit verify --db \(db)")
            if counts["rotation.failed", default: 0] > 0 || counts["rotation.blocked", default: 0] > 0
                || chain.firstBroken != nil
            {
                throw CLIError("the demo saw failures (above)", exitCode: 1)
            }
        }
    }
}

/// The emulated clouds and credentials behind the demo policies.
struct DemoWorld {
    var configuration = EmulatorConfiguration()
    var environment: [String: String] = [:]

    init(policies: [Policy]) {
        for kind in ProviderKind.allCases {
            let zones = policies.filter { $0.provider == kind }.map(\.zone)
            guard !zones.isEmpty else { continue }
            let demo = DemoCredentials.credentials(for: kind)
            configuration[cloud: kind] = .init(
                accounts: kind.traits.canList
                    ? [.init(secretId: demo.accessKeyId, secretKey: demo.secret.reveal(), zones: zones)] : [],
                zones: zones.map { .init(id: $0, name: $0, syncStatus: .enabled) }
            )
        }
        for policy in policies where policy.provider.traits.canList {
            let demo = DemoCredentials.credentials(for: policy.provider)
            environment[policy.credentials.idEnv] = demo.accessKeyId
            environment[policy.credentials.secretEnv] = demo.secret.reveal()
        }
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
    }
}

enum DemoPrinter {
    static func line(_ event: HistoryEvent) -> String {
        let time = String(event.time.prefix(16)).replacingOccurrences(of: "T", with: " ")
        var text =
            "\(time)  \(event.policy)  \(event.kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) \(event.keyId ?? "")"
        if let reason = event.reason,
            [
                "rotation.started", "key.adopted", "key.disabled", "key.deleted", "key.retired", "rotation.failed",
                "rotation.blocked", "key.abandoned", "rotation.waiting", "key.tracked",
            ].contains(event.kind.rawValue)
        {
            text += "  — \(reason)"
        }
        return text
    }
}
