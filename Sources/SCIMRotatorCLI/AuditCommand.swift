import ArgumentParser
import Delivery
import Foundation
import Logging
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

extension SCIMRotator {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Check the integrity of the history.",
            subcommands: [Verify.self]
        )

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify",
                abstract: "Re-check the history's SHA-256 hash chain.",
                discussion: """
                    Each event stores the hash of the one before it and of its own fields. An edited, deleted or \
                    reordered record breaks the chain from that point. Exit status 0 when intact; 1 naming the first \
                    broken record.
                    """
            )

            @OptionGroup var common: CommonOptions

            func run() throws {
                let store = try common.openStore(readOnly: true)
                let result = try store.verifyChain()
                if let broken = result.firstBroken {
                    throw CLIError(
                        "audit: record #\(broken.seq) is broken: \(broken.problem) (\(result.checked) records read)",
                        exitCode: 1
                    )
                }
                Console.line("audit: \(result.checked) records, hash chain intact")
            }
        }
    }
}
