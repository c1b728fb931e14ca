import CloudEmulator
import Foundation
import SCIMRotatorCore
import TencentCIC
import Testing
import Transport

/// The emulator over real HTTP (Hummingbird + URLSession/libcurl), as the CLI and the official SDKs see it.
@Suite("Emulator over HTTP")
struct EmulatorServerTests {
    static func withServer(
        _ body: (URL, Emulator, TencentCICProvider) async throws -> Void
    ) async throws {
        let clock = VirtualClock(start: Date(), flowRate: 1)
        let emulator = Emulator(configuration: .demo, clock: clock)
        let server = EmulatorServer(emulator: emulator)
        let url = try await server.start()
        let client = TencentCICClient(
            configuration: TencentCICConfiguration(endpoint: url, timeout: 5, retry: .none),
            credentials: CloudCredentials(
                accessKeyId: DemoCredentials.tencentSecretId,
                secret: Secret(DemoCredentials.tencentSecretKey)
            ),
            transport: AsyncHTTPClientTransport.shared,
            clock: clock,
            rateLimiter: RateLimiter(limit: 0)
        )
        do {
            try await body(url, emulator, TencentCICProvider(client: client, zone: DemoCredentials.tencentZone))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func get(_ url: URL, bearer: String? = nil) async throws -> HTTPResponse {
        var headers: [(name: String, value: String)] = []
        if let bearer { headers.append(("Authorization", "Bearer \(bearer)")) }
        return try await AsyncHTTPClientTransport.shared.send(
            HTTPRequest(method: "GET", url: url, headers: headers, timeout: 5)
        )
    }

    static func post(_ url: URL, _ body: Any) async throws -> [String: Any] {
        let response = try await AsyncHTTPClientTransport.shared.send(
            HTTPRequest(
                method: "POST",
                url: url,
                headers: [("Content-Type", "application/json")],
                body: try JSONSerialization.data(withJSONObject: body),
                timeout: 5
            )
        )
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
    }

    @Test("the client's full cycle over a real socket, and the SCIM check of each key state")
    func fullCycle() async throws {
        try await Self.withServer { url, emulator, provider in
            let scim = provider.scimBaseURL
            #expect(scim.absoluteString == url.absoluteString + "/scim/v2")
            let created = try await provider.createKey(lifetime: .days(30))
            let users = scim.appendingPathComponent("Users")
            #expect(try await Self.get(scim.appendingPathComponent("ServiceProviderConfig")).status == 200)
            #expect(try await Self.get(users).status == 401)
            #expect(try await Self.get(users, bearer: "nope").status == 401)
            let ok = try await Self.get(users, bearer: created.secret.reveal())
            #expect(ok.status == 200)
            #expect(ok.header("content-type") == "application/scim+json")
            try await provider.setStatus(of: created.key.id, to: .disabled)
            #expect(try await Self.get(users, bearer: created.secret.reveal()).status == 401)
            try await provider.setStatus(of: created.key.id, to: .enabled)
            #expect(try await Self.get(users, bearer: created.secret.reveal()).status == 200)
            emulator.clock.advance(by: 31 * 86_400)
            #expect(try await Self.get(users, bearer: created.secret.reveal()).status == 401, "expired")
            #expect(try await provider.deleteKey(created.key.id))
        }
    }

    @Test("the reply's Content-Type is application/json exactly, HTTP 200 also for errors")
    func envelope() async throws {
        try await Self.withServer { url, _, provider in
            let request = provider.client.signedRequest(
                action: "ListSCIMCredentials",
                body: Data(#"{"ZoneId":"z-000000000000"}"#.utf8),
                timestamp: Int64(Date().timeIntervalSince1970)
            )
            let reply = try await AsyncHTTPClientTransport.shared.send(request)
            #expect(reply.status == 200)
            #expect(reply.header("content-type") == "application/json")
            let json = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            let response = json?["Response"] as? [String: Any]
            #expect((response?["Error"] as? [String: Any])?["Code"] as? String == "FailedOperation.ZoneIdNotExist")
            #expect(response?["RequestId"] is String)
        }
    }

    @Test("a dropped connection reaches the client as a network error")
    func dropped() async throws {
        try await Self.withServer { url, _, provider in
            _ = try await Self.post(
                url.appendingPathComponent("_emulator/faults"),
                ["action": "ListSCIMCredentials", "drop": "before"]
            )
            let error = await #expect(throws: ProviderError.self) { try await provider.listKeys() }
            #expect(error?.kind == .network)
            _ = try await provider.listKeys()
        }
    }

    @Test("the admin API seeds keys, never shows secrets, and moves the clock")
    func admin() async throws {
        try await Self.withServer { url, _, provider in
            let admin = url.appendingPathComponent("_emulator")
            let seeded = try await Self.post(
                admin.appendingPathComponent("zones/\(DemoCredentials.tencentZone)/keys"),
                ["createdAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z"]
            )
            let secret = try #require(seeded["secret"] as? String)
            let keys = try await provider.listKeys()
            #expect(keys.first?.createdAt == Date(timeIntervalSince1970: 1_767_225_600))
            let state = try await Self.get(admin.appendingPathComponent("state"))
            let text = String(decoding: state.body, as: UTF8.self)
            #expect(!text.contains(secret))
            #expect(text.contains("sha256:"))
            let moved = try await Self.post(admin.appendingPathComponent("clock"), ["set": "2030-01-01T00:00:00Z"])
            #expect((moved["now"] as? String)?.hasPrefix("2030-01-01T00:00:0") == true)
            let bad = try await Self.post(admin.appendingPathComponent("clock"), ["advance": "soon"])
            #expect((bad["error"] as? String)?.contains("duration") == true)
        }
    }

    @Test("the start-up line names the URL, the zone and the access key")
    func startupLine() throws {
        let emulator = Emulator()
        let line = emulator.startupLine(url: URL(string: "http://127.0.0.1:4567")!)
        #expect(!line.contains("\n"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["url"] as? String == "http://127.0.0.1:4567")
        let tencent = try #require(json["tencent"] as? [String: Any])
        #expect(tencent["zones"] as? [String] == [DemoCredentials.tencentZone])
        #expect(tencent["secretId"] as? String == DemoCredentials.tencentSecretId)
        #expect(tencent["secretKey"] as? String == DemoCredentials.tencentSecretKey)
    }

    @Test("configuration files in YAML")
    func configuration() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("emu-\(UUID()).yaml").path
        try """
        keyLimit: 3
        tencent:
          accounts:
            - {secretId: AKIDone, secretKey: one, zones: [z-aaaaaaaaaaaa]}
          zones:
            - {id: z-aaaaaaaaaaaa, name: a, syncStatus: Disabled}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try EmulatorConfiguration.load(path: path)
        #expect(configuration.keyLimit == 3)
        #expect(configuration.tencent?.zones.first?.syncStatus == .disabled)
        let emulator = Emulator(configuration: configuration)
        let zones = emulator.state()["zones"] as? [[String: Any]]
        #expect(zones?.first?["keyLimit"] as? Int == 3)
        #expect(throws: EmulatorConfiguration.LoadError.self) {
            try EmulatorConfiguration.load(path: path + ".missing")
        }
    }
}
