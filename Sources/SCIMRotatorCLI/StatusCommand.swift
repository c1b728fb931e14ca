internal import ArgumentParser
internal import Foundation
internal import SCIMRotatorCore

extension SCIMRotator {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Per policy: the zone's keys, which is current and previous, expiry, next action, last error.",
            discussion: """
                Lists each zone's keys live (read-only API calls) and joins them with the history: roles \
                (current, previous, pending, other), expiry, the next action and when, consecutive failures, \
                stuck/blocked flags, and the zone's SCIM synchronization status (a warning when disabled). With a \
                PostgreSQL history, also each policy's lease: the replica that holds it (or held it last) and until \
                when, on the database's clock.
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "Only these policies (default: all).")
        var only: [String] = []

        @Option(help: "table or json.")
        var format: OutputFormat = .table

        func run() async throws {
            let policies = try common.loadPolicies(only: only)
            let store = try await ReadOnlyStore.openExisting(common)
            let wiring = Wiring(
                store: try await ReadOnlyStore.open(common),
                databasePath: common.databasePath,
                logger: common.logger()
            )
            let now = wiring.clock.now()
            var inspections = await Inspection.inspect(policies, wiring: wiring, store: store, at: now)
            let leases = await LeaseStatus.load(store)
            for index in inspections.indices { inspections[index].lease = leases[inspections[index].policy] }
            switch format {
            case .json:
                Console.line(JSONOutput.render(inspections))
            case .table:
                Console.line(inspections.map { render($0, now: now) }.joined(separator: "\n\n"))
            }
            if inspections.contains(where: \.needsAttention) {
                let stale = inspections.filter(\.stale).map(\.policy)
                throw CLIError(
                    stale.isEmpty
                        ? "some policies need attention (above)"
                        : "some policies need attention (above); \(stale.joined(separator: ", ")): the cloud could not be asked, the keys shown are the journal's last known ones",
                    exitCode: 1
                )
            }
        }

        func render(_ inspection: Inspection, now: Date) -> String {
            var lines = [
                "\(inspection.policy)  \(inspection.provider) \(inspection.zone)  sync: \(inspection.syncStatus ?? "?")"
            ]
            if let error = inspection.error {
                lines.append("  error: \(error)")
                if !inspection.stale { return lines.joined(separator: "\n") }
                lines.append("  STALE: the journal's last known keys, not the zone's keys now:")
            }
            var table = TextTable(["  KEY", "STATUS", "ROLE", "CREATED", "EXPIRES", "HELD BY"])
            for key in inspection.keys {
                table.add([
                    "  " + key.id, key.status, key.role, Times.short(key.createdAt),
                    key.expiresAt.map { "\(Times.short($0)) (\(Times.relative($0, to: now)))" } ?? "-",
                    key.heldBy.isEmpty ? "-" : key.heldBy.joined(separator: ", "),
                ])
            }
            lines.append(inspection.keys.isEmpty ? "  (no keys)" : table.render())
            if let problem = inspection.currentProblem { lines.append("  UNUSABLE: \(problem)") }
            for sink in inspection.sinks {
                var line = "  sink \(sink.sink): \(sink.keyId ?? "no key yet")"
                if let attempt = sink.attemptKeyId { line += "; delivery of \(attempt) interrupted (may hold it)" }
                if let earlier = sink.earlierAttemptKeyIds, !earlier.isEmpty {
                    line += "; earlier deliveries of \(earlier.joined(separator: ", ")) interrupted (may hold them)"
                }
                if let error = sink.lastError { line += "; last error: \(error)" }
                lines.append(line)
            }
            if inspection.stale { return lines.joined(separator: "\n") }
            let when =
                inspection.action == "none" || inspection.action == "wait"
                ? (inspection.nextCheck.map { Times.relative($0, to: now) } ?? "on the next resync") : "now"
            lines.append("  next: \(inspection.action) \(when): \(inspection.reason)")
            if let then = inspection.then { lines.append("  then: \(then)") }
            if inspection.failures > 0 {
                lines.append(
                    "  failures: \(inspection.failures)\(inspection.stuck ? " (STUCK)" : "")\(inspection.blocked ? " (BLOCKED)" : ""); last error: \(inspection.lastError ?? "-")"
                )
            }
            if let success = inspection.lastSuccessAt { lines.append("  last rotation: \(Times.short(success))") }
            if let lease = inspection.lease { lines.append(lease.line) }
            for warning in inspection.warnings { lines.append("  warning: \(warning)") }
            return lines.joined(separator: "\n")
        }
    }
}
