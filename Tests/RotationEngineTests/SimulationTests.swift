import Foundation
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// The deterministic simulation (``Simulation``): random schedules of passes, crashes, faults, console users and
/// clock jumps, with the invariants checked after every step. CI runs `SCIM_ROTATOR_SIMULATION_SEEDS` seeds
/// (default 200); `scripts/simulate.sh --seeds N` runs more, and `--seed S` replays one.
@Suite("Deterministic simulation")
struct SimulationTests {
    static var seeds: [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        if let one = environment["SCIM_ROTATOR_SIMULATION_SEED"].flatMap(UInt64.init) { return [one] }
        let count = environment["SCIM_ROTATOR_SIMULATION_SEEDS"].flatMap(Int.init) ?? 200
        let first = environment["SCIM_ROTATOR_SIMULATION_FIRST"].flatMap(UInt64.init) ?? 1
        let range = (0..<UInt64(max(0, count))).map { first + $0 }
        return range + regressions.filter { !range.contains($0) }
    }

    /// Seeds that once broke an invariant, run every time beside the range (a 5000-seed run found them; the fixes
    /// are in the delivery journal and the first-contact adoption).
    static let regressions: [UInt64] = [849, 3925, 4063, 4083]

    @Test("every invariant holds after every step of every seed")
    func simulate() async throws {
        let seeds = Self.seeds
        let steps = ProcessInfo.processInfo.environment["SCIM_ROTATOR_SIMULATION_STEPS"].flatMap(Int.init) ?? 40
        let outcomes = try await withThrowingTaskGroup(of: Simulation.Outcome.self) { group in
            var outcomes: [Simulation.Outcome] = []
            var pending = seeds[...]
            for _ in 0..<min(4, pending.count) {
                let seed = pending.removeFirst()
                group.addTask { try await Simulation(seed: seed, steps: steps).run() }
            }
            while let outcome = try await group.next() {
                outcomes.append(outcome)
                if let seed = pending.popFirst() {
                    group.addTask { try await Simulation(seed: seed, steps: steps).run() }
                }
            }
            return outcomes
        }
        let failing = outcomes.filter { !$0.violations.isEmpty }.sorted { $0.seed < $1.seed }
        let passes = outcomes.map(\.passes).reduce(0, +)
        let crashes = outcomes.map(\.crashes).reduce(0, +)
        let completed = outcomes.map(\.completed).reduce(0, +)
        let blocked = outcomes.map(\.blocked).reduce(0, +)
        print(
            "simulation: \(outcomes.count) seeds × \(steps) steps: \(passes) passes, \(crashes) crashes, "
                + "\(completed) rotations completed, \(blocked) blocked passes, \(failing.count) failing seed(s)"
        )
        let verbose = ProcessInfo.processInfo.environment["SCIM_ROTATOR_SIMULATION_VERBOSE"] != nil
        for outcome in (verbose ? outcomes : failing).prefix(3) {
            print(
                "simulation: seed \(outcome.seed) (\(outcome.provider)) \(outcome.violations.isEmpty ? "passed" : "failed"); replay with "
                    + "scripts/simulate.sh --seed \(outcome.seed)\n  "
                    + outcome.log.joined(separator: "\n  ")
                    + outcome.violations.map { "\n  VIOLATION: \($0)" }.joined()
            )
        }
        #expect(failing.isEmpty, "failing seeds: \(failing.map(\.seed))")
    }
}
