import Foundation
import SCIMRotatorCore
import Testing
import Transport

@Suite("One retry classification")
struct RetryClassTests {
    static func retried(idempotent: Bool) -> Set<ProviderError.Kind> {
        let retry = RetryClass.worthRetrying(idempotent: idempotent)
        return Set(ProviderError.Kind.allCases.filter { retry(ProviderError($0, action: "A", message: "")) })
    }

    @Test("an action that may run twice is retried after anything but a final failure")
    func idempotent() {
        #expect(
            Self.retried(idempotent: true) == [
                .throttled, .signatureExpired, .serverError, .network, .timeout, .unexpectedReply,
            ]
        )
    }

    @Test("an action that must not run twice is retried only when the failure proves it did not run")
    func notIdempotent() {
        #expect(Self.retried(idempotent: false) == [.throttled, .signatureExpired])
    }

    @Test("transport failures may have reached the server; other errors are final")
    func otherErrors() {
        #expect(RetryClass(of: TransportError(.timeout, "slow")) == .ambiguous)
        #expect(RetryClass(of: TransportError(.connection, "reset")) == .ambiguous)
        #expect(RetryClass(of: TransportError(.invalidURL, "no host")) == .final)
        #expect(RetryClass(of: CancellationError()) == .final)
    }

    @Test("RetryPolicy.run retries what the predicate allows, waiting at least what the other side asked")
    func run() async throws {
        let pauses = PauseRecorder()
        let pause: @Sendable (Double) async -> Void = { await pauses.add($0) }
        var throttled = ProviderError(.throttled, action: "A", message: "")
        throttled.retryAfter = 2
        var failures: [any Error] = [throttled, ProviderError(.authFailure, action: "A", message: "")]
        await #expect(throws: ProviderError.self) {
            try await RetryPolicy(maxAttempts: 5, baseDelay: 0, maxDelay: 0).run(
                pause: pause,
                shouldRetry: RetryClass.retryable
            ) { () async throws -> Int in throw failures.removeFirst() }
        }
        #expect(await pauses.seconds == [2])
        #expect(failures.isEmpty)
    }
}

actor PauseRecorder {
    var seconds: [Double] = []
    func add(_ value: Double) { seconds.append(value) }
}
