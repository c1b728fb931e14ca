import Foundation
import SCIMRotatorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes the key to a file atomically: a temporary file in the same directory, created with `mode` (default 0600)
/// and fsynced, renamed over the target, then the directory fsynced. A reader sees the old key or the new one,
/// never half of one, and a crash never leaves a world-readable copy.
public struct FileSink: DeliverySink {
    public let path: String
    public let mode: Int

    public init(path: String, mode: Int = 0o600) {
        self.path = path
        self.mode = mode
    }

    public var summary: String { SinkLabel.file(path) }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try Self.write(secret, to: path, mode: mode, sink: summary)
        return .done
    }

    /// The atomic write, shared with the manual sink.
    static func write(_ secret: Secret, to path: String, mode: Int, sink: String) throws {
        func failure(_ message: String) -> DeliveryError {
            DeliveryError(sink: sink, message: "\(message): \(String(cString: strerror(errno)))")
        }
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DeliveryError(
                sink: sink,
                message: "the directory \(directory) does not exist; create it (owned by the scim-rotator user)"
            )
        }
        let temporary = (directory as NSString).appendingPathComponent(
            ".\((path as NSString).lastPathComponent).\(UUID().uuidString.prefix(8)).tmp"
        )
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        fchmod(fd, mode_t(mode))
        let bytes = Array(secret.reveal().utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            close(fd)
            throw failure("cannot write \(temporary)")
        }
        guard fsync(fd) == 0 else {
            close(fd)
            throw failure("cannot fsync \(temporary)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw failure("cannot rename the new file over \(path)") }
        ok = true
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
