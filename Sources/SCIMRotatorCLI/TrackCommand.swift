internal import ArgumentParser
internal import Foundation
internal import Notifications
internal import RotationEngine
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Track: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "track",
            abstract:
                "Register the SCIM token in use today, for an issuer without a key API (AWS IAM Identity Center).",
            discussion: """
                IAM Identity Center makes and deletes its SCIM tokens only in the console, so this tool cannot list \
                them: register the one your identity provider uses now (no secret is needed, only its dates, as the \
                console shows them). From then on `plan`, `status`, /metrics, key.expiring warnings and \
                notifications work as for the other clouds, and `status`/`reconcile` exit non-zero as expiry nears \
                without a replacement.

                When a rotation is due the tool records rotation.waiting and notifies (kind `action`) with the \
                instruction: generate a new token in the console, then run \
                `scim-rotator rotate POLICY --token-stdin`.

                --expires and --created take an ISO 8601 time, a date (2027-05-01), or a duration from now (+300d). \
                Without --created the token is taken to be a year old at --expires (AWS issues them for a year).
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "The policy (provider: aws-identity-center) whose token to register.")
        var policy: String

        @Option(help: ArgumentHelp("When the token in use expires, as the console shows it.", valueName: "TIME"))
        var expires: String

        @Option(help: ArgumentHelp("When it was made (default: a year before --expires).", valueName: "TIME"))
        var created: String?

        func run() async throws {
            let policy = try common.loadPolicies(only: [self.policy])[0]
            let store = try await common.openStore()
            let wiring = try common.wiring(store: store, logger: common.logger())
            let now = wiring.clock.now()
            guard let expiresAt = Times.parse(expires, now: now) else {
                throw ValidationError("--expires \(expires): write an ISO 8601 time, a date, or a duration like +300d")
            }
            guard expiresAt > now else {
                throw ValidationError(
                    "--expires \(expires) is in the past: an expired token needs no tracking; generate a new one and run "
                        + "`scim-rotator rotate \(policy.name) --token-stdin`"
                )
            }
            let createdAt = try created.map { text -> Date in
                guard let date = Times.parse(text, now: now) else {
                    throw ValidationError("--created \(text): write an ISO 8601 time, a date, or a duration like -65d")
                }
                return date
            }
            if let createdAt, createdAt >= expiresAt {
                throw ValidationError("--created must be before --expires")
            }
            let keyId: String
            do {
                keyId = try await wiring.track(
                    policy,
                    createdAt: createdAt,
                    expiresAt: expiresAt,
                    by: Console.person
                )
            } catch let error as PolicyRunner.TrackError {
                throw CLIError("\(policy.name): \(error.description)", exitCode: 1)
            }
            Console.line("\(policy.name): tracking \(keyId), expires \(Times.short(expiresAt))")
            let result = await wiring.pass(policy)
            await wiring.notifier?.drain()
            Console.line(PassReport.render([result], now: wiring.clock.now()))
        }
    }
}
