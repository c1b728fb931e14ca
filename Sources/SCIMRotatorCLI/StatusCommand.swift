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
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Per policy: the zone's keys, which is current and previous, expiry, next action, last error.",
            discussion: """
                Lists each zone's keys live (read-only API calls) and joins them with the history: roles \
                (current, previous, pending, other), expiry, the next action and when, consecutive failures, \
                stuck/blocked flags, and the zone's SCIM synchronization status (a warning when disabled).
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "Only these policies (default: all).")
        var only: [String] = []

        @Option(help: "table or json.")
        var format: OutputFormat = .table

        func run() async throws {
            let policies = try common.loadPolicies(only: only)
            let store = try ReadOnlyStore.openExisting(common)
            let wiring = Wiring(
                store: try ReadOnlyStore.open(common),
                databasePath: common.databasePath,
                logger: common.logger()
            )
            let now = wiring.clock.now()
            var inspections: [Inspection] = []
            for policy in policies {
                inspections.append(await Inspection.inspect(policy, wiring: wiring, store: store, at: now))
            }
            switch format {
            case .json:
                Console.line(JSONOutput.render(inspections))
            case .table:
                Console.line(inspections.map { render($0, now: now) }.joined(separator: "\n\n"))
            }
            if inspections.contains(where: { $0.error != nil || $0.blocked || $0.stuck }) {
                throw CLIError("some policies need attention (above)", exitCode: 1)
            }
        }

        func render(_ inspection: Inspection, now: Date) -> String {
            var lines = [
                "\(inspection.policy)  \(inspection.provider) \(inspection.zone)  sync: \(inspection.syncStatus ?? "?")"
            ]
            if let error = inspection.error {
                lines.append("  error: \(error)")
                return lines.joined(separator: "\n")
            }
            var table = TextTable(["  KEY", "STATUS", "ROLE", "CREATED", "EXPIRES"])
            for key in inspection.keys {
                table.add([
                    "  " + key.id, key.status, key.role, Times.short(key.createdAt),
                    "\(Times.short(key.expiresAt)) (\(Times.relative(key.expiresAt, to: now)))",
                ])
            }
            lines.append(inspection.keys.isEmpty ? "  (no keys)" : table.render())
            lines.append(
                "  next: \(inspection.action) \(inspection.action == "none" || inspection.action == "wait" ? Times.relative(inspection.nextCheck, to: now) : "now") — \(inspection.reason)"
            )
            if inspection.failures > 0 {
                lines.append(
                    "  failures: \(inspection.failures)\(inspection.stuck ? " (STUCK)" : "")\(inspection.blocked ? " (BLOCKED)" : ""); last error: \(inspection.lastError ?? "-")"
                )
            }
            if let success = inspection.lastSuccessAt { lines.append("  last rotation: \(Times.short(success))") }
            for warning in inspection.warnings { lines.append("  warning: \(warning)") }
            return lines.joined(separator: "\n")
        }
    }
}
