import AlibabaCloudSSO
import CloudEmulator
import Foundation
import SCIMRotatorCore
import TencentCIC
import Testing
import Transport
import VolcengineCloudIdentity

/// A Create whose connection dropped after the cloud ran it, over a real socket on a connection already used: the
/// transport must not resend the signed request (libcurl did, and CloudSSO refused the reused nonce), and the key the
/// call made is reported as made without a secret, so the rotation abandons it instead of calling it foreign.
@Suite("A lost Create reply over a real socket")
struct LostReplyTests {
    @Test("the transport never resends a signed request; the orphan is named", arguments: ProviderKind.withKeyAPI)
    func lostReply(kind: ProviderKind) async throws {
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date(), flowRate: 1))
        let server = EmulatorServer(emulator: emulator)
        let url = try await server.start()
        defer { Task { await server.stop() } }
        let transport = AsyncHTTPClientTransport.shared
        let provider: any SCIMKeyProvider
        switch kind {
        case .tencent:
            provider = TencentCICProvider(
                client: TencentCICClient(
                    configuration: TencentCICConfiguration(endpoint: url, timeout: 5, retry: .none),
                    credentials: CloudCredentials(
                        accessKeyId: DemoCredentials.tencentSecretId,
                        secret: Secret(DemoCredentials.tencentSecretKey)
                    ),
                    transport: transport,
                    rateLimiter: RateLimiter(limit: 0)
                ),
                zone: DemoCredentials.tencentZone
            )
        case .alibaba:
            provider = AlibabaCloudSSOProvider(
                client: AlibabaCloudSSOClient(
                    configuration: AlibabaCloudSSOConfiguration(endpoint: url, timeout: 5, retry: .none),
                    credentials: CloudCredentials(
                        accessKeyId: DemoCredentials.alibabaAccessKeyId,
                        secret: Secret(DemoCredentials.alibabaAccessKeySecret)
                    ),
                    transport: transport,
                    rateLimiter: RateLimiter(limit: 0)
                ),
                directory: DemoCredentials.alibabaDirectory
            )
        case .volcengine:
            provider = VolcengineProvider(
                client: VolcengineClient(
                    configuration: VolcengineConfiguration(endpoint: url, timeout: 5, retry: .none),
                    credentials: DemoCredentials.credentials(for: .volcengine),
                    transport: transport,
                    rateLimiter: RateLimiter(limit: 0)
                ),
                account: DemoCredentials.volcengineAccount
            )
        case .awsIdentityCenter:
            return  // no key API: nothing is signed or sent
        }
        let before = try await provider.listKeys()  // the connection is open and reused from here on
        let create = kind == .tencent ? "CreateSCIMCredential" : "CreateSCIMServerCredential"
        let fault = try JSONSerialization.data(withJSONObject: [
            "provider": kind.rawValue, "action": create, "drop": "after",
        ])
        _ = try await transport.send(
            HTTPRequest(
                method: "POST",
                url: url.appendingPathComponent("_emulator/faults"),
                headers: [("Content-Type", "application/json")],
                body: fault
            )
        )
        let error = await #expect(throws: ProviderError.self) {
            try await provider.createKey(lifetime: .days(30), knownKeys: before)
        }
        #expect(error?.kind == .createdWithoutSecret)
        let made = try await provider.listKeys()
        #expect(made.count == before.count + 1)
        #expect(error?.keyId == made.first { key in !before.contains { $0.id == key.id } }?.id)
        let calls = try await transport.send(
            HTTPRequest(method: "GET", url: url.appendingPathComponent("_emulator/calls"))
        )
        let counts = (try JSONSerialization.jsonObject(with: calls.body) as? [String: Any])?["calls"] as? [String: Int]
        let creates = (counts ?? [:]).filter { $0.key.hasPrefix("\(kind.rawValue) \(create) ") }
        #expect(creates == ["\(kind.rawValue) \(create) OK": 1], "exactly one Create reached the cloud: \(creates)")
    }
}
