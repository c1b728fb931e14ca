internal import Foundation
internal import Logging
internal import PostgresHistory
internal import RotationHistory

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The one place the CLI opens a history: `--db` (or `SCIM_ROTATOR_DB`) is a SQLite path or a PostgreSQL URL
/// (`postgres://USER@HOST:PORT/DB?sslmode=...`, the password from `PGPASSWORD` or a libpq password file).
enum HistoryDatabase {
    /// Whether `location` is a PostgreSQL URL (else a SQLite path).
    static func isURL(_ location: String) -> Bool { PostgresURL.isURL(location) }

    /// Opens (creating and migrating, unless `readOnly`) the history at `location`.
    /// `idleInTransactionTimeout`: PostgreSQL replicas (see ``PostgresHistoryStore/open(_:readOnly:idleInTransactionTimeout:environment:logger:)``).
    static func open(
        _ location: String,
        readOnly: Bool = false,
        idleInTransactionTimeout: Double? = nil
    ) async throws -> any HistoryStore {
        do {
            if isURL(location) {
                return try await PostgresHistoryStore.open(
                    location,
                    readOnly: readOnly,
                    idleInTransactionTimeout: idleInTransactionTimeout,
                    logger: logger
                )
            }
            return try SQLiteHistoryStore(path: location, readOnly: readOnly)
        } catch let error as HistoryError {
            throw CLIError(error.description, exitCode: 3)
        }
    }

    /// The history at `location` read-only, or nil when there is none yet (first contact).
    static func openExisting(_ location: String) async throws -> (any HistoryStore)? {
        if isURL(location) {
            do {
                return try await PostgresHistoryStore.openExisting(location, logger: logger)
            } catch let error as HistoryError {
                throw CLIError(error.description, exitCode: 3)
            }
        }
        guard FileManager.default.fileExists(atPath: location) else { return nil }
        return try await open(location, readOnly: true)
    }

    /// What the daemon's and the policies' lock files are named after: the SQLite file itself, or for a PostgreSQL
    /// history ``lockBase(_:)``.
    static func lockLocation(_ location: String) -> String { isURL(location) ? lockBase(location) : location }

    /// Where this machine's lock files for a PostgreSQL history go (the daemon's and each policy's, as beside a SQLite
    /// file): a directory private to this user under the temporary directory, named after the server and database,
    /// so that every URL spelling of one database takes the same locks. They keep processes on one machine apart;
    /// replicas on several machines need the database's leases.
    static func lockBase(_ url: String) -> String {
        let name: String
        if let parsed = try? PostgresURL(url) {
            let host: String
            switch parsed.endpoint {
            case .tcp(let address, _): host = address
            case .socket(let directory, _): host = directory
            }
            name = "\(host)-\(parsed.port)-\(parsed.database)"
        } else {
            name = url
        }
        let safe = String(name.map { $0.isLetter || $0.isNumber || "-._".contains($0) ? $0 : "_" })
        return FileManager.default.temporaryDirectory.path + "/scim-rotator-\(getuid())/postgres-\(safe)"
    }

    /// postgres-nio's own messages (connection retries) stay quiet: failures reach the operator as errors.
    static var logger: Logger {
        var logger = Logger(label: "scim-rotator.postgres")
        logger.logLevel = .critical
        return logger
    }
}
