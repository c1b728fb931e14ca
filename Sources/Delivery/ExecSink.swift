import CSpawn
import Foundation
import SCIMRotatorCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program that pushes the key somewhere (an identity provider's API, a secret store).
///
/// The secret arrives on stdin, never in argv or the environment. The child gets a minimal environment (PATH, HOME,
/// LANG and `SCIM_ROTATOR_*` metadata) rather than this process's, so that cloud access keys never reach it.
/// A non-zero exit, a signal or the timeout (SIGTERM to its process group, then SIGKILL a second later) fails the
/// delivery. A program that exits without reading stdin is judged by its exit status alone.
///
/// The program runs in its own process group, with default signal handling, and cannot outlive scim-rotator: when
/// this process dies (even by `kill -9`) the program and everything it started are killed, and once the program
/// exits, whatever it left running in its group is killed too, so no abandoned key is ever written later.
public struct ExecSink: DeliverySink {
    public let command: [String]
    public let timeout: Double

    public init(command: [String], timeout: Double = 60) {
        self.command = command
        self.timeout = timeout
    }

    public var summary: String { SinkLabel.exec(command) }

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
        guard let executable = command.first, !executable.isEmpty else {
            throw DeliveryError(sink: summary, message: "empty command")
        }
        SignalDisposition.ignoreBrokenPipes()
        let program: SpawnedProgram
        do {
            program = try SpawnedProgram(
                path: executable,
                arguments: command,
                environment: Self.environment(for: context)
            )
        } catch let error as SpawnedProgram.StartError {
            throw DeliveryError(sink: summary, message: "cannot start \(executable): \(error); \(Self.startHint)")
        }
        defer { program.release() }
        let inputProblem: Int32?
        let outcome: SpawnedProgram.Outcome
        if let failure = await program.started() {
            inputProblem = nil
            outcome = failure
        } else {
            inputProblem = program.writeInput(Data(secret.reveal().utf8))
            outcome = await program.exit(timeout: timeout)
        }
        // Redacted before it is cut to its end, so that a secret on the cut cannot survive in part.
        let tail = String(
            String(decoding: await program.errorOutput(), as: UTF8.self).redacting([secret])
                .trimmingCharacters(in: .whitespacesAndNewlines).suffix(400)
        )
        let said = tail.isEmpty ? "" : ": \(tail)"
        switch outcome {
        case .exited(0):
            // Its exit status decides; the history still says that the key never reached it.
            return inputProblem == nil
                ? .done : DeliveryReceipt(detail: ["stdin": "exited 0" + Self.input(inputProblem)])
        case .timedOut:
            throw DeliveryError(
                sink: summary,
                message: "did not finish within \(Self.seconds(timeout)); stopped it and its process group" + said
            )
        case .exited(let status):
            throw DeliveryError(sink: summary, message: "exited with \(status)" + Self.input(inputProblem) + said)
        case .signaled(let signal):
            throw DeliveryError(
                sink: summary,
                message: "was killed by signal \(signal)" + Self.input(inputProblem) + said
            )
        case .execFailed(let code):
            throw DeliveryError(
                sink: summary,
                message: "cannot start \(executable): \(SpawnedProgram.describe(errno: code)); \(Self.startHint)"
            )
        }
    }

    static let startHint = "check the path and that it is executable"

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))s" : "\(value)s"
    }

    /// What happened to the key on its way in, when that may explain the failure.
    static func input(_ problem: Int32?) -> String {
        guard let problem else { return "" }
        if problem == EPIPE { return " without reading the key from stdin (broken pipe)" }
        if problem == EAGAIN { return " without reading the key from stdin" }
        return " (writing the key to its stdin failed: \(SpawnedProgram.describe(errno: problem)))"
    }
}
