import CloudEmulator
import Foundation
import SCIMRotatorCore
import Testing
import Transport

@Suite("Emulator: an AWS IAM Identity Center tenant's SCIM endpoint")
struct AWSTenantTests {
    func get(_ emulator: Emulator, _ path: String, bearer: String) async throws -> Int {
        try await EmulatorTransport(emulator).send(
            HTTPRequest(
                method: "GET",
                url: try #require(URL(string: "http://127.0.0.1:9\(path)")),
                headers: [("Authorization", "Bearer \(bearer)")]
            )
        ).status
    }

    @Test("a token made in the console works at its tenant's /scim/v2 and nowhere else; deleted, it is refused")
    func tenantEndpoint() async throws {
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date()))
        let tenant = DemoCredentials.awsTenant
        let now = emulator.clock.now()
        let token = try #require(emulator.seedKey(zone: tenant, createdAt: now, expiresAt: now + 365 * 86_400))
        let tencent = try #require(
            emulator.seedKey(zone: DemoCredentials.tencentZone, createdAt: now, expiresAt: now + 86_400)
        )
        #expect(try await get(emulator, "/\(tenant)/scim/v2/Users?count=1", bearer: token.secret) == 200)
        #expect(
            try await get(emulator, "/\(tenant)/scim/v2/Users?count=1", bearer: tencent.secret) == 401,
            "another zone's key is refused at this tenant, as AWS refuses a wrong tenant id"
        )
        #expect(try await get(emulator, "/no-such-tenant/scim/v2/Users", bearer: token.secret) == 404)
        #expect(try await get(emulator, "/\(tenant)/scim/v2/ServiceProviderConfig", bearer: "") == 200)
        emulator.deleteKey(zone: tenant, key: token.id)
        #expect(try await get(emulator, "/\(tenant)/scim/v2/Users?count=1", bearer: token.secret) == 401)
    }

    @Test("the start-up line names the tenants and their SCIM URLs")
    func startupLine() throws {
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date()))
        let line = emulator.startupLine(url: try #require(URL(string: "http://127.0.0.1:8080")))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let aws = try #require(object?["aws-identity-center"] as? [String: Any])
        #expect(aws["tenants"] as? [String] == [DemoCredentials.awsTenant])
        #expect(aws["scim"] as? [String] == ["http://127.0.0.1:8080/\(DemoCredentials.awsTenant)/scim/v2"])
    }
}
