internal import ArgumentParser
internal import Foundation
internal import Notifications
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Rotate a policy's key now, ignoring its window and schedule.",
            discussion: """
                A normal rotation: create, verify, deliver, promote; the previous key stays enabled for the \
                policy's gracePeriod, then the daemon (or reconcile) disables it.

                At the key limit (two keys on both clouds) room is made only from keys that serve no one: disabled \
                or expired keys, keys this tool created and handed to no sink, the previous key once its grace \
                period is over. A key someone may still use (the previous key in its grace period, a key a console \
                user made, a key a sink holds) blocks the rotation, which names it and says why; \
                --retire KEY_ID is your consent to retire that one key (recorded in history with the reason).

                --emergency: the current key is presumed leaked. After the new key is delivered and promoted, every \
                other key is disabled at once (no grace); with --delete-old they are deleted too. At the key limit \
                an emergency may retire keys in use, the compromised current key last: provisioning with it then \
                pauses until the new key is delivered, and that gap is recorded in history.

                While a rotation is in progress (a failed sink retried after a back-off) this resumes it at once; \
                while one waits for `confirm`, only --emergency replaces it.

                --token-stdin (issuers without a key API: AWS IAM Identity Center): paste the token you generated \
                in the console on standard input (never an argument; not echoed on a terminal). It is verified \
                against the tenant's SCIM endpoint, delivered to every sink, and promoted; a token that fails \
                verification is never delivered, and one handed over before is refused. --expires says when it \
                expires (default: a year from now, as AWS issues them). After the grace period you are asked to \
                delete the previous token in the console and to run `scim-rotator confirm POLICY --old-deleted`.

                Safe while a daemon runs: it waits for the daemon to finish its current step on this policy.
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "The policy to rotate.")
        var policy: String

        @Option(help: "Why, recorded in history (required with --emergency).")
        var reason: String?

        @Flag(help: "The current key is presumed leaked: disable every other key without a grace period.")
        var emergency = false

        @Flag(name: .customLong("delete-old"), help: "With --emergency: delete the other keys too.")
        var deleteOld = false

        @Option(
            name: .customLong("retire"),
            help: ArgumentHelp(
                "Consent to retire this key if the zone is at its limit (repeatable).",
                valueName: "KEY_ID"
            )
        )
        var retire: [String] = []

        @Flag(
            name: .customLong("token-stdin"),
            help: "Read the new token, made in the issuer's console, from standard input (no key API issuers)."
        )
        var tokenStdin = false

        @Option(
            help: ArgumentHelp(
                "With --token-stdin: when the token expires (ISO 8601, a date, or +365d; default a year from now).",
                valueName: "TIME"
            )
        )
        var expires: String?

        func validate() throws {
            if expires != nil, !tokenStdin {
                throw ValidationError("--expires only goes with --token-stdin")
            }
            if emergency, reason?.isEmpty ?? true {
                throw ValidationError("--emergency needs --reason TEXT (it is recorded in history)")
            }
            if deleteOld, !emergency {
                throw ValidationError("--delete-old only goes with --emergency")
            }
        }

        func run() async throws {
            let policy = try common.loadPolicies(only: [self.policy])[0]
            let store = try await common.openStore()
            let wiring = try common.wiring(store: store, logger: common.logger())
            var request = RotationRequest(
                trigger: emergency ? .emergency : .manual,
                reason: reason ?? "manual rotation",
                deleteOld: deleteOld,
                retire: retire
            )
            let traits = policy.provider.traits
            if !traits.canCreate, !tokenStdin {
                Console.error(
                    "note: \(traits.serviceName) has no key API: this records that a rotation waits for a token; "
                        + "generate it in \(traits.consoleName) and hand it over with --token-stdin"
                )
            }
            if tokenStdin {
                guard !traits.canCreate else {
                    throw CLIError(
                        "\(policy.name): \(traits.serviceName) creates keys through its API: run `scim-rotator rotate "
                            + "\(policy.name)` without --token-stdin",
                        exitCode: 2
                    )
                }
                let now = wiring.clock.now()
                let expiresAt =
                    try expires.map { text -> Date in
                        guard let date = Times.parse(text, now: now), date > now else {
                            throw ValidationError("--expires \(text): write a future ISO 8601 time, a date, or +365d")
                        }
                        return date
                    } ?? now.addingTimeInterval(traits.defaultKeyLifetime.timeInterval)
                let token = Console.readSecret(prompt: "Paste the new SCIM token for \(policy.name) and press Enter:")
                guard !token.isEmpty else {
                    throw CLIError("\(policy.name): no token on standard input; nothing was changed", exitCode: 2)
                }
                if let seen = try await PolicyRunner.handedOverBefore(Secret(token), policy: policy.name, store: store)
                {
                    throw CLIError(
                        "\(policy.name): this token was handed over before (key \(seen.keyId), \(seen.role.rawValue)): "
                            + "generate a new one in \(traits.consoleName); nothing was changed",
                        exitCode: 2
                    )
                }
                request.token = HandedToken(secret: Secret(token), expiresAt: expiresAt, enteredBy: Console.person)
            }
            let result = await wiring.pass(policy, request: request)
            await wiring.notifier?.drain()
            Console.line(PassReport.render([result], now: wiring.clock.now()))
            if result.isFailure {
                throw CLIError("\(policy.name): \(result.message)", exitCode: 1)
            }
            if result.rotations.isEmpty {
                throw CLIError("\(policy.name): no rotation started: \(result.message)", exitCode: 1)
            }
            if let rotation = result.rotations.last, let record = try await store.rotation(id: rotation) {
                Console.line("rotation \(record.id): \(record.state.rawValue); new key \(record.newKeyId ?? "-")")
            }
        }
    }
}
