internal import ArgumentParser
internal import Foundation
internal import Notifications
internal import RotationEngine
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "confirm",
            abstract: "Confirm a manual delivery: the identity provider now uses the new key, promote it.",
            discussion: """
                A `manual` sink hands the new key to a person (it writes it to a file only the service user can \
                read) and the rotation waits, with the old key still enabled, until that person has pasted it into \
                the identity provider and runs this command. `status` and `plan` show what is waiting. The \
                confirmation is recorded in history (key.confirmed), then the key is promoted at once; the old key \
                is disabled after the policy's grace period as usual.

                --old-deleted (issuers without a key API: AWS IAM Identity Center): you deleted, in the console, \
                the previous token the tool asked you to delete (notification kind `action`, and `status`). It is \
                recorded as deleted (key.deleted, by you).
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "The policy whose manual delivery is done.")
        var policy: String

        @Option(help: "Who confirmed and how, recorded in history.")
        var reason: String?

        @Flag(
            name: .customLong("old-deleted"),
            help: "The previous token you were asked to delete is deleted in the console (no key API issuers)."
        )
        var oldDeleted = false

        func run() async throws {
            let policy = try common.loadPolicies(only: [self.policy])[0]
            let store = try await common.openStore()
            let wiring = try common.wiring(store: store, logger: common.logger())
            let result =
                oldDeleted
                ? await wiring.confirmDeleted(policy, by: Console.person)
                : await wiring.confirm(policy, reason: reason)
            await wiring.notifier?.drain()
            Console.line(PassReport.render([result], now: wiring.clock.now()))
            if result.isFailure { throw CLIError("\(policy.name): \(result.message)", exitCode: 1) }
        }
    }
}
