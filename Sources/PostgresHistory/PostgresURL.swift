import Foundation
import NIOSSL
import PostgresNIO
import RotationHistory

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a PostgreSQL history lives: `postgres://USER@HOST:PORT/DB?sslmode=...` (or `postgresql://`), read the way
/// libpq reads it, minus what scim-rotator refuses: a password in the URL (argv and shell histories are readable by
/// others), several hosts, and parameters it does not use. The password comes from `PGPASSWORD` or the libpq
/// password file (`PGPASSFILE`, default `~/.pgpass`).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// TLS as libpq's `sslmode` names it (`allow` has no postgres-nio equivalent and is refused).
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// libpq: a host starting with `/` is the socket *directory*; the socket is `DIR/.s.PGSQL.PORT`.
        case socket(directory: String, port: Int)
    }

    public var user: String
    public var endpoint: Endpoint
    public var database: String
    public var sslMode: SSLMode
    public var sslRootCert: String?
    public var connectTimeout: Int?
    public var applicationName: String?

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    static let usage = "postgres://USER@HOST:PORT/DB?sslmode=disable|require|verify-full[&sslrootcert=FILE]"

    static func invalid(_ problem: String) -> HistoryError {
        HistoryError("--db: \(problem); write \(usage)")
    }

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let schemeEnd = text.range(of: "://"), Self.isURL(text) else {
            throw Self.invalid("not a PostgreSQL URL")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userPart: Substring?
        if let at = rest.lastIndex(of: "@") {
            userPart = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        if let userPart, userPart.contains(":") {
            throw HistoryError(
                "--db: the URL contains a password, which other users can read in the process list; remove it and set PGPASSWORD or put it in a password file (PGPASSFILE or ~/.pgpass, libpq format)"
            )
        }
        if rest.contains(",") { throw Self.invalid("several hosts are not supported; name one host") }

        var host: String?
        var port: Int?
        if rest.hasPrefix("[") {  // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw Self.invalid("unterminated [ in the host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                port = Int(after.dropFirst()) ?? -1
            } else if !after.isEmpty {
                throw Self.invalid("unexpected \(after) after the host")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = try Self.decode(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        } else if !rest.isEmpty {
            host = try Self.decode(rest)
        }
        if let port, !(1...65535).contains(port) { throw Self.invalid("the port must be a number from 1 to 65535") }

        var user = try userPart.map { try Self.decode($0) }
        var database = path.isEmpty ? nil : try Self.decode(path)
        var sslMode: SSLMode?
        var rootCert: String?
        var timeout: Int?
        var appName: String?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0])
            if key == "password" {
                throw HistoryError(
                    "--db: the URL contains a password; remove it and set PGPASSWORD or use a password file (PGPASSFILE or ~/.pgpass)"
                )
            }
            guard parts.count == 2 else { throw Self.invalid("the URL parameter \(key) has no value") }
            let value = try Self.decode(parts[1])
            switch key {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw Self.invalid(
                        "sslmode=\(value) is not one of disable, prefer, require, verify-ca, verify-full"
                    )
                }
                sslMode = mode
            case "sslrootcert": rootCert = value
            case "host": host = value
            case "port":
                guard let number = Int(value), (1...65535).contains(number) else {
                    throw Self.invalid("port=\(value) is not a port")
                }
                port = number
            case "user": user = value
            case "dbname": database = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw Self.invalid("connect_timeout=\(value) is not a number of seconds")
                }
                timeout = seconds
            case "application_name": appName = value
            default:
                throw Self.invalid(
                    "unsupported URL parameter \(key) (known: sslmode, sslrootcert, host, port, user, dbname, connect_timeout, application_name)"
                )
            }
        }
        // libpq's defaults: PGHOST/PGPORT/PGUSER/PGDATABASE/PGSSLMODE/PGSSLROOTCERT, then the socket, 5432, the OS user.
        let resolvedPort = port ?? environment["PGPORT"].flatMap(Int.init) ?? 5432
        let resolvedHost = host ?? environment["PGHOST"] ?? "/var/run/postgresql"
        guard let resolvedUser = user ?? environment["PGUSER"] ?? environment["USER"], !resolvedUser.isEmpty else {
            throw Self.invalid("no user in the URL")
        }
        self.user = resolvedUser
        self.database = database ?? environment["PGDATABASE"] ?? resolvedUser
        self.endpoint =
            resolvedHost.hasPrefix("/")
            ? .socket(directory: resolvedHost, port: resolvedPort) : .tcp(host: resolvedHost, port: resolvedPort)
        self.sslMode = sslMode ?? environment["PGSSLMODE"].flatMap(SSLMode.init) ?? .prefer
        self.sslRootCert = rootCert ?? environment["PGSSLROOTCERT"]
        self.connectTimeout = timeout
        self.applicationName = appName
        if self.sslMode == .verifyFull || self.sslMode == .verifyCA, let root = self.sslRootCert,
            !FileManager.default.isReadableFile(atPath: root)
        {
            throw Self.invalid("sslrootcert=\(root) cannot be read")
        }
    }

    private static func decode(_ text: Substring) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw invalid("bad percent-encoding in \(text)")
        }
        return decoded
    }

    public var port: Int {
        switch endpoint {
        case .tcp(_, let port), .socket(_, let port): return port
        }
    }

    /// The URL as messages show it (it never holds a password).
    public var description: String {
        let host: String
        switch endpoint {
        case .tcp(let name, _): host = name.contains(":") ? "[\(name)]" : name
        case .socket(let directory, _): host = directory
        }
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// The host as libpq matches it against the password file: a socket in the default directory is `localhost`.
    var passwordFileHost: String {
        switch endpoint {
        case .tcp(let host, _): return host
        case .socket(let directory, _): return directory == "/var/run/postgresql" ? "localhost" : directory
        }
    }

    /// `PGPASSWORD`, else the first matching line of the password file (`PGPASSFILE`, default `~/.pgpass`).
    func password(environment: [String: String]) throws -> String? {
        if let password = environment["PGPASSWORD"] { return password }
        let file = environment["PGPASSFILE"] ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass"
        return try PasswordFile.lookup(
            path: file,
            host: passwordFileHost,
            port: String(port),
            database: database,
            user: user
        )
    }

    /// The libpq sslmode as a postgres-nio TLS setting.
    func tls() -> PostgresClient.Configuration.TLS {
        var config = TLSConfiguration.makeClientConfiguration()
        if let root = sslRootCert { config.trustRoots = .file(root) }
        switch sslMode {
        case .disable:
            return .disable
        case .prefer:
            config.certificateVerification = .none
            return .prefer(config)
        case .require:
            // libpq: `require` verifies the chain like verify-ca when a root certificate file is given.
            config.certificateVerification = sslRootCert == nil ? .none : .noHostnameVerification
            return .require(config)
        case .verifyCA:
            config.certificateVerification = .noHostnameVerification
            return .require(config)
        case .verifyFull:
            config.certificateVerification = .fullVerification
            return .require(config)
        }
    }

    /// The client configuration: TLS, the password, and `synchronous_commit = on` for every session (a commit
    /// returns once it is on the server's disk, whatever the server's default).
    func clientConfiguration(
        environment: [String: String],
        readOnly: Bool,
        idleInTransactionTimeout: Double? = nil
    ) throws -> PostgresClient.Configuration {
        let password = try self.password(environment: environment)
        var config: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            config = .init(
                host: host,
                port: port,
                username: user,
                password: password,
                database: database,
                tls: tls()
            )
        case .socket(let directory, let port):
            config = .init(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)",
                username: user,
                password: password,
                database: database
            )
        }
        config.options.connectTimeout = .seconds(Int64(connectTimeout.flatMap { $0 > 0 ? $0 : nil } ?? 10))
        var parameters = [("application_name", applicationName ?? "scim-rotator"), ("synchronous_commit", "on")]
        // A replica frozen inside a transaction would keep its lease row and chain locks: the server ends such a
        // session after this long, so that a lease can be taken over and the chain appended to.
        if let idleInTransactionTimeout {
            parameters.append(("idle_in_transaction_session_timeout", "\(Int(idleInTransactionTimeout * 1_000))ms"))
        }
        if readOnly { parameters.append(("default_transaction_read_only", "on")) }
        config.options.additionalStartupParameters = parameters
        config.options.minimumConnections = 0
        config.options.maximumConnections = 8
        return config
    }
}

/// libpq's password file: `hostname:port:database:username:password`, `*` matches anything, `\` escapes `:` and
/// `\`, lines starting with `#` are comments, the first match wins. libpq ignores a file with group or world access
/// (with a warning); scim-rotator refuses it, naming the fix.
enum PasswordFile {
    static func lookup(path: String, host: String, port: String, database: String, user: String) throws -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        if info.st_mode & 0o077 != 0 {
            throw HistoryError(
                "the password file \(path) can be read by other users; run chmod 600 \(path) (libpq ignores such a file)"
            )
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" }) {
            var line = Substring(rawLine)
            while line.last == "\r" { line = line.dropLast() }
            if line.first == "#" || line.isEmpty { continue }
            let fields = split(line)
            guard fields.count == 5 else { continue }
            let wanted = [host, port, database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// The fields of one line: split at unescaped colons; the password ends at the next one, if any.
    static func split(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                if fields.count == 4 { break }
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
