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

    public init(seed: UInt64, steps: Int = 60) {
        self.seed = seed
        self.steps = steps
    }

    /// Removals the tool made of keys a consumer held, found as the events were recorded.
    final class Watch: Sendable {
        let removals = Mutex<[String]>([])
        let completedRotations = Mutex<[String: Int]>([:])
    }

    public func run() async throws -> Outcome {
        var random = SeededRandom(seed: seed)
        let provider = random.pick(ProviderKind.allCases)
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

    /// The simulated world: the harness, the sinks and what the simulation itself did.
    struct World {
        let h: RotationHarness
        let consumers: [MemorySink]
        let sinks: [any DeliverySink]
        let watch = Watch()
        /// Keys console users made.
        var consoleKeys: Set<String> = []
        /// Keys console users disabled or deleted.
        var consoleTouched: Set<String> = []
        /// The last key state seen, for the removal check (a removed key is no longer in the zone).
        var lastSeen: [String: SCIMKey] = [:]
        var lastPass: PassResult?

        init(h: RotationHarness, consumers: [MemorySink], sinks: [any DeliverySink]) {
            self.h = h
            self.consumers = consumers
            self.sinks = sinks
        }

        /// One pass as one process; a crash ends the process.
        mutating func pass(
            _ request: RotationRequest? = nil,
            failPoints: FailPoints = .none,
            _ outcome: inout Outcome
        ) async -> PassResult {
            for key in h.zoneKeys { lastSeen[key.id] = key }
            let watch = self.watch
            let consumers = self.consumers
            let known = lastSeen
            let touched = consoleTouched
            let clock = h.emulatorClock
            let runner = h.runner(failPoints: failPoints, sinks: sinks) { event in
                let removal: Set<EventKind> = [.keyDisabled, .keyRetired, .keyAbandoned, .keyDeleted]
                if event.kind == .rotationCompleted, let id = event.rotationId {
                    watch.completedRotations.withLock { $0[id, default: 0] += 1 }
                }
                guard removal.contains(event.kind), let keyId = event.keyId else { return }
                let held = consumers.filter { $0.latest?.keyId == keyId }.map(\.name)
                guard !held.isEmpty, !touched.contains(keyId) else { return }
                let excused =
                    event.actor == .emergency
                    || (event.kind == .keyRetired && event.detail?.contains("consent") == true)
                if let key = known[keyId], key.status == .disabled || key.expiresAt <= clock.now() { return }
                if !excused {
                    // Its story so far, to read the violation.
                    watch.removals.withLock {
                        $0.append(
                            "\(event.kind) of \(keyId), which \(held.joined(separator: ", ")) holds: \(event.reason ?? "")"
                        )
                    }
                }
            }
            let result = await runner.pass(request: request)
            outcome.passes += 1
            if result.outcome == .interrupted {
                h.crash()
                outcome.crashes += 1
            }
            if result.outcome == .blocked { outcome.blocked += 1 }
            lastPass = result
            return result
        }

        /// One random step; returns what it did.
        mutating func step(_ random: inout SeededRandom, _ outcome: inout Outcome) async throws -> String {
            let roll = Int.random(in: 0..<100, using: &random)
            let zone = h.zoneKeys
            lastPass = nil  // only a pass says something about the consumers
            switch roll {
            case 0..<36:
                let result = await pass(nil, outcome: &outcome)
                return "pass: \(result.outcome) \(result.message.prefix(160))"
            case 36..<46:
                let seconds = Double.random(in: 60...(12 * 3_600), using: &random)
                h.advance(days: seconds / 86_400)
                lastPass = nil
                return "clock +\(Int(seconds / 60))m"
            case 46..<55:
                let days = Double.random(in: 1...40, using: &random)
                h.advance(days: days)
                lastPass = nil
                return "clock +\(Int(days))d"
            case 55..<62:
                let point = random.pick(FailPoints.names)
                let result = await pass(nil, failPoints: FailPoints([point: .crash], crashByThrowing: true), &outcome)
                return "pass crashing at \(point): \(result.outcome) \(result.message.prefix(120))"
            case 62..<67:
                let writes = Int.random(in: 1...12, using: &random)
                let failPoints = FailPoints(crashByThrowing: true, crashAfterJournalWrites: writes)
                let result = await pass(nil, failPoints: failPoints, &outcome)
                return "pass crashing after \(writes) journal writes: \(result.outcome)"
            case 67..<72:
                let consumer = random.pick(consumers)
                let count = Int.random(in: 1...3, using: &random)
                consumer.failNext(count)
                return "\(consumer.name) fails its next \(count) deliveries"
            case 72..<74:
                let consumer = random.pick(consumers)
                consumer.crashAfterNextDelivery()
                return "\(consumer.name) takes the next key, then the process dies"
            case 74..<81:
                let fault = randomFault(&random)
                try await h.fault(fault)
                return "cloud fault \(fault.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })"
            case 81..<84 where zone.count < h.policy.keyLimit:
                let age = Double.random(in: 0...200, using: &random)
                let id = h.seedKey(ageDays: age).id
                consoleKeys.insert(id)
                return "console adds \(id) (\(Int(age)) days old)"
            case 84..<86 where !zone.isEmpty && h.policy.provider.traits.canDisable:
                let key = random.pick(zone)
                h.emulator.setStatus(zone: h.policy.zone, key: key.id, to: .disabled)
                consoleTouched.insert(key.id)
                return "console disables \(key.id)"
            case 86..<88 where !zone.isEmpty:
                let key = random.pick(zone)
                h.emulator.deleteKey(zone: h.policy.zone, key: key.id)
                consoleTouched.insert(key.id)
                return "console deletes \(key.id)"
            case 88..<92:
                let result = await pass(RotationRequest(trigger: .manual, reason: "manual"), &outcome)
                return "rotate: \(result.outcome) \(result.message.prefix(160))"
            case 92..<93:
                let deleteOld = random.chance(0.3)
                let request = RotationRequest(trigger: .emergency, reason: "leaked", deleteOld: deleteOld)
                let result = await pass(request, &outcome)
                return
                    "rotate --emergency\(deleteOld ? " --delete-old" : ""): \(result.outcome) \(result.message.prefix(120))"
            case 93..<96 where !zone.isEmpty:
                let key = random.pick(zone)
                let request = RotationRequest(trigger: .manual, reason: "operator", retire: [key.id])
                let result = await pass(request, &outcome)
                return "rotate --retire \(key.id): \(result.outcome) \(result.message.prefix(120))"
            case 96..<98:
                let days = Double.random(in: 100...400, using: &random)
                h.advance(days: days)
                lastPass = nil
                return "clock jumps +\(Int(days))d"
            default:
                let result = await pass(nil, outcome: &outcome)
                return "pass: \(result.outcome) \(result.message.prefix(160))"
            }
        }

        mutating func pass(_ request: RotationRequest?, outcome: inout Outcome) async -> PassResult {
            await pass(request, failPoints: .none, &outcome)
        }

        func randomFault(_ random: inout SeededRandom) -> [String: Any] {
            let actions = [h.listAction, h.createAction] + (h.statusAction.map { [$0] } ?? []) + [h.deleteAction]
            switch Int.random(in: 0..<6, using: &random) {
            case 0:
                return [
                    "action": random.pick(actions), "error": "InternalError",
                    "times": Int.random(in: 1...4, using: &random),
                ]
            case 1:
                return [
                    "action": random.pick(actions), "error": h.throttleCode,
                    "times": Int.random(in: 1...6, using: &random),
                ]
            case 2: return ["action": h.createAction, "drop": "after"]
            case 3: return ["action": random.pick(actions), "drop": "before"]
            case 4: return ["action": h.listAction, "garble": true]
            default: return ["action": h.createAction, "consoleAddKey": true]
            }
        }

        /// The invariants, after a step.
        func check(lastPass: PassResult?) async throws -> [String] {
            var violations: [String] = []
            let zone = h.zoneKeys
            if zone.count > h.policy.keyLimit {
                violations.append("the zone holds \(zone.count) keys, more than its limit \(h.policy.keyLimit)")
            }
            violations += watch.removals.withLock { removals in
                defer { removals = [] }
                return removals
            }
            let records = try await h.store.keys(policy: h.policy.name)
            let byId = Dictionary(records.map { ($0.keyId, $0) }, uniquingKeysWith: { a, _ in a })
            let active = try await h.store.activeRotation(policy: h.policy.name)
            let ambiguous = try await h.events(.rotationResumed).contains {
                $0.reason?.contains("cannot be told apart") == true
            }
            let madeByAPI = h.emulator.keysMadeByAPI(zone: h.policy.zone)
            for key in zone where madeByAPI.contains(key.id) {
                // Made by the tool's Create (console users seed theirs).
                guard let record = byId[key.id] else {
                    if active?.state != .creating {
                        violations.append("key \(key.id), made by the tool, is not journaled")
                    }
                    continue
                }
                if record.role == .other, !ambiguous {
                    let story = try await h.store.events(EventFilter()).filter { $0.keyId == key.id }
                        .map { "\($0.kind) (\($0.reason ?? ""))" }
                    violations.append(
                        "key \(key.id), made by the tool, is journaled as not created by it: \(story.joined(separator: "; "))"
                    )
                }
            }
            if !h.policy.provider.traits.canDisable {
                violations += GraceInvariant.violations(
                    events: try await h.store.events(EventFilter()),
                    grace: h.policy.rotation.gracePeriod
                )
            }
            if let broken = try await h.store.verifyChain().firstBroken {
                violations.append("audit chain broken at #\(broken.seq): \(broken.problem)")
            }
            for (rotation, count) in watch.completedRotations.withLock({ $0 }) where count > 1 {
                violations.append("rotation \(rotation) completed \(count) times")
            }
            if let lastPass, !lastPass.isFailure, lastPass.outcome != .interrupted {
                let now = h.emulatorClock.now()
                for consumer in consumers {
                    guard let held = consumer.latest else { continue }
                    let key = zone.first { $0.id == held.keyId }
                    if key.map({ $0.isUsable(at: now) }) ?? false { continue }
                    violations.append(
                        "\(consumer.name) holds \(held.keyId), which does not work (\(key.map { "\($0.status.rawValue), expires \($0.expiresAt)" } ?? "deleted")), yet the pass said \(lastPass.outcome): \(lastPass.message)"
                    )
                }
            }
            return violations
        }

        /// Faults and interference stop; an operator resolves what the tool blocked on; the rotation must settle.
        mutating func settle(_ outcome: inout Outcome) async throws -> [String] {
            try await h.admin("DELETE", "faults")
            for consumer in consumers { consumer.reset() }
            for round in 0..<12 {
                var result = await pass(nil, outcome: &outcome)
                outcome.log.append("settle \(round): \(result.outcome) \(result.message.prefix(160))")
                if result.outcome == .blocked {
                    // The operator reads the block and consents to retiring what is in the way (not the current key).
                    let records = try await h.store.keys(policy: h.policy.name)
                    let current = records.first { $0.role == .current }?.keyId
                    let inTheWay = h.zoneKeys.map(\.id).filter { $0 != current }
                    let request = RotationRequest(trigger: .manual, reason: "operator resolves", retire: inTheWay)
                    result = await pass(request, outcome: &outcome)
                    outcome.log.append(
                        "settle \(round): rotate --retire \(inTheWay): \(result.outcome) \(result.message.prefix(160))"
                    )
                }
                let violations = try await check(lastPass: result)
                if !violations.isEmpty { return violations.map { "settling: \($0)" } }
                let state = try await h.store.policyState(policy: h.policy.name)
                h.clock.set(max(h.clock.now(), state.nextAttemptAt ?? h.clock.now()).addingTimeInterval(1))
                if h.emulatorClock !== h.clock { h.emulatorClock.set(h.clock.now()) }
                if result.outcome == .idle || result.outcome == .changed, try await settled().isEmpty { break }
            }
            outcome.completed = try await h.count(.rotationCompleted)
            return try await settled()
        }

        /// The settled state: no rotation in progress, every consumer holds the current key, and it works.
        func settled() async throws -> [String] {
            var problems: [String] = []
            if let active = try await h.store.activeRotation(policy: h.policy.name) {
                problems.append("rotation \(active.id.prefix(8)) is still at \(active.state)")
            }
            let current = try await h.store.keys(policy: h.policy.name).first { $0.role == .current }
            guard let current, let key = h.zoneKeys.first(where: { $0.id == current.keyId }) else {
                return problems + ["no current key in the zone"]
            }
            if !key.isUsable(at: h.emulatorClock.now()) { problems.append("the current key \(key.id) does not work") }
            if current.fingerprint != nil {
                for consumer in consumers {
                    guard let held = consumer.latest, held.keyId == key.id else {
                        problems.append(
                            "\(consumer.name) holds \(consumer.latest?.keyId ?? "nothing"), not the current key \(key.id)"
                        )
                        continue
                    }
                    if await !h.scimAccepts(held.secret) { problems.append("SCIM refuses what \(consumer.name) holds") }
                }
            }
            return problems
        }
    }
}
