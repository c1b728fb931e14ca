import Foundation
import Synchronization

/// The one source of "now" for everything that schedules, signs or records time.
///
/// Production uses ``SystemClock``. Tests, the demo and the emulator use ``VirtualClock``, so that a simulated year
/// runs in milliseconds (tests) or a minute (the demo) with the same scheduling code.
public protocol RotatorClock: Sendable {
    func now() -> Date
    /// Real seconds to wait before `date` is reached on this clock; 0 when it has passed.
    func realDelay(until date: Date) -> Double
    /// The wait for `date` is over. A virtual clock moves to `date` (never backwards); the system clock ignores it.
    func arrive(at date: Date)
}

extension RotatorClock {
    /// Suspends until `date` on this clock. Cancellation throws `CancellationError`.
    public func sleep(until date: Date) async throws {
        let delay = realDelay(until: date)
        if delay > 0 {
            try await Task.sleep(nanoseconds: UInt64(min(delay, 86_400 * 365) * 1_000_000_000))
        } else {
            try Task.checkCancellation()
        }
        arrive(at: date)
    }

    public func sleep(seconds: Double) async throws {
        try await sleep(until: now().addingTimeInterval(seconds))
    }
}

/// Wall-clock time.
public struct SystemClock: RotatorClock {
    public init() {}
    public func now() -> Date { Date() }
    public func realDelay(until date: Date) -> Double { max(0, date.timeIntervalSinceNow) }
    public func arrive(at date: Date) {}
}

/// A clock that tests, the demo and the emulator can set, advance, freeze or speed up.
///
/// - `flowRate`: how fast virtual time passes on its own, in virtual seconds per real second (1 = like a wall clock,
///   0 = frozen: time only moves when someone sleeps or the clock is set).
/// - `sleepSpeed`: how much faster than real time a sleep completes (`.infinity` = at once, which is what unit tests
///   use; 525 600 turns a year into a minute).
public final class VirtualClock: RotatorClock {
    private struct State {
        var anchorVirtual: Date
        var anchorReal: Date
        var flowRate: Double
        var sleepSpeed: Double
    }

    private let state: Mutex<State>

    public init(start: Date = Date(), flowRate: Double = 0, sleepSpeed: Double = .infinity) {
        state = Mutex(State(anchorVirtual: start, anchorReal: Date(), flowRate: flowRate, sleepSpeed: sleepSpeed))
    }

    private static func current(_ s: State) -> Date {
        s.flowRate == 0
            ? s.anchorVirtual : s.anchorVirtual.addingTimeInterval(Date().timeIntervalSince(s.anchorReal) * s.flowRate)
    }

    public func now() -> Date {
        state.withLock { Self.current($0) }
    }

    public func realDelay(until date: Date) -> Double {
        state.withLock { s in
            let virtualDelay = date.timeIntervalSince(Self.current(s))
            guard virtualDelay > 0, s.sleepSpeed.isFinite, s.sleepSpeed > 0 else { return 0 }
            return virtualDelay / s.sleepSpeed
        }
    }

    public func arrive(at date: Date) {
        state.withLock { s in
            if date > Self.current(s) {
                s.anchorVirtual = date
                s.anchorReal = Date()
            }
        }
    }

    /// Moves the clock to `date`, forwards or backwards.
    public func set(_ date: Date) {
        state.withLock { s in
            s.anchorVirtual = date
            s.anchorReal = Date()
        }
    }

    public func advance(by seconds: Double) {
        state.withLock { s in
            s.anchorVirtual = Self.current(s).addingTimeInterval(seconds)
            s.anchorReal = Date()
        }
    }

    /// Changes how time flows from now on, keeping the current instant.
    public func configure(flowRate: Double? = nil, sleepSpeed: Double? = nil) {
        state.withLock { s in
            s.anchorVirtual = Self.current(s)
            s.anchorReal = Date()
            if let flowRate { s.flowRate = flowRate }
            if let sleepSpeed { s.sleepSpeed = sleepSpeed }
        }
    }

    public var flowRate: Double { state.withLock { $0.flowRate } }
}
