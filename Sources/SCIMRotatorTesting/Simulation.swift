import CloudEmulator
import Delivery
import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// SplitMix64: a small, fast, seedable generator (the simulation's only source of randomness).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// A deterministic simulation of the rotation, in the spirit of FoundationDB's and TigerBeetle's: from a seed, a
/// random schedule over the in-process emulator and a virtual clock of passes, crashes at every fail point and
/// between any two journal writes, sink failures (readable sinks and not), cloud faults (throttling, 5xx, lost
/// replies, garbled replies), console users adding, disabling and deleting keys, clock jumps, manual and emergency
/// rotations and consented retirements. After every step the invariants are checked against the emulator's state,
/// what the sinks hold and the history. A failing seed reproduces exactly: key ids, secrets and the schedule all come
/// from it.
///
/// The invariants:
/// 1. Never more keys in the zone than its limit.
/// 2. The tool never disables, retires, abandons or deletes an enabled, unexpired key that a consumer holds (a
///    sink's latest key), except in an emergency or with the operator's consent, both recorded.
/// 3. Every key is explained: a key the tool's Create made is never journaled as foreign, unless the history says
///    why it could not be told apart from a console user's.
/// 4. The audit chain verifies; no rotation completes twice.
/// 5. Provisioning is never broken silently: after a pass, a consumer whose key does not work means the pass
///    failed, blocked, or reported the key unusable.
/// 6. Progress: once faults and interference stop (and an operator resolves what the tool blocked on), the rotation
///    settles: every consumer holds the current key, which works.
public struct Simulation: Sendable {
    public struct Outcome: Sendable {
        public var seed: UInt64
        public var provider: ProviderKind
        public var steps: Int
        public var passes = 0
        public var crashes = 0
        public var completed = 0
        public var blocked = 0
        public var violations: [String] = []
        /// What happened, one line per step (printed for a failing seed).
        public var log: [String] = []
    }

    public let seed: UInt64
    public let steps: Int
    /// The cloud, instead of the one the seed draws; the rest of the schedule is the seed's. A seed recorded when
    /// fewer clouds existed replays its original schedule with the cloud it drew then.
    public let provider: ProviderKind?

    public init(seed: UInt64, steps: Int = 60, provider: ProviderKind? = nil) {
        self.seed = seed
        self.steps = steps
        self.provider = provider
    }

    /// Removals the tool made of keys a consumer held, found as the events were recorded.
    final class Watch: Sendable {
        let removals = Mutex<[String]>([])
        let completedRotations = Mutex<[String: Int]>([:])
    }

    public func run() async throws -> Outcome {
        var random = SeededRandom(seed: seed)
        // The clouds with a key API (the assisted flow needs a person at every rotation; its own tests cover it).
        let drawn = random.pick(ProviderKind.withKeyAPI)
        let provider = self.provider ?? drawn
        let limit = random.chance(0.8) ? 2 : 3
        let grace = random.pick([TimeSpan(seconds: 0), .hours(1), .hours(24), .days(3)])
        let deleteAfter = random.pick([TimeSpan?.none, TimeSpan(seconds: 0), .days(1), .days(7)])
        let h = try RotationHarness(provider: provider, keyLimit: limit, clientTimeout: 1, seed: seed) {
            $0.rotation.gracePeriod = grace
            $0.rotation.deleteAfter = deleteAfter
            $0.rotation.stuckAfter = 1_000
            $0.keyLimit = limit
        }
        let layout = random.pick([
            ["R"], ["N"], ["R", "N"], ["N", "N"], ["R", "N", "N"], ["R", "R"],
        ])
        var readable: [ReadableMemorySink] = []
        var plain: [MemorySink] = []
        for (index, kind) in layout.enumerated() {
            if kind == "R" {
                readable.append(ReadableMemorySink(name: "file-\(index)"))
            } else {
                plain.append(MemorySink(name: "exec-\(index)"))
            }
        }
        let sinks: [any DeliverySink] = readable.map { $0 as any DeliverySink } + plain.map { $0 as any DeliverySink }
        let consumers = readable.map(\.memory) + plain
        var outcome = Outcome(seed: seed, provider: provider, steps: steps)
        outcome.log.append(
            "setup: \(provider) limit \(limit) grace \(grace) deleteAfter \(deleteAfter.map { "\($0)" } ?? "never") sinks \(layout)"
        )
        var world = World(h: h, consumers: consumers, sinks: sinks)
        if random.chance(0.5) {
            let age = Double.random(in: 0...300, using: &random)
            world.consoleKeys.insert(h.seedKey(ageDays: age).id)
            outcome.log.append("console seeds a key \(Int(age)) days old")
        }
        for step in 1...steps {
            let line = try await world.step(&random, &outcome)
            outcome.log.append("\(step). \(line)")
            let violations = try await world.check(lastPass: world.lastPass)
            if !violations.isEmpty {
                outcome.violations = violations.map { "step \(step) (\(line)): \($0)" }
                outcome.log += try await history(h)
                return outcome
            }
        }
        outcome.violations = try await world.settle(&outcome)
        if !outcome.violations.isEmpty { outcome.log += try await history(h) }
        return outcome
    }

    /// The history, one line per event, to read a failing seed.
    func history(_ h: RotationHarness) async throws -> [String] {
        try await ["history:"]
            + h.store.events(EventFilter()).map { event in
                "  #\(event.seq) \(event.time.prefix(16)) \(event.kind) \(event.keyId ?? "-") rotation \(event.rotationId?.prefix(8) ?? "-") \(event.actor): \(event.reason?.prefix(140) ?? "")"
            }
    }
}
