internal import ArgumentParser
internal import Foundation
internal import Logging
internal import Notifications
internal import Observability
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy

/// Options every command that reads policies or history shares.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Directory of policy files (*.yaml, one per zone).",
            discussion: "Env: SCIM_ROTATOR_POLICIES. Default: ./policies",
            valueName: "dir"
        )
    )
    var policies: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "History database: a SQLite file (created on first use) or a PostgreSQL URL.",
            discussion: """
                Env: SCIM_ROTATOR_DB. Default: ./scim-rotator.sqlite. PostgreSQL: \
                postgres://USER@HOST:PORT/DB?sslmode=disable|require|verify-full[&sslrootcert=FILE]; the password \
                comes from PGPASSWORD or a libpq password file (PGPASSFILE or ~/.pgpass), never from the URL: a URL \
                with a password is refused.
                """,
            valueName: "path|url"
        )
    )
    var db: String?

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical.",
            discussion: "Env: SCIM_ROTATOR_LOG_LEVEL. Default: warning for one-shot commands, info for the daemon.",
            valueName: "level"
        )
    )
    var logLevel: String?

    @Option(
        name: .customLong("log-format"),
        help: ArgumentHelp(
            "human or json (one JSON object per line, for collectors).",
            discussion: "Env: SCIM_ROTATOR_LOG_FORMAT.",
            valueName: "format"
        )
    )
    var logFormat: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var policiesDirectory: String { policies ?? environment["SCIM_ROTATOR_POLICIES"] ?? "./policies" }

    var databasePath: String { db ?? environment["SCIM_ROTATOR_DB"] ?? "./scim-rotator.sqlite" }

    func validate() throws {
        if let level = logLevel ?? environment["SCIM_ROTATOR_LOG_LEVEL"], Logger.Level(rawValue: level) == nil {
            throw ValidationError("--log-level \(level): use trace, debug, info, notice, warning, error or critical")
        }
        if let format = logFormat ?? environment["SCIM_ROTATOR_LOG_FORMAT"], format != "human", format != "json" {
            throw ValidationError("--log-format \(format): use human or json")
        }
    }

    func logger(defaultLevel: Logger.Level = .warning) -> Logger {
        let level =
            (logLevel ?? environment["SCIM_ROTATOR_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        let json = (logFormat ?? environment["SCIM_ROTATOR_LOG_FORMAT"]) == "json"
        var logger = Logger(label: "scim-rotator") { label -> any LogHandler in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        logger.logLevel = level
        return logger
    }

    func loadPolicies(only names: [String] = []) throws -> [Policy] {
        let all: [Policy]
        do {
            all = try PolicyLoader.loadDirectory(policiesDirectory)
        } catch let error as PolicyError {
            throw CLIError("policies are invalid; nothing was run:\n" + error.description, exitCode: 2)
        }
        guard !names.isEmpty else {
            if all.isEmpty {
                throw CLIError(
                    "no policy files (*.yaml) in \(policiesDirectory); pass --policies DIR (see policies/examples/)",
                    exitCode: 2
                )
            }
            return all
        }
        return try names.map { name in
            guard let policy = all.first(where: { $0.name == name }) else {
                let known = all.map(\.name).joined(separator: ", ")
                throw CLIError(
                    "no policy named \(name) in \(policiesDirectory) (known: \(known.isEmpty ? "none" : known))",
                    exitCode: 2
                )
            }
            return policy
        }
    }

    func openStore(readOnly: Bool = false) async throws -> any HistoryStore {
        try await HistoryDatabase.open(databasePath, readOnly: readOnly)
    }
}

/// `--format` for commands with human and machine output.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

extension CommonOptions {
    /// The wiring for commands that change zones, with the crash suite's fail points read from the environment.
    func wiring(store: any HistoryStore, logger: Logger, shutdown: ShutdownSignal = ShutdownSignal()) throws -> Wiring {
        var wiring = Wiring(store: store, databasePath: databasePath, logger: logger, shutdown: shutdown)
        wiring.notifier = Notifier(
            transport: wiring.transport,
            store: store,
            clock: wiring.clock,
            environment: environment,
            logger: logger
        )
        if let leaseStore = store as? any LeaseStore {
            // A command works on a policy under its lease, like a replica; it waits for a replica's work to end.
            wiring.leases = ReplicaLeases(
                store: leaseStore,
                history: store,
                replica: "cli-" + ReplicaLeases.defaultReplicaId(),
                ttl: 30,
                wait: wiring.lockWait,
                clock: wiring.clock,
                logger: logger
            )
        }
        do {
            wiring.failPoints = try FailPoints.fromEnvironment(environment)
        } catch {
            throw CLIError("\(error)", exitCode: 2)
        }
        return wiring
    }
}
