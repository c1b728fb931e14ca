internal import ArgumentParser
internal import Foundation
internal import Notifications
internal import RotationEngine
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reconcile",
            abstract:
                "Do once what the daemon would do now, then exit (for cron, systemd timers, Kubernetes CronJobs).",
            discussion: """
                For every policy: list the zone's keys, reconcile the journal, and carry out whatever is due now \
                (a rotation, disabling keys whose grace period is over, deleting keys disabled long enough, finishing \
                a rotation a crash interrupted). Prints one line per policy.

                Exit status: 0 when every policy is fine, 1 when any failed or is blocked, 2 for invalid policies, \
                3 for a database problem.
                """
        )

        @OptionGroup var common: CommonOptions

        @Option(help: "Policies worked on at the same time.")
        var concurrency: Int = 16

        @Argument(help: "Only these policies (default: all).")
        var only: [String] = []

        func run() async throws {
            let policies = try common.loadPolicies(only: only)
            let store = try await common.openStore()
            let wiring = try common.wiring(store: store, logger: common.logger())
            let scheduler = Scheduler(
                configuration: .init(concurrency: concurrency),
                clock: wiring.clock,
                logger: wiring.logger,
                loadPolicies: { policies },
                runPass: { await wiring.pass($0) }
            )
            let results = await scheduler.runConcurrently(policies).sorted { $0.policy < $1.policy }
            await wiring.notifier?.drain()
            Console.line(PassReport.render(results, now: wiring.clock.now()))
            if results.contains(where: \.isFailure) {
                throw CLIError(
                    "\(results.filter(\.isFailure).count) of \(results.count) policies failed or are blocked",
                    exitCode: 1
                )
            }
        }
    }
}

enum PassReport {
    static func render(_ results: [PassResult], now: Date) -> String {
        var table = TextTable(["POLICY", "OUTCOME", "NEXT", "DETAIL"])
        for result in results {
            table.add([
                result.policy, result.outcome.rawValue, Times.relative(result.nextCheck, to: now), result.message,
            ])
        }
        return table.render()
    }
}
