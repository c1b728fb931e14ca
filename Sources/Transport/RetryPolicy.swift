import SCIMRotatorCore

/// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter").
///
/// Attempt `n` (0-based, after the first failure) waits a uniformly random time in `0 ... min(maxDelay, baseDelay × 2ⁿ)`.
public struct RetryPolicy: Sendable, Equatable {
    /// Total attempts, the first included. 1 = no retry.
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.25, maxDelay: Double = 8) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// The pause before retry number `retry` (0 for the first retry). `unit` is a random number in 0..<1.
    public func delay(beforeRetry retry: Int, unit: Double) -> Double {
        let ceiling = min(maxDelay, baseDelay * Double(1 << min(retry, 30)))
        return ceiling * unit
    }

    /// The pause before retry number `retry`, drawn from the system random source.
    public func delay(beforeRetry retry: Int) -> Double {
        delay(beforeRetry: retry, unit: Double.random(in: 0..<1))
    }
}

extension RetryPolicy {
    /// Runs `attempt` until it succeeds, fails with an error `shouldRetry` refuses, or attempts run out. Each retry
    /// waits the full-jitter delay, or longer if the other side asked for it (``RetryClassifiable/retryAfter``).
    /// `shouldRetry` is usually ``RetryClass/worthRetrying(idempotent:)``.
    public func run<T>(
        pause: @Sendable (Double) async throws -> Void,
        shouldRetry: (any Error) -> Bool,
        _ attempt: () async throws -> T
    ) async throws -> T {
        var retry = 0
        while true {
            do {
                return try await attempt()
            } catch {
                guard shouldRetry(error), retry + 1 < maxAttempts else { throw error }
                let asked = (error as? any RetryClassifiable)?.retryAfter ?? 0
                let delay = max(asked, delay(beforeRetry: retry))
                retry += 1
                try await pause(delay)
            }
        }
    }

    /// Pauses with `Task.sleep` (production); tests pass a no-op instead.
    public static let sleep: @Sendable (Double) async throws -> Void = { seconds in
        try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
    }
}
