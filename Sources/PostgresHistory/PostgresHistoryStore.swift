import Crypto
import Foundation
import Logging
import PostgresNIO
import RotationHistory
import SCIMRotatorCore
import Synchronization

/// The history in PostgreSQL (postgres-nio's pooled client), for replicas that share one database: the same
/// protocol, the same hash chain (``HashChain``) byte for byte, so `audit verify` prints the same head for the same
/// events on either backend.
///
/// Every step is one transaction; every session runs with `synchronous_commit = on`, so a step returns once the
/// server has it on disk. Chain appends are serialized across processes and machines by a transaction-level
/// advisory lock taken inside the write transaction (released by COMMIT or ROLLBACK, so a lost connection or a
/// cancelled task never leaves it held); `events`' primary key and its UNIQUE `prev_hash` would refuse a fork even
/// without it.
public final class PostgresHistoryStore: HistoryStore {
    public let url: PostgresURL
    public let readOnly: Bool
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// Read once: it never changes.
    private let fingerprint = Mutex<SymmetricKey?>(nil)

    private init(url: PostgresURL, readOnly: Bool, client: PostgresClient, logger: Logger) {
        self.url = url
        self.readOnly = readOnly
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Connects to the database `url` names and, unless `readOnly`, creates or upgrades the tables (which needs
    /// the schema's owner the first time and after an upgrade). The password comes from `PGPASSWORD` or the libpq
    /// password file, never from the URL. A read-only open refuses a database without a current history.
    /// `idleInTransactionTimeout`: for replicas (a fraction of the lease TTL), the server ends a session of this
    /// process that sits inside a transaction for longer (the process was frozen), releasing its locks.
    public static func open(
        _ url: String,
        readOnly: Bool = false,
        idleInTransactionTimeout: Double? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "scim-rotator.postgres")
    ) async throws -> PostgresHistoryStore {
        let store = try await connect(
            url,
            readOnly: readOnly,
            idleInTransactionTimeout: idleInTransactionTimeout,
            environment: environment,
            logger: logger
        )
        guard let store else { throw HistoryError("unreachable: a history was required") }
        return store
    }

    /// A read-only open that returns nil (instead of failing) when the database has no history yet.
    public static func openExisting(
        _ url: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "scim-rotator.postgres")
    ) async throws -> PostgresHistoryStore? {
        try await connect(url, readOnly: true, missingIsNil: true, environment: environment, logger: logger)
    }

    private static func connect(
        _ url: String,
        readOnly: Bool,
        missingIsNil: Bool = false,
        idleInTransactionTimeout: Double? = nil,
        environment: [String: String],
        logger: Logger
    ) async throws -> PostgresHistoryStore? {
        let parsed = try PostgresURL(url, environment: environment)
        let configuration = try parsed.clientConfiguration(
            environment: environment,
            readOnly: readOnly,
            idleInTransactionTimeout: idleInTransactionTimeout
        )
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let store = PostgresHistoryStore(url: parsed, readOnly: readOnly, client: client, logger: logger)
        // The pool retries a refused connection until its own, much longer, timeout: the first query gets the URL's
        // connect_timeout (10 s by default) and a little more, then the operator hears that nothing answered.
        let patience = Double(parsed.connectTimeout.flatMap { $0 > 0 ? $0 : nil } ?? 10) + 2
        let version = try await store.run {
            try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    try await client.withConnection { try await PostgresSchema.version(on: $0, logger: logger) }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(patience))
                    throw HistoryError(
                        "\(parsed): cannot reach the database (no answer within \(Int(patience)) s); is the server running and the host, port and sslmode right?"
                    )
                }
                defer { group.cancelAll() }
                guard let version = try await group.next() else { throw CancellationError() }
                return version
            }
        }
        if version > PostgresSchema.latest {
            throw HistoryError(
                "\(parsed) was written by a newer scim-rotator (schema version \(version), this one knows \(PostgresSchema.latest)); upgrade scim-rotator"
            )
        }
        guard version < PostgresSchema.latest else { return store }
        if readOnly {
            if version == 0, missingIsNil { return nil }
            throw HistoryError(
                version == 0
                    ? "\(parsed): no scim-rotator history in this database yet; it is created by reconcile, rotate, daemon or `history copy` (connected as the schema's owner)"
                    : "\(parsed) holds an older history (schema version \(version)); run reconcile once, connected as the schema's owner, to upgrade it"
            )
        }
        try await store.run { try await PostgresSchema.migrate(client, logger: logger) }
        return store
    }

    /// Closes the pool's connections.
    public func close() async {
        runner.cancel()
        await runner.value
    }

    /// Runs database work, turning PostgreSQL's errors into the operator's.
    func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw PostgresErrors.explain(error, url: url)
        }
    }

    // MARK: Writing

    public func fingerprintKey() async throws -> SymmetricKey {
        if let key = fingerprint.withLock({ $0 }) { return key }
        let text = try await run {
            try await client.query("SELECT value FROM meta WHERE key = 'fingerprintKey'", logger: logger)
                .collect().first?.decode(String.self)
        }
        guard let text, let data = Data(base64Encoded: text) else {
            throw HistoryError("\(url): the fingerprint key is missing from table meta; the database is damaged")
        }
        let key = SymmetricKey(data: data)
        fingerprint.withLock { $0 = key }
        return key
    }

    /// Writes the step and its events (chained after the newest record) in one transaction; returns once it is
    /// committed on the server's disk. Under a ``LeaseFence`` (a replica's work on a policy) the same transaction
    /// first checks the lease, and writes nothing but throws ``LeaseLost`` when it is no longer held.
    @discardableResult
    public func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent] {
        let fence = LeaseFence.current
        return try await transaction { connection in
            if let fence { try await self.checkFence(fence, on: connection) }
            try await PostgresRows.save(write, on: connection, logger: self.logger)
            guard !write.events.isEmpty else { return [] }
            let last = try await self.lockChain(on: connection)
            let recorded = HashChain.chain(write.events, after: last, at: now)
            try await PostgresRows.insert(recorded, on: connection, logger: self.logger)
            return recorded
        }
    }

    public func appendChained(_ events: [HistoryEvent]) async throws {
        guard !events.isEmpty else { return }
        try await transaction { connection in
            var verifier = HashChain.Verifier(after: try await self.lockChain(on: connection))
            for event in events {
                if let broken = verifier.check(event) {
                    throw HistoryError.doesNotContinue(broken, into: "\(self.url)")
                }
            }
            try await PostgresRows.insert(events, on: connection, logger: self.logger)
        }
    }

    /// Takes the chain's lock for the rest of the transaction and returns the newest record, which no other
    /// appender can change until COMMIT.
    func lockChain(on connection: PostgresConnection) async throws -> (seq: Int64, hash: String)? {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(\(PostgresSchema.lockClass), hashtext('events:' || coalesce(current_schema(), '')))",
            logger: logger
        )
        return try await Self.head(on: connection, logger: logger)
    }

    static func head(on connection: PostgresConnection, logger: Logger) async throws -> (seq: Int64, hash: String)? {
        try await connection.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", logger: logger)
            .collect().first.map { try $0.decode((Int64, String).self) }.map { (seq: $0.0, hash: $0.1) }
    }

    /// Runs `body` in a transaction, with the error its closure threw (not postgres-nio's wrapper) explained.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await run {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                throw error.closureError ?? error.commitError ?? error.beginError ?? error
            }
        }
    }
}

// MARK: Test hooks

extension PostgresHistoryStore {
    /// Runs raw SQL, for tests that tamper with the database on purpose.
    @_spi(Testing)
    public func unsafeExecute(_ sql: String) async throws {
        _ = try await run { try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
    }

    /// One text value of raw SQL (`SHOW synchronous_commit`), for tests.
    @_spi(Testing)
    public func unsafeText(_ sql: String) async throws -> String? {
        try await run {
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(String.self)
        }
    }
}

extension PostgresHistoryStore {
    /// Runs raw SQL on the database `url` names without opening a history there (tests create databases with it).
    @_spi(Testing)
    public static func unsafeAdmin(
        _ url: String,
        _ statements: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        let parsed = try PostgresURL(url, environment: environment)
        let client = PostgresClient(
            configuration: try parsed.clientConfiguration(environment: environment, readOnly: false),
            backgroundLogger: Logger(label: "scim-rotator.postgres.test")
        )
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        for statement in statements {
            do {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            } catch {
                throw PostgresErrors.explain(error, url: parsed)
            }
        }
    }
}

extension PostgresHistoryStore {
    /// Creates an empty database through `adminURL` (a role that may CREATE DATABASE) and returns the URL of the
    /// same role on it: one database per test.
    @_spi(Testing)
    public static func unsafeFreshDatabase(adminURL: String) async throws -> String {
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await unsafeAdmin(adminURL, ["CREATE DATABASE \(name)"])
        let query = adminURL.firstIndex(of: "?").map { String(adminURL[$0...]) } ?? ""
        let base = adminURL.firstIndex(of: "?").map { String(adminURL[..<$0]) } ?? adminURL
        let authority = base.range(of: "://").map { base[$0.upperBound...] } ?? Substring(base)
        let host = authority.firstIndex(of: "/").map { authority[..<$0] } ?? authority
        let scheme = base.hasPrefix("postgresql://") ? "postgresql://" : "postgres://"
        return scheme + host + "/" + name + query
    }
}
