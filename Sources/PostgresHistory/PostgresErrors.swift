import Foundation
import NIOCore
import PostgresNIO
import RotationHistory

/// PostgreSQL's errors, phrased for the operator: what, where, and what to do. Only the server's message and SQL
/// state are shown, never the statement's parameters.
enum PostgresErrors {
    static func explain(_ error: any Error, url: PostgresURL) -> any Error {
        if error is HistoryError || error is CancellationError || error is LeaseLost { return error }
        if let transaction = error as? PostgresTransactionError {
            let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError
            return inner.map { explain($0, url: url) } ?? HistoryError("\(url): the transaction failed")
        }
        if String(describing: type(of: error)).contains("ConnectionPoolError") {
            // The pool gave up creating connections (its circuit breaker tripped after repeated failures).
            return HistoryError(
                "\(url): cannot reach the database (no connection could be made); is the server running and the host, port and sslmode right?"
            )
        }
        guard let error = error as? PSQLError else {
            return HistoryError("\(url): \(error)")
        }
        let message = error.serverInfo?[.message] ?? ""
        switch error.serverInfo?[.sqlState] {
        case "28P01":
            return HistoryError(
                "\(url): password authentication failed for \(url.user); set PGPASSWORD or put the password in a password file (PGPASSFILE or ~/.pgpass, mode 0600: HOST:PORT:DB:USER:PASSWORD)"
            )
        case "28000":
            return HistoryError("\(url): the server refused the connection (\(message)); check pg_hba.conf and sslmode")
        case "3D000":
            return HistoryError("\(url): the database \(url.database) does not exist (\(message)); create it first")
        case "42501":
            return HistoryError(
                "\(url): \(url.user) lacks a privilege (\(message)); the daemon's role needs SELECT and INSERT on every table and UPDATE on rotations, keys, sinks, policy_state, leases and replicas and DELETE on replicas (deploy/README.md, \"Database grants\"); creating or upgrading the tables needs the schema's owner"
            )
        case "SR001":
            return HistoryError("\(url): \(message): the audit history cannot be changed or deleted")
        case "25006":
            return HistoryError("\(url): this command opened the history read-only (\(message))")
        case "23505":
            return HistoryError(
                "\(url): another writer appended the same record (\(message)); nothing was written, retry"
            )
        case let state?:
            return HistoryError("\(url): PostgreSQL error \(state): \(message)")
        case nil:
            break
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection:
            let reason = error.underlying.map { "\($0)" } ?? "\(error.code)"
            return HistoryError(
                "\(url): cannot reach the database (\(reason)); is the server running and the host, port and sslmode right?"
            )
        case .sslUnsupported:
            return HistoryError("\(url): the server does not offer TLS; use sslmode=disable only on a trusted network")
        default:
            let reason = error.underlying.map { "\($0)" } ?? "\(error.code)"
            return HistoryError("\(url): \(reason)")
        }
    }
}
