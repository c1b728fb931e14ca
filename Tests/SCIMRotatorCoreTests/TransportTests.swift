import Foundation
import Testing
import Transport

@Suite("Retry and rate limiting")
struct TransportTests {
    @Test("full jitter stays within min(maxDelay, base × 2ⁿ)")
    func jitterBounds() {
        let policy = RetryPolicy(maxAttempts: 6, baseDelay: 0.5, maxDelay: 4)
        for retry in 0..<10 {
            let ceiling = min(4, 0.5 * Double(1 << retry))
            #expect(policy.delay(beforeRetry: retry, unit: 0) == 0)
            #expect(abs(policy.delay(beforeRetry: retry, unit: 0.999_999) - ceiling) < 0.001)
            for _ in 0..<20 {
                let delay = policy.delay(beforeRetry: retry)
                #expect(delay >= 0 && delay <= ceiling)
            }
        }
    }

    @Test("the limiter never lets more than `limit` requests into one window")
    func limiterWindow() async throws {
        let limiter = RateLimiter(limit: 4, window: .milliseconds(200), margin: .zero)
        let clock = ContinuousClock()
        var times: [ContinuousClock.Instant] = []
        for _ in 0..<10 {
            try await limiter.limited("AKID/ListSCIMCredentials") { times.append(clock.now) }
        }
        for index in 4..<times.count {
            #expect(times[index] - times[index - 4] >= .milliseconds(200))
        }
        // Other keys are independent: with one key's only slot taken for a minute, another key goes at once (the
        // bound is far from any scheduling delay, and far below the minute it would wait if the keys were shared).
        let busy = RateLimiter(limit: 1, window: .seconds(60), margin: .zero)
        try await busy.limited("AKID/ListSCIMCredentials") {}
        let before = clock.now
        try await busy.limited("AKID/CreateSCIMCredential") {}
        #expect(clock.now - before < .seconds(30))
    }

    @Test("a slot's window starts when the reply comes back, so a slow reply cannot squeeze two windows into one")
    func limiterCountsFromTheReply() async throws {
        let limiter = RateLimiter(limit: 1, window: .milliseconds(200), margin: .zero)
        let clock = ContinuousClock()
        // The first request is slow (its server may count it as late as its reply): the next one must wait a whole
        // window after that reply, not after the first request was sent.
        var firstReply = clock.now
        try await limiter.limited("k") {
            try await Task.sleep(for: .milliseconds(150))
            firstReply = clock.now
        }
        let second = try await limiter.limited("k") { clock.now }
        #expect(second - firstReply >= .milliseconds(200))
        // A failed request may still have reached the server: it counts, and its slot frees after its window.
        await #expect(throws: CancellationError.self) {
            try await limiter.limited("other") { throw CancellationError() }
        }
        let before = clock.now
        try await limiter.limited("other") {}
        #expect(clock.now - before >= .milliseconds(150))
    }

    @Test("hostHeader keeps an explicit port")
    func hostHeader() {
        #expect(HTTPRequest.hostHeader(for: URL(string: "http://127.0.0.1:8080/")!) == "127.0.0.1:8080")
        #expect(
            HTTPRequest.hostHeader(for: URL(string: "https://organization.tencentcloudapi.com")!)
                == "organization.tencentcloudapi.com"
        )
    }
}
