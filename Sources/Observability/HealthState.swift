import Foundation
import Synchronization

/// What `/healthz` and `/readyz` report, fed by the scheduler loop.
///
/// Healthy: the loop has ticked and is not overdue (now is before the wake-up it armed, plus `grace`). The loop
/// sleeps until the next due moment (at most the resync interval), so this proves liveness without polling.
/// Ready: policies are loaded and the database answers.
public final class HealthState: Sendable {
    struct State {
        var lastTick: Date?
        var nextWake: Date?
        var policies = 0
    }

    private let state = Mutex(State())
    public let grace: Double
    private let databaseCheck: @Sendable () async -> Bool

    public init(grace: Double = 120, databaseCheck: @escaping @Sendable () async -> Bool) {
        self.grace = grace
        self.databaseCheck = databaseCheck
    }

    public func tick(at date: Date, nextWake: Date?, policies: Int) {
        state.withLock {
            $0.lastTick = date
            $0.nextWake = nextWake
            $0.policies = policies
        }
    }

    public struct Report: Sendable, Encodable {
        public var ok: Bool
        public var status: String
        public var lastTick: Date?
        public var nextWake: Date?
        public var policies: Int
        public var database: Bool?
    }

    public func health(now: Date = Date()) -> Report {
        let s = state.withLock { $0 }
        guard let last = s.lastTick else {
            return Report(ok: false, status: "the timer loop has not ticked yet", policies: s.policies)
        }
        let deadline = (s.nextWake ?? last).addingTimeInterval(grace)
        let ok = now <= deadline
        return Report(
            ok: ok,
            status: ok ? "ok" : "the timer loop is overdue since \(deadline.formatted(Date.ISO8601FormatStyle()))",
            lastTick: last,
            nextWake: s.nextWake,
            policies: s.policies
        )
    }

    public func readiness() async -> Report {
        let s = state.withLock { $0 }
        let database = await databaseCheck()
        let ok = database && s.policies > 0
        let status =
            !database ? "the history database does not answer" : (s.policies == 0 ? "no policies loaded yet" : "ok")
        return Report(
            ok: ok,
            status: status,
            lastTick: s.lastTick,
            nextWake: s.nextWake,
            policies: s.policies,
            database: database
        )
    }
}
