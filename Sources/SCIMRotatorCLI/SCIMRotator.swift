public import ArgumentParser
internal import Delivery
internal import Foundation

/// `scim-rotator`: keeps the SCIM bearer keys of cloud identity centers fresh.
public struct SCIMRotator: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "scim-rotator",
        abstract: "Keep the SCIM bearer keys of Tencent Cloud CIC and Alibaba Cloud CloudSSO fresh.",
        discussion: """
            Identity providers (Okta, Entra ID, ...) push users and groups into a cloud's identity center over \
            SCIM 2.0 with a bearer key that the cloud issues and that expires. scim-rotator creates the next key \
            before the current one expires, verifies it, delivers it, promotes it, and disables the old key after \
            a grace period, journaling every step so that a crash anywhere resumes cleanly.

            Start with `scim-rotator emulator` to try it against a local emulator of both clouds.
            """,
        version: version,
        subcommands: [
            Daemon.self, Reconcile.self, Rotate.self, Confirm.self, Track.self, PlanCommand.self, Status.self,
            History.self,
            Audit.self,
            PolicyGroup.self, Sync.self, Emulator.self, Demo.self,
        ]
    )

    public init() {}
}

extension SCIMRotator {
    /// Parses the process arguments, runs the command, and exits with its status: 0 on success, 1 when a policy
    /// failed or is blocked, 2 for usage errors, 64+ for the argument parser's own errors.
    public static func runFromCommandLine() async -> Never {
        // A write to a pipe whose reader is gone (an exec sink that exits without reading its stdin, `| head`)
        // returns EPIPE to the writer, which reports it, instead of killing the process without a word.
        SignalDisposition.ignoreBrokenPipes()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let error as CLIError {
            Console.error("scim-rotator: \(error.description)")
            Foundation.exit(error.exitCode)
        } catch {
            exit(withError: error)
        }
    }
}
