import CloudEmulator
import Foundation
import SCIMRotatorCore
import TencentCIC
import Transport

/// A transport for tests that must not send anything.
struct NeverTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(.connection, "NeverTransport")
    }
}

/// An in-memory emulator with the demo zone, a client and a provider on it, on a shared virtual clock.
struct TencentHarness {
    let emulator: Emulator
    let client: TencentCICClient
    let provider: TencentCICProvider
    let clock: VirtualClock
    var zone: String { DemoCredentials.tencentZone }

    init(
        retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.002),
        timeout: Double = 5,
        secretKey: String = DemoCredentials.tencentSecretKey,
        rateLimiter: RateLimiter = RateLimiter(limit: 0)
    ) {
        clock = VirtualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        emulator = Emulator(configuration: .demo, clock: clock)
        client = TencentCICClient(
            configuration: TencentCICConfiguration(
                endpoint: URL(string: "http://127.0.0.1:9")!,
                timeout: timeout,
                retry: retry
            ),
            credentials: CloudCredentials(accessKeyId: DemoCredentials.tencentSecretId, secret: Secret(secretKey)),
            transport: EmulatorTransport(emulator),
            clock: clock,
            rateLimiter: rateLimiter,
            pause: { _ in }
        )
        provider = TencentCICProvider(client: client, zone: DemoCredentials.tencentZone)
    }

    /// Posts to the emulator's admin API.
    @discardableResult
    func admin(_ method: String, _ path: String, _ body: Any = [String: Any]()) async throws -> [String: Any] {
        try await emulator.admin(method, path, body)
    }

    func fault(_ fault: [String: Any]) async throws {
        try await admin("POST", "faults", fault)
    }

    /// Calls answered by the emulator for an action with a code ("OK" for success).
    func calls(_ action: String, _ code: String) async throws -> Int {
        let calls = try await admin("GET", "calls")["calls"] as? [String: Int] ?? [:]
        return calls["tencent \(action) \(code)"] ?? 0
    }
}
