internal import ArgumentParser
internal import Foundation
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Read or change a zone's SCIM synchronization status (Tencent CIC, Alibaba CloudSSO).",
            discussion: """
                While synchronization is disabled, identity providers cannot push users or groups, so the zone's \
                keys serve no one (status and plan warn about it). Changes are recorded in history. Volcano Engine \
                CloudIdentity has no SCIM synchronization switch in its API: for a `provider: volcengine` policy \
                these commands say so and change nothing.
                """,
            subcommands: [StatusOf.self, Enable.self, Disable.self]
        )

        struct StatusOf: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "status",
                abstract: "Show the zone's SCIM synchronization status."
            )

            @OptionGroup var common: CommonOptions
            @Argument(help: "The policy whose zone to ask.") var policy: String

            func run() async throws {
                let policy = try common.loadPolicies(only: [self.policy])[0]
                try Sync.requireSwitch(policy)
                let wiring = Wiring(store: try SQLiteHistoryStore(), databasePath: ":memory:", logger: common.logger())
                let status = try await wiring.provider(for: policy).syncStatus()
                Console.line("\(policy.name): SCIM synchronization \(status.rawValue)")
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "enable",
                abstract: "Enable SCIM synchronization (recorded in history)."
            )
            @OptionGroup var change: Change
            func run() async throws { try await change.apply(.enabled) }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "disable",
                abstract: "Disable SCIM synchronization (recorded in history)."
            )
            @OptionGroup var change: Change
            func run() async throws { try await change.apply(.disabled) }
        }

        /// Refuses, in words, a policy whose cloud has no synchronization switch (``ProviderTraits/hasSyncSwitch``).
        static func requireSwitch(_ policy: Policy) throws {
            let traits = policy.provider.traits
            guard traits.hasSyncSwitch else {
                throw CLIError(
                    "\(policy.name): \(traits.serviceName) (provider \(policy.provider.rawValue)) has no SCIM "
                        + "synchronization switch in its API: there is nothing to read or change; its SCIM credentials "
                        + "are only created, listed and deleted"
                )
            }
        }

        struct Change: ParsableArguments {
            @OptionGroup var common: CommonOptions
            @Argument(help: "The policy whose zone to change.") var policy: String
            @Option(help: "Why, recorded in history.") var reason: String?

            func apply(_ status: SyncStatus) async throws {
                let policy = try common.loadPolicies(only: [self.policy])[0]
                try Sync.requireSwitch(policy)
                let store = try await common.openStore()
                let wiring = Wiring(store: store, databasePath: common.databasePath, logger: common.logger())
                let before = try await wiring.setSyncStatus(policy, status, reason: reason)
                Console.line("\(policy.name): SCIM synchronization \(before.rawValue) → \(status.rawValue)")
            }
        }
    }
}
