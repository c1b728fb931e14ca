import CloudEmulator
import CloudProviders
import Delivery
import Foundation
import Logging
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization
import Transport

/// A delivery sink that keeps what it receives in memory, and can be told to fail: the identity provider of tests.
/// Its consumer's token is the latest secret it received.
public final class MemorySink: DeliverySink {
    public struct Delivery: Sendable {
        public var keyId: String
        public var secret: Secret
    }

    struct State {
        var delivered: [Delivery] = []
        var failures = 0
        /// Deliveries that succeed, then "crash the process" before the tool hears of it.
        var crashes = 0
    }

    private let state = Mutex(State())
    public let name: String
    public init(name: String = "memory") { self.name = name }
    public var summary: String { name }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        enum Next { case fail, crash, done }
        let next = state.withLock { s -> Next in
            if s.failures > 0 {
                s.failures -= 1
                return .fail
            }
            s.delivered.append(Delivery(keyId: context.keyId, secret: secret))
            if s.crashes > 0 {
                s.crashes -= 1
                return .crash
            }
            return .done
        }
        switch next {
        case .fail: throw DeliveryError(sink: summary, message: "injected failure")
        case .crash: throw SimulatedCrash(point: "inside \(summary)")
        case .done: return .done
        }
    }

    /// The next `count` deliveries fail.
    public func failNext(_ count: Int) { state.withLock { $0.failures = count } }
    /// Clears injected failures and crashes.
    public func reset() {
        state.withLock {
            $0.failures = 0
            $0.crashes = 0
        }
    }
    /// The next delivery succeeds, then the process "dies" before the tool records it.
    public func crashAfterNextDelivery() { state.withLock { $0.crashes = 1 } }
    public var delivered: [Delivery] { state.withLock { $0.delivered } }
    public var latest: Delivery? { delivered.last }
}

/// A ``MemorySink`` whose stored secret can be read back, as a file, Vault or a Kubernetes Secret can.
public final class ReadableMemorySink: ReadableSink {
    public let memory: MemorySink
    public init(name: String = "readable memory") { memory = MemorySink(name: name) }
    public var summary: String { memory.summary }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try await memory.deliver(secret, context: context)
    }

    public func read(context: DeliveryContext) async throws -> Secret? { memory.latest?.secret }
}

/// An emulator, a provider, a history store and a runner on one virtual clock, for tests that run a year of
/// rotations in milliseconds.
public final class RotationHarness: Sendable {
    public static let epoch = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z, a Friday

    public let clock: VirtualClock
    /// The cloud's clock: the tool's, unless the test gives the cloud its own (`separateEmulatorClock`), which
    /// ``advance(days:)`` moves too.
    public let emulatorClock: VirtualClock
    public let emulator: Emulator
    public let store: SQLiteHistoryStore
    public let sink: MemorySink
    public let policy: Policy
    /// The secrets a running process keeps; a simulated crash loses them (``crash()``).
    private let process = Mutex(SecretCache())
    /// Seconds the cloud clients wait for a reply.
    public let clientTimeout: Double

    public init(
        provider kind: ProviderKind = .tencent,
        start: Date = RotationHarness.epoch,
        keyLimit: Int = 2,
        databasePath: String? = nil,
        clientTimeout: Double = 5,
        separateEmulatorClock: Bool = false,
        seed: UInt64? = nil,
        configure: (inout Policy) -> Void = { _ in }
    ) throws {
        self.clientTimeout = clientTimeout
        clock = VirtualClock(start: start)
        emulatorClock = separateEmulatorClock ? VirtualClock(start: start) : clock
        var configuration = EmulatorConfiguration.demo
        configuration.keyLimit = keyLimit
        // Requests per real second: a virtual year runs thousands of them in seconds.
        configuration.rateLimit = 0
        configuration.alibabaRateLimit = 0
        emulator = Emulator(configuration: configuration, clock: emulatorClock, seed: seed)
        store = try databasePath.map { try SQLiteHistoryStore(path: $0) } ?? SQLiteHistoryStore()
        sink = MemorySink()
        // Every cloud rotates at age 60 days: Tencent by a 90-day lifetime minus rotateBefore 30d, Alibaba and Volcano
        // (whose keys always live a year) by maxAge.
        var policy = Policy(
            name: "test",
            provider: kind,
            zone: DemoCredentials.zone(for: kind),
            rotation: kind == .tencent
                ? RotationSettings(keyLifetime: .days(90), rotateBefore: .days(30))
                : RotationSettings(rotateBefore: .days(30), maxAge: .days(60))
        )
        configure(&policy)
        self.policy = policy
    }

    public var transport: EmulatorTransport { EmulatorTransport(emulator) }

    /// The secrets of the running process (shared by every runner until the next ``crash()``).
    public var secrets: SecretCache { process.withLock { $0 } }

    /// The process dies: what it kept in memory is gone.
    public func crash() { process.withLock { $0 = SecretCache() } }

    /// The cloud's name for Create, for faults.
    public var createAction: String {
        policy.provider == .tencent ? "CreateSCIMCredential" : "CreateSCIMServerCredential"
    }

    /// The cloud's name for List, for faults.
    public var listAction: String {
        policy.provider == .tencent ? "ListSCIMCredentials" : "ListSCIMServerCredentials"
    }

    /// The cloud's name for Delete, for faults.
    public var deleteAction: String {
        policy.provider == .tencent ? "DeleteSCIMCredential" : "DeleteSCIMServerCredential"
    }

    /// The cloud's name for the status update, for faults; nil where the cloud cannot disable a key.
    public var statusAction: String? {
        switch policy.provider {
        case .tencent: return "UpdateSCIMCredentialStatus"
        case .alibaba: return "UpdateSCIMServerCredentialStatus"
        case .volcengine, .awsIdentityCenter: return nil
        }
    }

    /// The cloud's throttling error code, for faults.
    public var throttleCode: String {
        switch policy.provider {
        case .tencent: return "RequestLimitExceeded"
        case .alibaba: return "Throttling.User"
        case .volcengine: return "FlowLimitExceeded"
        case .awsIdentityCenter: return "ThrottlingException"
        }
    }

    /// Posts to the emulator's admin API.
    @discardableResult
    public func admin(_ method: String, _ path: String, _ body: Any = [String: Any]()) async throws -> [String: Any] {
        try await emulator.admin(method, path, body)
    }

    /// Injects a fault (see the emulator's admin API).
    public func fault(_ fault: [String: Any]) async throws {
        var fault = fault
        fault["provider"] = policy.provider.rawValue
        try await admin("POST", "faults", fault)
    }

    /// The policy's provider as the CLI builds it, on the emulator, without pauses or rate limits.
    public func provider(
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0, maxDelay: 0)
    ) -> any SCIMKeyProvider {
        CloudProviders.provider(
            for: policy,
            credentials: DemoCredentials.credentials(for: policy.provider),
            transport: transport,
            clock: clock,
            endpoint: URL(string: "http://127.0.0.1:9")!,
            tuning: ClientTuning(
                timeout: clientTimeout,
                retry: retry,
                rateLimiter: RateLimiter(limit: 0),
                pause: { _ in }
            ),
            store: store
        )
    }

    /// A notifier that posts to `transport`, records into this harness's history on its clock, and never pauses
    /// between attempts.
    public func notifier(_ transport: any HTTPTransport, retry: RetryPolicy? = nil) -> Notifier {
        guard let retry else {
            return Notifier(
                transport: transport,
                store: store,
                clock: clock,
                logger: Logger(label: "t"),
                pause: { _ in }
            )
        }
        return Notifier(
            transport: transport,
            store: store,
            clock: clock,
            logger: Logger(label: "t"),
            retry: retry,
            pause: { _ in }
        )
    }

    public func runner(
        failPoints: FailPoints = .none,
        sinks: [any DeliverySink]? = nil,
        shutdown: ShutdownSignal = ShutdownSignal(),
        logger: Logger? = nil,
        onEvent: @escaping @Sendable (HistoryEvent) -> Void = { _ in }
    ) -> PolicyRunner {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        return PolicyRunner(
            policy: policy,
            provider: provider(),
            store: store,
            sinks: sinks ?? [sink],
            verifier: SCIMVerifier(transport: transport, clock: clock, attempts: 2, interval: 1),
            clock: clock,
            logger: logger ?? quiet,
            shutdown: shutdown,
            failPoints: failPoints,
            secrets: secrets,
            onEvent: onEvent
        )
    }

    @discardableResult
    public func pass(_ request: RotationRequest? = nil, failPoints: FailPoints = .none) async -> PassResult {
        let result = await runner(failPoints: failPoints).pass(request: request)
        if result.outcome == .interrupted, result.message.contains("crash") { crash() }
        return result
    }

    public func advance(days: Double) {
        clock.advance(by: days * 86_400)
        if emulatorClock !== clock { emulatorClock.advance(by: days * 86_400) }
    }

    public var zoneKeys: [SCIMKey] { emulator.keys(zone: policy.zone) }

    @discardableResult
    public func seedKey(
        ageDays: Double,
        lifetimeDays: Double = 365,
        status: KeyStatus = .enabled
    ) -> (id: String, secret: String) {
        let created = clock.now().addingTimeInterval(-ageDays * 86_400)
        return emulator.seedKey(
            zone: policy.zone,
            createdAt: created,
            expiresAt: created.addingTimeInterval(lifetimeDays * 86_400),
            status: status
        )!
    }

    /// What the planner decides now, from the zone as its provider lists it and the journal.
    public func plan() async throws -> Plan {
        Planner.plan(
            PlanInput(
                policy: policy,
                observed: try await provider().listKeys(),
                keys: try await store.keys(policy: policy.name),
                state: try await store.policyState(policy: policy.name),
                now: clock.now()
            )
        )
    }

    public func events(_ kinds: EventKind...) async throws -> [HistoryEvent] {
        try await store.events(EventFilter(kinds: kinds))
    }

    public func count(_ kind: EventKind) async throws -> Int { try await events(kind).count }

    /// Whether the emulator's SCIM endpoint accepts `secret` now.
    public func scimAccepts(_ secret: Secret) async -> Bool {
        let request = HTTPRequest(
            method: "GET",
            url: URL(string: "http://127.0.0.1:9/scim/v2/Users?count=1")!,
            headers: [("Authorization", "Bearer \(secret.reveal())")]
        )
        return (try? await transport.send(request).status) == 200
    }

    /// The protocol's promises, checked against the emulator's state and the history. Empty when all hold.
    public func invariantViolations(consumers: [MemorySink]? = nil) async throws -> [String] {
        let consumers = consumers ?? [sink]
        var violations: [String] = []
        let keys = zoneKeys
        if keys.count > policy.keyLimit {
            violations.append("the zone holds \(keys.count) keys, more than the limit \(policy.keyLimit)")
        }
        let records = try await store.keys(policy: policy.name)
        let current = records.filter { $0.role == .current }
        if current.count != 1 { violations.append("\(current.count) current keys in the journal, expected exactly 1") }
        if let current = current.first {
            guard let key = keys.first(where: { $0.id == current.keyId }) else {
                violations.append("the current key \(current.keyId) is not in the zone")
                return violations
            }
            if !key.isUsable(at: clock.now()) { violations.append("the current key \(key.id) is not usable") }
            if current.fingerprint != nil {
                for consumer in consumers {
                    guard let latest = consumer.latest, latest.keyId == current.keyId else {
                        violations.append("\(consumer.name)'s latest key is not the current key \(current.keyId)")
                        continue
                    }
                    if await !scimAccepts(latest.secret) {
                        violations.append("the current key's secret, as \(consumer.name) holds it, is refused by SCIM")
                    }
                }
            }
        }
        let created = Set(try await events(.keyCreated).compactMap(\.keyId))
        let byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        for key in keys where created.contains(key.id) {
            let role = byId[key.id]?.role
            if role != .current && role != .previous {
                violations.append(
                    "key \(key.id), created here, is in the zone as \(role?.rawValue ?? "unknown"): neither current nor previous"
                )
            }
        }
        for key in created where !keys.contains(where: { $0.id == key }) {
            let role = byId[key]?.role
            if role.map({ !$0.isGone }) ?? true {
                violations.append(
                    "key \(key), created here, is gone from the zone but recorded as \(role?.rawValue ?? "nothing")"
                )
            }
        }
        let chain = try await store.verifyChain()
        if let broken = chain.firstBroken {
            violations.append("audit chain broken at #\(broken.seq): \(broken.problem)")
        }
        var completions: [String: Int] = [:]
        for event in try await events(.rotationCompleted) { completions[event.rotationId ?? "", default: 0] += 1 }
        for (rotation, count) in completions where count > 1 {
            violations.append("rotation \(rotation) completed \(count) times")
        }
        return violations
    }
}
