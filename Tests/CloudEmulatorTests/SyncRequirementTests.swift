import CloudEmulator
import Foundation
import SCIMRotatorCore
import TencentCIC
import Testing
import Transport

@Suite("Emulator: SCIM calls while synchronization is disabled")
struct SyncRequirementTests {
    func scim(_ emulator: Emulator, bearer: String, path: String = "Users?count=1") async throws -> Int {
        let reply = try await EmulatorTransport(emulator).send(
            HTTPRequest(
                method: "GET",
                url: try #require(URL(string: "http://127.0.0.1:9/scim/v2/\(path)")),
                headers: [("Authorization", "Bearer \(bearer)")]
            )
        )
        return reply.status
    }

    func provider(_ emulator: Emulator) -> TencentCICProvider {
        let client = TencentCICClient(
            configuration: TencentCICConfiguration(endpoint: URL(fileURLWithPath: "/"), retry: .none),
            credentials: CloudCredentials(
                accessKeyId: DemoCredentials.tencentSecretId,
                secret: Secret(DemoCredentials.tencentSecretKey)
            ),
            transport: EmulatorTransport(emulator),
            clock: emulator.clock,
            rateLimiter: RateLimiter(limit: 0)
        )
        return TencentCICProvider(client: client, zone: DemoCredentials.tencentZone)
    }

    @Test("scimRequiresSync (config or admin settings): 403 while disabled, 200 once enabled; off by default")
    func refusesWhileDisabled() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("emu-\(UUID()).yaml").path
        try """
        scimRequiresSync: true
        tencent:
          accounts:
            - {secretId: \(DemoCredentials.tencentSecretId), secretKey: \(DemoCredentials.tencentSecretKey), zones: [\(DemoCredentials.tencentZone)]}
          zones:
            - {id: \(DemoCredentials.tencentZone), syncStatus: Disabled}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try EmulatorConfiguration.load(path: path)
        #expect(configuration.scimRequiresSync == true)
        let emulator = Emulator(configuration: configuration, clock: VirtualClock(start: Date()))
        let provider = provider(emulator)
        let created = try await provider.createKey(lifetime: .days(30))
        let secret = created.secret.reveal()
        #expect(try await scim(emulator, bearer: secret) == 403)
        #expect(try await scim(emulator, bearer: secret, path: "ServiceProviderConfig") == 200)
        #expect(try await scim(emulator, bearer: "unknown") == 401, "an unknown key is still 401")
        try await provider.client.updateSCIMSynchronizationStatus(zoneId: DemoCredentials.tencentZone, status: .enabled)
        #expect(try await scim(emulator, bearer: secret) == 200)

        // The admin API switches it off and on.
        try await provider.client.updateSCIMSynchronizationStatus(
            zoneId: DemoCredentials.tencentZone,
            status: .disabled
        )
        let settings = try await EmulatorTransport(emulator).send(
            HTTPRequest(
                method: "POST",
                url: try #require(URL(string: "http://127.0.0.1:9/_emulator/settings")),
                body: Data(#"{"scimRequiresSync": false}"#.utf8)
            )
        )
        #expect(String(decoding: settings.body, as: UTF8.self).contains("\"scimRequiresSync\":false"))
        #expect(try await scim(emulator, bearer: secret) == 200)

        // Off by default.
        let plain = Emulator(configuration: .demo, clock: VirtualClock(start: Date()))
        let key = try await self.provider(plain).createKey(lifetime: .days(30))
        try await self.provider(plain).client.updateSCIMSynchronizationStatus(
            zoneId: DemoCredentials.tencentZone,
            status: .disabled
        )
        #expect(try await scim(plain, bearer: key.secret.reveal()) == 200)
    }
}
