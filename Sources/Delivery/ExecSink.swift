import Foundation
import SCIMRotatorCore

/// Runs a program that pushes the key somewhere (an identity provider's API, a secret store).
///
/// The secret arrives on stdin, never in argv or the environment. The child gets a minimal environment (PATH, HOME,
/// LANG and `SCIM_ROTATOR_*` metadata) rather than this process's, so that cloud access keys never reach it.
/// A non-zero exit, a signal or the timeout (SIGTERM, then SIGKILL a second later) fails the delivery.
public struct ExecSink: DeliverySink {
    public let command: [String]
    public let timeout: Double

    public init(command: [String], timeout: Double = 60) {
        self.command = command
        self.timeout = timeout
    }

    public var summary: String { "exec \(command.first ?? "")" }

    /// The whole command line: two exec sinks of one policy may run the same program with other arguments.
    public var identity: String { "exec " + command.joined(separator: " ") }

    /// The child's whole environment.
    public static func environment(for context: DeliveryContext) -> [String: String] {
        let parent = ProcessInfo.processInfo.environment
        var environment = [
            "PATH": parent["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "SCIM_ROTATOR_POLICY": context.policy,
            "SCIM_ROTATOR_PROVIDER": context.provider.rawValue,
            "SCIM_ROTATOR_ZONE": context.zone,
            "SCIM_ROTATOR_KEY_ID": context.keyId,
            "SCIM_ROTATOR_KEY_EXPIRES": context.expiresAt.formatted(Date.ISO8601FormatStyle()),
            "SCIM_ROTATOR_SCIM_URL": context.scimURL.absoluteString,
        ]
        for name in ["HOME", "LANG", "TZ"] { environment[name] = parent[name] }
        return environment
    }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        guard let executable = command.first else { throw DeliveryError(sink: summary, message: "empty command") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        process.environment = Self.environment(for: context)
        let stdin = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw DeliveryError(
                sink: summary,
                message:
                    "cannot start \(executable): \(error.localizedDescription); check the path and that it is executable"
            )
        }
        let errorOutput = Task.detached { stderr.fileHandleForReading.readDataToEndOfFile() }
        do {
            try stdin.fileHandleForWriting.write(contentsOf: Data(secret.reveal().utf8))
        } catch {
            // The child may exit without reading; its exit status decides.
        }
        try? stdin.fileHandleForWriting.close()
        let timedOut = await Self.wait(for: process, timeout: timeout)
        let tail = String(decoding: (await errorOutput.value).suffix(400), as: UTF8.self)
            .redacting([secret]).trimmingCharacters(in: .whitespacesAndNewlines)
        if timedOut {
            throw DeliveryError(sink: summary, message: "did not finish within \(Int(timeout))s; stopped it")
        }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how =
                process.terminationReason == .exit
                ? "exited with \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw DeliveryError(sink: summary, message: how + (tail.isEmpty ? "" : ": \(tail)"))
        }
        return .done
    }

    /// Waits for the child; after `timeout` sends SIGTERM, and SIGKILL if it is still running a second later (a
    /// child can inherit an ignored SIGTERM from a daemon that handles its own signals).
    /// Returns whether it timed out.
    static func wait(for process: Process, timeout: Double) async -> Bool {
        if await exits(process, within: timeout) { return false }
        process.terminate()
        if await !exits(process, within: 1) {
            kill(process.processIdentifier, SIGKILL)
            _ = await exits(process, within: 5)
        }
        return true
    }

    static func exits(_ process: Process, within seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return true
    }
}
