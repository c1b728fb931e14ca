internal import ArgumentParser
internal import Foundation
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct PlanCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Show what would happen, when, and why. Changes nothing.",
            discussion: """
                Lists each zone's keys (read-only API calls), reads the history, and asks the planner what it \
                would do at --at (default: now): rotate, wait for the window, disable after the grace period, \
                delete, or nothing until a given time. Warns when a zone's SCIM synchronization is disabled.

                --at accepts an ISO 8601 time (2027-01-31T09:00:00Z), a date (2027-01-31), or a duration from now \
                (30d, +12h; -1d for the past).
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "Only these policies (default: all).")
        var only: [String] = []

        // Unconditional: `--at -1d` (the past) is a value, not an unknown option.
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "The moment to plan for (default: now): 2027-01-31T09:00:00Z, 2027-01-31, 30d, +12h or -1d.",
                valueName: "time"
            )
        )
        var at: String?

        @Option(help: "table or json.")
        var format: OutputFormat = .table

        func validate() throws {
            if let at, Times.parse(at, now: Date()) == nil {
                throw ValidationError("--at \(at): write an ISO 8601 time, a date, or a duration like 30d")
            }
        }

        func run() async throws {
            let policies = try common.loadPolicies(only: only)
            let wiring = Wiring(
                store: try await ReadOnlyStore.open(common),
                databasePath: common.databasePath,
                logger: common.logger()
            )
            let now = wiring.clock.now()
            var moment = now
            if let at {
                guard let parsed = Times.parse(at, now: now) else {
                    throw ValidationError("--at \(at): write an ISO 8601 time, a date, or a duration like 30d")
                }
                moment = parsed
            }
            let store = try? await ReadOnlyStore.openExisting(common)
            let inspections = await Inspection.inspect(policies, wiring: wiring, store: store, at: moment)
            switch format {
            case .json:
                Console.line(JSONOutput.render(inspections))
            case .table:
                var table = TextTable(["POLICY", "ACTION", "WHEN", "WHY"])
                for inspection in inspections {
                    let when =
                        inspection.action == "none" || inspection.action == "wait"
                        ? Times.short(inspection.nextCheck) : Times.short(moment)
                    table.add([inspection.policy, inspection.action, when, inspection.reason])
                    if let then = inspection.then { table.add(["", "then", "", then]) }
                }
                Console.line(table.render())
                for inspection in inspections {
                    for warning in inspection.warnings { Console.line("warning: \(inspection.policy): \(warning)") }
                }
            }
            if inspections.contains(where: { $0.error != nil }) {
                throw CLIError(
                    "could not plan \(inspections.filter { $0.error != nil }.map(\.policy).joined(separator: ", "))",
                    exitCode: 1
                )
            }
        }
    }
}

/// Read-only access to the history for commands that must not create or change it.
enum ReadOnlyStore {
    /// The history if it exists, else an empty in-memory one (first contact: nothing recorded yet).
    static func open(_ common: CommonOptions) async throws -> any HistoryStore {
        if let store = try await openExisting(common) { return store }
        return try SQLiteHistoryStore()
    }

    static func openExisting(_ common: CommonOptions) async throws -> (any HistoryStore)? {
        try await HistoryDatabase.openExisting(common.databasePath)
    }
}

/// The journal reconciliation, applied in memory only.
enum KeyReconcilerPreview {
    static func apply(
        policy: Policy,
        observed: [SCIMKey],
        records: [KeyRecord],
        active: RotationRecord?,
        now: Date
    ) -> [KeyRecord] {
        var byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
        let sync = KeyReconciler.reconcile(
            policy: policy,
            observed: observed,
            records: records,
            active: active,
            now: now
        )
        for record in sync.keys { byId[record.keyId] = record }
        return byId.values.sorted { $0.firstSeen < $1.firstSeen }
    }
}
