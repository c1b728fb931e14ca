import Foundation
import GRDB
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The history database as a file: created 0600 and kept so (the database holds the fingerprint key; its `-wal`
/// holds recent pages of it; SQLite gives `-wal` and `-shm` the database file's own mode), refused when it is
/// another application's or damaged, opened read-only (or immutable) for a backup, and SQLite's errors explained to
/// the operator.
enum SQLiteFile {
    /// Creates an empty database file readable by its owner only (SQLite would create it 0644 less the umask), or
    /// takes group and other permissions off an existing one.
    static func createPrivately(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
            return
        }
        guard errno == EEXIST else {
            let reason = String(cString: strerror(errno))
            throw HistoryError("\(path) cannot be created (\(reason)); check that this user can write the directory")
        }
        keepPrivate(path)
    }

    /// Takes group and other permissions off the database and its `-wal` and `-shm` files (where this user may).
    static func keepPrivate(_ path: String) {
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0, info.st_mode & 0o077 != 0 else { continue }
            _ = chmod(file, info.st_mode & 0o700)
        }
    }

    /// The first 100 bytes (SQLite's database header); nil when the file cannot be read.
    static func header(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 100)
        let count = pread(fd, &bytes, 100, 0)
        return count < 0 ? nil : Array(bytes.prefix(count))
    }

    /// Opens read-only; when that fails because SQLite cannot create the `-shm` file it needs for WAL (the directory
    /// or the file is read-only to this user), opens the file as immutable instead: read exactly as it is on disk.
    static func openReadOnly(path: String, configuration: Configuration) throws -> DatabaseQueue {
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        } catch let error as DatabaseError
            where [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM].contains(error.resultCode)
            && sqlite3_compileoption_used("USE_URI") == 1
        {
            var allowed = CharacterSet.urlPathAllowed
            allowed.remove(charactersIn: "?#%")
            let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
            let queue = try DatabaseQueue(path: "file:\(encoded)?immutable=1", configuration: configuration)
            _ = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        }
    }

    /// Refuses a database that belongs to another application, before anything is written to it: its
    /// `application_id` is someone else's, or it has tables and they are not scim-rotator's. An empty or new file is
    /// fine, and so is a scim-rotator database from before application ids (it gets one on its next writable open).
    static func checkOwnership(path: String) throws {
        guard let header = header(path), header.count >= 100,
            header.starts(with: Array("SQLite format 3\u{0}".utf8))
        else { return }  // new, empty, or not SQLite at all (SQLite itself says so)
        let id = header[68..<72].reduce(Int32(0)) { ($0 << 8) | Int32($1) }
        if id == SQLiteSchema.applicationID { return }
        if id != 0 {
            throw HistoryError(
                "\(path) is another application's SQLite database (application_id 0x\(String(UInt32(bitPattern: id), radix: 16))), not a scim-rotator history; nothing was written to it. Point --db at a file of its own (a new path is created)"
            )
        }
        var configuration = Configuration()
        configuration.readonly = true
        guard
            let tables = try? DatabaseQueue(path: path, configuration: configuration).read({ db in
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            })
        else { return }  // cannot look inside: opening it says why
        let ours: Set = ["grdb_migrations", "meta", "events"]
        if tables.isEmpty || ours.isSubset(of: Set(tables)) { return }
        let shown = tables.prefix(8).joined(separator: ", ") + (tables.count > 8 ? ", ..." : "")
        throw HistoryError(
            "\(path) is another application's SQLite database (tables: \(shown)), not a scim-rotator history; nothing was written to it. Point --db at a file of its own (a new path is created)"
        )
    }

    /// SQLite's quick check on a read-only connection, before anything is written: a damaged database is never
    /// written to. A new (empty) file passes.
    static func quickCheck(path: String, configuration: Configuration) throws {
        guard (header(path)?.count ?? 0) > 0 else { return }
        var readOnly = configuration
        readOnly.readonly = true
        let problems = try DatabaseQueue(path: path, configuration: readOnly).unsafeRead { db in
            try checkRows(db, pragma: "quick_check(5)")
        }
        guard problems != ["ok"] else { return }
        throw HistoryError(
            "\(path) fails SQLite's quick check (\(problems.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") }.joined(separator: "; "))): it is damaged, and nothing was written to it. Restore it from a backup; `scim-rotator audit verify` shows what is still readable"
        )
    }

    /// The rows of a checking pragma; SQLite may report the damage as rows and then fail the statement with
    /// SQLITE_CORRUPT, which becomes the last row here instead of an error. (Run outside a transaction: a read
    /// transaction's COMMIT would fail on the same damage.)
    static func checkRows(_ db: Database, pragma: String) throws -> [String] {
        var rows: [String] = []
        do {
            let cursor = try String.fetchCursor(db, sql: "PRAGMA \(pragma)")
            while let row = try cursor.next() { rows.append(row) }
        } catch let error as DatabaseError
            where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
        {
            rows.append(error.message ?? "database disk image is malformed")
        }
        return rows
    }

    /// SQLite's error, phrased for the operator: what, where, and what to do.
    static func explain(_ error: DatabaseError, path: String) -> HistoryError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return HistoryError(
                "\(path) is not a scim-rotator history database, or it is corrupted (SQLite: \(error.message ?? "\(error.resultCode)")); restore it from a backup or move it aside"
            )
        case .SQLITE_READONLY:
            return HistoryError(
                "\(path) is read-only for this user; scim-rotator must be able to write its history (check the file and directory permissions)"
            )
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return HistoryError(
                "\(path) cannot be opened (\(error.message ?? "\(error.resultCode)")); check that the path is a file this user can read and write"
            )
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return HistoryError(
                "\(path) is locked by another process; retry, or find what holds it (another scim-rotator?)"
            )
        case .SQLITE_FULL:
            return HistoryError("\(path): the disk is full; free space, nothing was recorded for the last step")
        default:
            return HistoryError("\(path): SQLite error \(error.resultCode): \(error.message ?? "")")
        }
    }

}
