import Delivery
@preconcurrency import Dispatch
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// A DispatchSourceTimer bridged into async code: each firing is yielded into an AsyncStream, tagged with the
/// generation it was armed for, so a late firing from an earlier arming is recognisably stale.
///
/// The source and its state live on one serial queue; `@unchecked Sendable` because Swift 6 does not check Dispatch
/// closures: every access to `source` and `generation` goes through `queue`.
final class TimerSource: @unchecked Sendable {
    private let queue = DispatchQueue(label: "scim-rotator.scheduler.timer")
    private let source: any DispatchSourceTimer
    private var generation = 0
    private let continuation: AsyncStream<Int>.Continuation
    let firings: AsyncStream<Int>

    init() {
        (firings, continuation) = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(4))
        source = DispatchSource.makeTimerSource(queue: queue)
        source.setEventHandler { [continuation, unowned self] in
            continuation.yield(self.generation)
        }
        source.schedule(deadline: .distantFuture)
        source.activate()
    }

    /// Arms the timer to fire once after `seconds`; returns the generation the firing will carry.
    func arm(after seconds: Double) -> Int {
        queue.sync {
            generation += 1
            let nanos = Int(min(max(seconds, 0), 86_400 * 30) * 1_000_000_000)
            source.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .never, leeway: .milliseconds(20))
            return generation
        }
    }

    func cancel() {
        queue.sync {
            source.cancel()
            continuation.finish()
        }
    }

    deinit {
        // Dispatch sources retain their handlers until cancelled.
        source.cancel()
        continuation.finish()
    }
}
