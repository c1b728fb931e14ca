import CloudEmulator
import Delivery
import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

extension Simulation {
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
