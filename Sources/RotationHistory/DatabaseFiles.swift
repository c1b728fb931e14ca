import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The history database's files on disk: created 0600 and kept so. The database holds the fingerprint key; its
/// `-wal` holds recent pages of it; SQLite gives `-wal` and `-shm` the database file's own mode.
enum DatabaseFiles {
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
}
