import Foundation

/// Keeps each (account, action) under a number of requests in any sliding window, as the clouds document
/// (Tencent CIC: 20 requests/second per action per account).
///
/// Every caller waits for its own slot; slots are granted in arrival order. The window is a little longer than the
/// cloud's (`margin`) so that network jitter cannot squeeze two windows' requests into one of the server's.
public actor RateLimiter {
    private var recent: [String: [ContinuousClock.Instant]] = [:]
    private let clock = ContinuousClock()
    public nonisolated let limit: Int
    public nonisolated let window: Duration

    /// `limit` requests per `window` per key; `limit <= 0` disables limiting.
    public init(limit: Int, window: Duration = .seconds(1), margin: Duration = .milliseconds(100)) {
        self.limit = limit
        self.window = window + margin
    }

    /// A limiter shared by every client in the process, so two policies on one account share its budget.
    public static let sharedTencent = RateLimiter(limit: 20)
    public static let sharedAlibaba = RateLimiter(limit: 100)

    /// Waits until a request for `key` may be sent now without exceeding the limit, and records it.
    public func acquire(_ key: String) async throws {
        guard limit > 0 else { return }
        while true {
            let now = clock.now
            var times = recent[key, default: []]
            times.removeAll { $0 + window <= now }
            if times.count < limit {
                times.append(now)
                recent[key] = times
                return
            }
            recent[key] = times
            let wait = times[0] + window - now
            try await Task.sleep(for: wait)
        }
    }
}
