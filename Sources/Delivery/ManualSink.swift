import Foundation
import SCIMRotatorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// For identity providers that cannot take a key over an API (an Okta custom SCIM app, a console-only IdP): writes
/// the key to a file only the service user can read, records a pending action, notifies, and waits until a person
/// pastes it into the IdP and runs `scim-rotator confirm POLICY`. The old key stays enabled until then.
public struct ManualSink: DeliverySink {
    public let file: String
    public let mode: Int
    public let instructions: String

    public init(file: String, mode: Int = 0o600, instructions: String) {
        self.file = file
        self.mode = mode
        self.instructions = instructions
    }

    public var summary: String { SinkLabel.manual(file) }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try FileSink.write(secret, to: file, mode: mode, sink: summary)
        return DeliveryReceipt(
            detail: ["file": file],
            awaitingConfirmation:
                "\(Self.sentence(instructions))The new key (\(context.keyId)) is in \(file); when the identity provider uses it, run: scim-rotator confirm \(context.policy)"
        )
    }

    /// The instructions as a sentence followed by a space: a full stop added when they end without one.
    static func sentence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let last = trimmed.last else { return "" }
        return trimmed + (".!?".contains(last) ? " " : ". ")
    }

    /// Removes the key file once the key it holds is promoted (the person has it in the identity provider, and a
    /// live secret has no business lying around): overwrites it with zeros, syncs, unlinks it and syncs the
    /// directory. A symlink is removed, never followed. Returns false when there was no file.
    @discardableResult
    public func removeFile() throws -> Bool {
        let fd = open(file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            switch errno {
            case ENOENT: return false
            case ELOOP: return try unlinkAndSync()  // a symlink: remove the link only
            default: throw failure("cannot open it to erase it")
            }
        }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            let zeros = [UInt8](repeating: 0, count: 4_096)
            var remaining = Int(info.st_size)
            while remaining > 0 {
                let count = write(fd, zeros, min(remaining, zeros.count))
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                remaining -= count
            }
            _ = fsync(fd)
        }
        close(fd)
        return try unlinkAndSync()
    }

    private func unlinkAndSync() throws -> Bool {
        guard unlink(file) == 0 else {
            if errno == ENOENT { return false }
            throw failure("cannot remove it")
        }
        let directory = (file as NSString).deletingLastPathComponent
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
        return true
    }

    private func failure(_ what: String) -> DeliveryError {
        DeliveryError(sink: summary, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
