import CloudEmulator
import Foundation
import SCIMRotatorCore
import TencentCIC
import Testing
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Whether this process may listen on 127.0.0.1:80 (root, and nothing else there).
let port80Free: Bool = {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(80).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}()

@Suite("An explicit default port: the Host that is signed is the Host that is sent", .serialized)
struct DefaultPortTests {
    func client(
        _ endpoint: String,
        transport: any HTTPTransport = AsyncHTTPClientTransport.shared
    ) throws -> TencentCICClient {
        TencentCICClient(
            configuration: TencentCICConfiguration(
                endpoint: try #require(URL(string: endpoint)),
                timeout: 5,
                retry: .none
            ),
            credentials: CloudCredentials(
                accessKeyId: DemoCredentials.tencentSecretId,
                secret: Secret(DemoCredentials.tencentSecretKey)
            ),
            transport: transport,
            rateLimiter: RateLimiter(limit: 0)
        )
    }

    @Test(
        "the signed Host and the request URL drop a default port and keep any other",
        arguments: [
            ("https://organization.tencentcloudapi.com:443", "organization.tencentcloudapi.com"),
            ("https://organization.tencentcloudapi.com", "organization.tencentcloudapi.com"),
            ("http://127.0.0.1:80", "127.0.0.1"), ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("https://organization.tencentcloudapi.com:8443", "organization.tencentcloudapi.com:8443"),
            ("http://[::1]:8080", "[::1]:8080"),
        ]
    )
    func signedHost(endpoint: String, host: String) throws {
        let request = try client(endpoint).signedRequest(
            action: "ListSCIMCredentials",
            body: Data("{}".utf8),
            timestamp: 1_800_000_000
        )
        #expect(request.header("Host") == host)
        #expect(HTTPRequest.hostHeader(for: request.url) == host)
        #expect(request.url.port.map { $0 == 80 || $0 == 443 } != true, "\(request.url)")
        #expect(request.header("Authorization")?.contains("SignedHeaders=content-type;host") == true)
    }

    @Test("http://127.0.0.1:80 as written in a policy: calls over a real socket are accepted", .enabled(if: port80Free))
    func overPort80() async throws {
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date(), flowRate: 1))
        let server = EmulatorServer(emulator: emulator, port: 80)
        _ = try await server.start()
        do {
            let provider = TencentCICProvider(
                client: try client("http://127.0.0.1:80"),
                zone: DemoCredentials.tencentZone
            )
            let keys = try await provider.listKeys()
            #expect(keys.isEmpty)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
