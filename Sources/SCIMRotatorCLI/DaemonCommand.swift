internal import ArgumentParser
internal import Foundation
internal import Logging
internal import Notifications
internal import Observability
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore
internal import ServiceLifecycle
internal import Synchronization
internal import UnixSignals

extension SCIMRotator {
    struct Daemon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "daemon",
            abstract: "Run continuously: rotate every policy's key on schedule.",
            discussion: """
                Sleeps on a timer until the earliest moment a policy needs attention (a rotation falls due, a grace \
                period or deleteAfter ends, a retry after a failure, or the periodic --resync), never polling. Due \
                policies run concurrently (--concurrency); each zone's steps run strictly in order.

                Signals: SIGHUP reloads the policies (a file that is invalid now keeps running in its last good \
                version, and the log names the file and why; the other files load as they are); SIGTERM and \
                SIGINT finish the current step and exit 0 (a rotation that already created its key runs on to \
                promotion, so no secret is lost). A second daemon on the same SQLite database refuses to start.

                Replicas (--db postgres://...): run as many daemons on one PostgreSQL history as you like, on any \
                machines. The policies are shared out among the live replicas (each about 1/N); each works on a \
                policy only under the policy's lease in the database (expiry on the database's clock, renewed every \
                third of --lease-ttl), and every journal write checks it in the same transaction. A replica that \
                stops (crash, freeze, lost network) loses its leases after --lease-ttl and the others take its \
                policies over, first reconciling the zone against the journal. See deploy/README.md.
                """
        )

        @OptionGroup var common: CommonOptions

        @Option(help: "Policies worked on at the same time.")
        var concurrency: Int = 16

        @Option(help: "Look at every policy at least this often (e.g. 1h, 30m).")
        var resync: String = "1h"

        @Option(
            help: ArgumentHelp(
                "Serve /metrics (Prometheus), /healthz and /readyz on HOST:PORT (off unless given).",
                discussion: "Env: SCIM_ROTATOR_HTTP. Example: 127.0.0.1:9464; 0.0.0.0:9464 in a pod.",
                valueName: "host:port"
            )
        )
        var http: String?

        @Option(
            name: .customLong("audit-head-interval"),
            help: ArgumentHelp(
                "Log and export the audit head (SEQ:HASH) this often (e.g. 1h, 15m).",
                discussion: "Ship it off the machine; `audit verify --anchor SEQ:HASH` later proves nothing was cut.",
                valueName: "duration"
            )
        )
        var auditHeadInterval: String = "1h"

        @Option(
            name: .customLong("lease-ttl"),
            help: ArgumentHelp(
                "PostgreSQL replicas: how long a policy's lease lasts without renewal (e.g. 30s, 1m).",
                discussion:
                    "Renewed every third of it. A frozen or cut-off replica's policies move to the others after about this long; a cloud call is made only with more lease left than its timeout. Ignored with SQLite.",
                valueName: "duration"
            )
        )
        var leaseTTL: String = "30s"

        @Option(
            name: .customLong("replica-id"),
            help: ArgumentHelp(
                "PostgreSQL replicas: this replica's name in leases, status and history (default HOSTNAME-PID).",
                discussion: "Unique among the running replicas; a pod's name is a good one.",
                valueName: "id"
            )
        )
        var replicaId: String?

        var httpAddress: String? { http ?? ProcessInfo.processInfo.environment["SCIM_ROTATOR_HTTP"] }

        var resyncSpan: TimeSpan { TimeSpan(parsing: resync) ?? .hours(1) }

        func validate() throws {
            guard let span = TimeSpan(parsing: resync), span.seconds >= 60 else {
                throw ValidationError("--resync \(resync): a duration of at least 1m, like 1h or 30m")
            }
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
            guard let head = TimeSpan(parsing: auditHeadInterval), head.seconds >= 1 else {
                throw ValidationError("--audit-head-interval \(auditHeadInterval): a duration of at least 1s, like 1h")
            }
            guard let ttl = TimeSpan(parsing: leaseTTL), ttl.seconds >= 2, ttl.seconds <= 3_600 else {
                throw ValidationError("--lease-ttl \(leaseTTL): a duration from 2s to 1h, like 30s")
            }
            if let replicaId, replicaId.isEmpty || replicaId.count > 200 || replicaId.contains(where: \.isNewline) {
                throw ValidationError("--replica-id: one line of 1 to 200 characters, e.g. the pod's name")
            }
            if let address = httpAddress, ObservabilityServer.parse(address) == nil {
                throw ValidationError("--http \(address): write HOST:PORT, e.g. 127.0.0.1:9464")
            }
        }

        func run() async throws {
            let logger = common.logger(defaultLevel: .info)
            let policies = DaemonPolicies(
                directory: common.policiesDirectory,
                initial: try common.loadPolicies(),
                logger: logger
            )
            // One daemon per SQLite file; PostgreSQL replicas share out the policies under leases instead.
            var lock: FileLock?
            if !HistoryDatabase.isURL(common.databasePath) {
                let lockPath = PolicyLocks.daemonPath(database: common.databasePath)
                switch try await FileLock.acquire(path: lockPath) {
                case .success(let held): lock = held
                case .failure(let held):
                    throw CLIError(
                        "another scim-rotator daemon is already running on \(common.databasePath) (\(held)); stop it first, or use a different --db",
                        exitCode: 1
                    )
                }
            }
            defer { withExtendedLifetime(lock) {} }
            let ttl = TimeSpan(parsing: leaseTTL)?.timeInterval ?? 30
            // A replica frozen inside a transaction loses its session (and its locks) after half the lease TTL.
            let store = try await HistoryDatabase.open(common.databasePath, idleInTransactionTimeout: max(3, ttl / 2))
            let health = HealthState(databaseCheck: { (try? await store.policyStates()) != nil })
            let endpoint = httpAddress.flatMap(ObservabilityServer.parse)
            let server = endpoint.map { host, port in
                ObservabilityServer(
                    host: host,
                    port: port,
                    registry: PrometheusBackend.bootstrap(),
                    health: health,
                    logger: logger
                )
            }
            var wiring = try common.wiring(store: store, logger: logger)
            let leases = (store as? any LeaseStore).map { leaseStore in
                ReplicaLeases(
                    store: leaseStore,
                    history: store,
                    replica: replicaId ?? ReplicaLeases.defaultReplicaId(),
                    ttl: ttl,
                    clock: wiring.clock,
                    logger: logger
                )
            }
            wiring.leases = leases
            let heartbeat = leases.map(ReplicaHeartbeat.init)
            if let heartbeat {
                await heartbeat.beat()
                logger.info(
                    "replica started",
                    metadata: [
                        "replica": "\(heartbeat.leases.replica)", "replicas": "\(heartbeat.leases.replicas.count)",
                    ]
                )
            }
            let passWiring = wiring
            let scheduler = Scheduler(
                configuration: .init(concurrency: concurrency, resync: resyncSpan.timeInterval),
                clock: wiring.clock,
                logger: logger,
                shutdown: wiring.shutdown,
                reloads: await UnixSignalsSequence(trapping: .sighup),
                loadPolicies: { try policies.load() },
                runPass: { policy in
                    if let leases, leases.owner(of: policy.name) != leases.replica {
                        return PassResult(
                            policy: policy.name,
                            outcome: .idle,
                            message: "shared out to replica \(leases.owner(of: policy.name))",
                            nextCheck: nil,
                            rotations: []
                        )
                    }
                    return await passWiring.pass(policy)
                },
                onTick: { tick in health.tick(at: tick.at, nextWake: tick.nextWake, policies: tick.policies) },
                nudges: leases?.changes
            )
            let reporter = AuditHeadReporter(
                interval: (TimeSpan(parsing: auditHeadInterval) ?? .hours(1)).timeInterval,
                logger: logger,
                head: { try await store.head() }
            )
            // Shut down in reverse: the scheduler (added once the server listens) first, the HTTP server last.
            var services: [any Service] = []
            if let server { services.append(server) }
            services.append(reporter)
            if let heartbeat { services.append(heartbeat) }
            try await Lifecycle.run(services, logger: logger) { group in
                if let server, let endpoint, let address = httpAddress {
                    do {
                        let bound = try await server.listening()
                        logger.info(
                            "serving /metrics, /healthz, /readyz",
                            metadata: ["address": "\(endpoint.host):\(bound)"]
                        )
                    } catch {
                        throw CLIError("--http \(address): \(error); is the port in use?", exitCode: 1)
                    }
                }
                await Lifecycle.add(scheduler, to: group)
            }
            await wiring.notifier?.drain(timeout: 10)
        }
    }
}

/// The daemon's policies across reloads (SIGHUP): one invalid file never stops the others. A file that is invalid
/// now keeps running in its last good version, and the log names the file and the problem.
final class DaemonPolicies: Sendable {
    let directory: String
    let logger: Logger
    private let current: Mutex<[Policy]>

    init(directory: String, initial: [Policy], logger: Logger) {
        self.directory = directory
        self.logger = logger
        self.current = Mutex(initial)
    }

    func load() throws -> [Policy] {
        let reload = try PolicyLoader.reload(directory: directory, previous: current.withLock { $0 })
        for problem in reload.problems {
            for file in Set(problem.issues.map(\.file)).sorted() {
                let kept = reload.kept.contains(file)
                logger.error(
                    kept
                        ? "policy file invalid; its last good version keeps running"
                        : "policy file invalid; it is not loaded",
                    metadata: [
                        "file": "\(file)",
                        "error":
                            "\(problem.issues.filter { $0.file == file }.map(\.description).joined(separator: "; "))",
                    ]
                )
            }
        }
        current.withLock { $0 = reload.policies }
        return reload.policies
    }
}
