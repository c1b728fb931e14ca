import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory `flock` on a file next to the history database (created 0600). The kernel releases it when the process dies,
/// so a crash never leaves a stale lock behind.
///
/// - `<db>.lock`: held by a running daemon (a second daemon on the same database refuses to start).
/// - `<db>.locks/<policy>.lock`: held while one process works on a policy (daemon, reconcile, rotate), so that two
///   processes never run the same zone's steps at once.
public final class FileLock: Sendable {
    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Takes the lock, waiting up to `wait` seconds; `.failure` (with the holder's pid, if it wrote one) when another
    /// process keeps it that long. Waiting suspends the task between attempts (every 50 ms): it never blocks a thread
    /// of the concurrency pool. Cancellation ends the wait early with `.failure`.
    public static func acquire(path: String, wait: Double = 0) async throws -> Result<FileLock, Held> {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            // Lock files say which processes work on which policy: for the service user only.
            try? FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw HistoryError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, wait) * 1_000))
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                ftruncate(fd, 0)
                let pid = "\(getpid())\n"
                _ = pid.withCString { write(fd, $0, strlen($0)) }
                return .success(FileLock(path: path, descriptor: fd))
            }
            if ContinuousClock.now >= deadline || Task.isCancelled {
                var buffer = [UInt8](repeating: 0, count: 32)
                let count = pread(fd, &buffer, 31, 0)
                close(fd)
                let text = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
                return .failure(Held(path: path, pid: Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))))
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Another process holds the lock.
    public struct Held: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var pid: Int32?
        public var description: String {
            "\(path) is held by \(pid.map { "process \($0)" } ?? "another process")"
        }
    }
}
