internal import CloudProviders
internal import Delivery
public import Foundation
public import Logging
public import Notifications
public import RotationEngine
public import RotationHistory
public import RotationPolicy
public import SCIMRotatorCore
public import Transport

/// Builds providers, sinks and runners for policies: the one place that knows every concrete implementation.
/// Public for the benchmark, which drives fleets through exactly the code the CLI uses.
public struct Wiring: Sendable {
    public let store: any HistoryStore
    public let databasePath: String
    public let clock: any RotatorClock
    public let transport: any HTTPTransport
    public let environment: [String: String]
    public let logger: Logger
    public let shutdown: ShutdownSignal
    /// The demo points every policy at its in-process emulator.
    public var endpointOverride: URL?
    public var onEvent: @Sendable (HistoryEvent) -> Void = { _ in }
    /// Sends each policy's `notify:` webhooks for its events.
    public var notifier: Notifier?
    /// `SCIM_ROTATOR_FAILPOINTS` for the crash suite; inert unless set.
    public var failPoints: FailPoints = .none
    /// New keys' secrets while this process lives: a failed sink is retried with the same key.
    public let secrets = SecretCache()
    /// PostgreSQL: every piece of work on a policy runs under its lease (replicas); nil for SQLite (one node).
    public var leases: ReplicaLeases?

    public init(
        store: any HistoryStore,
        databasePath: String,
        clock: any RotatorClock = SystemClock(),
        transport: any HTTPTransport = AsyncHTTPClientTransport.shared,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger,
        shutdown: ShutdownSignal = ShutdownSignal()
    ) {
        self.store = store
        self.databasePath = databasePath
        self.clock = clock
        self.transport = transport
        self.environment = environment
        self.logger = logger
        self.shutdown = shutdown
    }

    struct PolicySetupError: Error, CustomStringConvertible {
        var description: String
    }

    public func provider(for policy: Policy) throws -> any SCIMKeyProvider {
        var credentials = CloudCredentials(accessKeyId: "", secret: Secret(""))  // no key API: none is read
        do {
            if policy.provider.traits.canList {
                credentials = try CloudCredentials.fromEnvironment(policy.credentials, environment: environment)
            }
        } catch {
            throw PolicySetupError(description: "policy \(policy.name) (\(policy.file)): \(error)")
        }
        // `policy check` rejects such a region; this guards policies built any other way.
        if let region = policy.region, !CloudRegion.isValid(region) {
            throw PolicySetupError(
                description:
                    "policy \(policy.name) (\(policy.file)): region `\(region)` is not a region id, e.g. \(policy.provider.traits.exampleRegions)"
            )
        }
        return CloudProviders.provider(
            for: policy,
            credentials: credentials,
            transport: transport,
            clock: clock,
            endpoint: endpointOverride,
            store: store
        )
    }

    func sinks(for policy: Policy) throws -> [any DeliverySink] {
        try policy.deliver.map { spec -> any DeliverySink in
            let secret = { (name: String) throws -> Secret in
                try SinkEnvironment.secret(
                    name,
                    sink: "policy \(policy.name): \(spec.summary)",
                    environment: environment
                )
            }
            switch spec {
            case .file(let path, let mode):
                return FileSink(path: path, mode: mode)
            case .exec(let command, let timeout):
                return ExecSink(command: command, timeout: timeout.timeInterval)
            case .vault(let vault):
                let authentication: VaultSink.Authentication
                if let roleIdEnv = vault.roleIdEnv, let secretIdEnv = vault.secretIdEnv {
                    authentication = .appRole(
                        roleId: try secret(roleIdEnv),
                        secretId: try secret(secretIdEnv),
                        mount: vault.authMount
                    )
                } else {
                    authentication = .token(try secret(vault.tokenEnv ?? "VAULT_TOKEN"))
                }
                return VaultSink(
                    address: vault.address,
                    mount: vault.mount,
                    path: vault.path,
                    namespace: vault.namespace,
                    authentication: authentication,
                    transport: transport
                )
            case .entra(let entra):
                return EntraSink(
                    tenantId: entra.tenantId,
                    servicePrincipalId: entra.servicePrincipalId,
                    clientId: entra.clientId,
                    clientSecret: try secret(entra.clientSecretEnv),
                    scimURL: entra.scimURL,
                    loginEndpoint: entra.loginEndpoint ?? EntraSink.loginEndpoint,
                    graphEndpoint: entra.graphEndpoint ?? EntraSink.graphEndpoint,
                    transport: transport
                )
            case .kubernetes(let kubernetes):
                let connection: KubernetesSink.Connection
                if let server = kubernetes.server {
                    connection = .init(server: server, token: try kubernetes.tokenEnv.map(secret), caPEM: nil)
                } else if let kubeconfig = kubernetes.kubeconfig {
                    connection = try KubernetesSink.fromKubeconfig(path: kubeconfig)
                } else {
                    connection = try KubernetesSink.inCluster(environment: environment)
                }
                return try KubernetesSink(
                    namespace: kubernetes.namespace,
                    name: kubernetes.name,
                    key: kubernetes.key,
                    connection: connection,
                    transport: transport
                )
            case .okta(let okta):
                return OktaSink(
                    orgURL: okta.orgURL,
                    appId: okta.appId,
                    apiToken: try secret(okta.apiTokenEnv),
                    scimURL: okta.scimURL,
                    transport: transport
                )
            case .manual(let manual):
                return ManualSink(file: manual.file, mode: manual.mode, instructions: manual.instructions)
            case .awsSecretsManager(let aws):
                return AWSSecretsManagerSink(
                    secretId: aws.secretId,
                    region: aws.region,
                    key: aws.key,
                    endpoint: aws.endpoint,
                    credentials: try AWSCredentials.fromEnvironment(
                        aws.credentials,
                        sink: "policy \(policy.name): \(spec.summary)",
                        environment: environment
                    ),
                    transport: transport
                )
            case .awsSSMParameter(let aws):
                return AWSSSMParameterSink(
                    name: aws.name,
                    region: aws.region,
                    kmsKeyId: aws.kmsKeyId,
                    endpoint: aws.endpoint,
                    credentials: try AWSCredentials.fromEnvironment(
                        aws.credentials,
                        sink: "policy \(policy.name): \(spec.summary)",
                        environment: environment
                    ),
                    transport: transport
                )
            }
        }
    }

    public func runner(for policy: Policy, guardian: LeaseGuard? = nil) throws -> PolicyRunner {
        var provider = try provider(for: policy)
        if let guardian, let leases { provider = leases.fenced(provider, policy: policy, guardian: guardian) }
        return PolicyRunner(
            policy: policy,
            provider: provider,
            store: store,
            sinks: try guardian.map { try $0.fenced(sinks(for: policy)) } ?? sinks(for: policy),
            verifier: SCIMVerifier(
                transport: transport,
                clock: clock,
                attempts: policy.verify.attempts,
                interval: policy.verify.interval.timeInterval
            ),
            clock: clock,
            logger: logger,
            shutdown: shutdown,
            failPoints: failPoints,
            secrets: secrets,
            lock: lock(for: policy),
            onEvent: { [onEvent, notifier] event in
                onEvent(event)
                notifier?.notify(event, policy: policy)
            }
        )
    }

    /// How long to wait for another process's work on a policy (`SCIM_ROTATOR_LOCK_WAIT` seconds, default 60).
    var lockWait: Double { environment["SCIM_ROTATOR_LOCK_WAIT"].flatMap(Double.init) ?? 60 }

    /// The policy's lock, which its runner holds around every change to the zone or the journal. Under leases the
    /// lease is the lock (a lock file would outlive a frozen holder's lease and stall the replica taking over).
    func lock(for policy: Policy) -> PolicyLock {
        let database = leases == nil ? HistoryDatabase.lockLocation(databasePath) : ":memory:"
        return PolicyLock(database: database, policy: policy.name, wait: lockWait)
    }

    /// One pass over a policy, under its lock so that no other process works on the zone meanwhile.
    public func pass(_ policy: Policy, request: RotationRequest? = nil) async -> PassResult {
        await run(policy, actor: request == nil ? .scheduler : .manual) { await $0.pass(request: request) }
    }

    /// Records a person's confirmation of a manual delivery and promotes the key, under the policy's lock.
    public func confirm(_ policy: Policy, reason: String?) async -> PassResult {
        await run(policy, actor: .manual) { await $0.confirm(reason: reason) }
    }

    /// Records that a person deleted the tokens they were asked to delete (an issuer without a key API), then a pass.
    public func confirmDeleted(_ policy: Policy, by person: String) async -> PassResult {
        await run(policy, actor: .manual) { await $0.confirmDeleted(by: person) }
    }

    /// Registers the token in use of an issuer without a key API (`track`), under the policy's lock (and lease).
    public func track(_ policy: Policy, createdAt: Date?, expiresAt: Date, by person: String) async throws -> String {
        guard let leases else {
            return try await runner(for: policy).track(createdAt: createdAt, expiresAt: expiresAt, by: person)
        }
        return try await leases.withLease(policy, actor: .manual) { guardian in
            try await runner(for: policy, guardian: guardian).track(
                createdAt: createdAt,
                expiresAt: expiresAt,
                by: person
            )
        }
    }

    /// Turns the zone's SCIM synchronization on or off, under the policy's lock; returns the status it replaced.
    /// Under leases, it holds the policy's lease like a pass.
    public func setSyncStatus(_ policy: Policy, _ status: SyncStatus, reason: String?) async throws -> SyncStatus {
        guard let leases else {
            return try await SyncSwitch(
                policy: policy,
                provider: try provider(for: policy),
                store: store,
                clock: clock,
                lock: lock(for: policy)
            ).set(status, reason: reason)
        }
        return try await leases.withLease(policy, actor: .manual) { guardian in
            try await SyncSwitch(
                policy: policy,
                provider: leases.fenced(try provider(for: policy), policy: policy, guardian: guardian),
                store: store,
                clock: clock,
                lock: lock(for: policy)
            ).set(status, reason: reason)
        }
    }

    /// Runs `body` with the policy's runner (under the policy's lease, with leases); a runner that cannot be built,
    /// a lease another replica holds, or a lease lost fails the pass.
    func run(_ policy: Policy, actor: Actor, _ body: (PolicyRunner) async -> PassResult) async -> PassResult {
        do {
            guard let leases else { return await body(try runner(for: policy)) }
            return try await leases.withLease(policy, actor: actor) { guardian in
                await body(try runner(for: policy, guardian: guardian))
            }
        } catch let busy as ReplicaLeases.Busy {
            logger.info("policy busy", metadata: ["policy": "\(policy.name)", "reason": "\(busy)"])
            let next = max(busy.until ?? clock.now(), clock.now()).addingTimeInterval(0.2)
            return PassResult(policy: policy.name, outcome: .failed, message: "\(busy)", nextCheck: next, rotations: [])
        } catch {
            logger.error("cannot run policy", metadata: ["policy": "\(policy.name)", "error": "\(error)"])
            return PassResult(
                policy: policy.name,
                outcome: .failed,
                message: "\(error)",
                nextCheck: clock.now().addingTimeInterval(policy.rotation.minBackoff.timeInterval),
                rotations: []
            )
        }
    }
}
