import Foundation

/// Keeps each (account, action) under a number of requests in any sliding window, as the clouds document
/// (Tencent CIC: 20 requests/second per action per account).
///
/// The server counts a request when it arrives, which the client cannot see: only that it is after the request was
/// sent and before its reply came back. So a request holds its slot while in flight, and the slot's window starts
/// when the reply (or the failure) comes back, an instant the server's arrival time cannot be later than. A request
/// sent once a slot is free can therefore never arrive within one window of the `limit`-th request before it,
/// whatever the network's latency. `margin` adds a little to the window for clock granularity.
public actor RateLimiter {
    private struct Slot {
        var id: UInt64
        /// When the reply came back; nil while the request is in flight.
        var end: ContinuousClock.Instant?
    }

    private var slots: [String: [Slot]] = [:]
    private var lastId: UInt64 = 0
    private let clock = ContinuousClock()
    public nonisolated let limit: Int
    public nonisolated let window: Duration

    /// `limit` requests per `window` per key; `limit <= 0` disables limiting.
    public init(limit: Int, window: Duration = .seconds(1), margin: Duration = .milliseconds(100)) {
        self.limit = limit
        self.window = window + margin
    }

    /// Runs `request` once a slot for `key` is free, holding the slot while it runs.
    public nonisolated func limited<T>(_ key: String, _ request: () async throws -> T) async throws -> T {
        let slot = try await acquire(key)
        do {
            let result = try await request()
            await release(key, slot)
            return result
        } catch {
            await release(key, slot)
            throw error
        }
    }

    /// Waits until a request for `key` may be sent without exceeding the limit, and takes a slot for it.
    func acquire(_ key: String) async throws -> UInt64 {
        guard limit > 0 else { return 0 }
        while true {
            let now = clock.now
            var list = slots[key, default: []]
            list.removeAll { slot in slot.end.map { $0 + window <= now } ?? false }
            if list.count < limit {
                lastId += 1
                list.append(Slot(id: lastId, end: nil))
                slots[key] = list
                return lastId
            }
            slots[key] = list
            // The earliest finished slot frees up first; if every slot is in flight, look again shortly.
            let wait = list.compactMap(\.end).min().map { $0 + window - now } ?? .milliseconds(10)
            try await Task.sleep(for: max(wait, .milliseconds(1)))
        }
    }

    /// The request that took `slot` has its reply (or failed): its window starts now.
    func release(_ key: String, _ slot: UInt64) {
        guard limit > 0, var list = slots[key], let index = list.firstIndex(where: { $0.id == slot }) else { return }
        list[index].end = clock.now
        slots[key] = list
    }
}
