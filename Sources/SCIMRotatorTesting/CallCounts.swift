import Foundation
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Cloud API calls per rotation, counted by the emulator, for the three shapes of a rotation: first contact (adopt,
/// then rotate a key that is due), a due rotation at the key limit, and an emergency at the key limit. List is the
/// action that meets a cloud's per-second limit first, so a pass lists a zone once and carries what it knows.
public enum CallCounts {
    public struct Scenario: Sendable {
        public var name: String
        /// Calls by action (success or not), for the measured pass only.
        public var calls: [String: Int]
        public var total: Int { calls.values.reduce(0, +) }
    }

    public static func measure(_ provider: ProviderKind) async throws -> [Scenario] {
        var scenarios: [Scenario] = []
        // First contact: a console key that is due; the pass adopts it, then rotates.
        do {
            let h = try RotationHarness(provider: provider)
            h.seedKey(ageDays: 340)
            scenarios.append(
                Scenario(name: "first contact (adopt, then rotate)", calls: try await count(h) { await h.pass() })
            )
        }
        // A due rotation at the key limit: the previous key is disabled (its grace is over), kept (deleteAfter never).
        do {
            let h = try RotationHarness(provider: provider) { $0.rotation.deleteAfter = nil }
            await h.pass()
            h.advance(days: 61)
            await h.pass()
            h.advance(days: 2)
            await h.pass()  // disables the previous key
            h.advance(days: 59)
            scenarios.append(
                Scenario(name: "due rotation at the key limit", calls: try await count(h) { await h.pass() })
            )
        }
        // An emergency at the limit, the previous key still in its grace period.
        do {
            let h = try RotationHarness(provider: provider)
            await h.pass()
            await h.pass(RotationRequest(trigger: .manual, reason: "second key"))
            let request = RotationRequest(trigger: .emergency, reason: "leaked")
            scenarios.append(
                Scenario(name: "emergency at the key limit", calls: try await count(h) { await h.pass(request) })
            )
        }
        return scenarios
    }

    static func count(_ h: RotationHarness, _ body: () async -> PassResult) async throws -> [String: Int] {
        let before = try await calls(h)
        let result = await body()
        guard result.outcome == .changed else {
            throw CountError(description: "the measured pass did not complete: \(result.outcome) \(result.message)")
        }
        let after = try await calls(h)
        return after.merging(before) { $0 - $1 }.filter { $0.value > 0 }
    }

    /// The emulator's answered calls by action.
    static func calls(_ h: RotationHarness) async throws -> [String: Int] {
        let reply = try await h.admin("GET", "calls")
        var byAction: [String: Int] = [:]
        for (key, count) in reply["calls"] as? [String: Int] ?? [:] {
            let parts = key.split(separator: " ")
            guard parts.count >= 2 else { continue }
            byAction[String(parts[1]), default: 0] += count
        }
        return byAction
    }

    struct CountError: Error, CustomStringConvertible {
        var description: String
    }
}
