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
            try await limiter.acquire("AKID/ListSCIMCredentials")
            times.append(clock.now)
        }
        for index in 4..<times.count {
            #expect(times[index] - times[index - 4] >= .milliseconds(200))
        }
        // Other keys are independent.
        let before = clock.now
        try await limiter.acquire("AKID/CreateSCIMCredential")
        #expect(clock.now - before < .milliseconds(50))
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
