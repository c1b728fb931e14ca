import CloudEmulator
import Foundation
import SCIMRotatorCore
import Testing
import Transport

@testable import AlibabaCloudSSO

@Suite("Alibaba regions: never a crash, never a guess left unsaid")
struct AlibabaRegionTests {
    func client(_ configuration: AlibabaCloudSSOConfiguration, emulator: Emulator) -> AlibabaCloudSSOClient {
        AlibabaCloudSSOClient(
            configuration: configuration,
            credentials: CloudCredentials(
                accessKeyId: DemoCredentials.alibabaAccessKeyId,
                secret: Secret(DemoCredentials.alibabaAccessKeySecret)
            ),
            transport: EmulatorTransport(emulator),
            clock: emulator.clock,
            rateLimiter: RateLimiter(limit: 0),
            pause: { _ in }
        )
    }

    @Test(
        "a region that is not a region id builds no URL and fails every call with a message, not a crash",
        arguments: ["cn shanghai", "attacker.example.com/x#", "", "cn-shanghai.evil"]
    )
    func invalidRegion(region: String) async {
        #expect(AlibabaCloudSSOConfiguration.endpoint(region: region) == nil)
        let configuration = AlibabaCloudSSOConfiguration(region: region)
        #expect(configuration.problem?.contains("not a region id") == true)
        #expect(throws: ProviderError.self) { try AlibabaCloudSSOConfiguration.validate(region: region) }
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date()))
        let provider = AlibabaCloudSSOProvider(
            client: client(configuration, emulator: emulator),
            directory: "d-demo00000001"
        )
        #expect(!provider.scimBaseURL.absoluteString.contains("attacker"))
        await expectKind(.invalidRequest, nil) { _ = try await provider.listKeys() }
        let calls = try? await EmulatorTransport(emulator).send(
            HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:9/_emulator/calls")!)
        )
        #expect(calls.map { String(decoding: $0.body, as: UTF8.self).contains("ListSCIMServerCredentials") } == false)
    }

    @Test("an implied region says so when the directory is not there, naming the other CloudSSO regions")
    func impliedRegion() async throws {
        let emulator = Emulator(configuration: .demo, clock: VirtualClock(start: Date()))
        let implied = AlibabaCloudSSOConfiguration()
        #expect(implied.regionImplied && implied.region == "cn-shanghai")
        let provider = AlibabaCloudSSOProvider(
            client: client(implied, emulator: emulator),
            directory: "d-elsewhere0001"
        )
        do {
            _ = try await provider.listKeys()
            Issue.record("an unknown directory was listed")
        } catch let error as ProviderError {
            #expect(error.kind == .zoneNotFound)
            #expect(error.description.contains("no `region:`"), "\(error)")
            for region in ["ap-southeast-1", "us-west-1", "eu-central-1"] {
                #expect(error.description.contains(region), "\(error)")
            }
        }
        // With a region named, the message is the cloud's own.
        let named = AlibabaCloudSSOConfiguration(region: "cn-shanghai")
        #expect(!named.regionImplied)
        let plain = AlibabaCloudSSOProvider(client: client(named, emulator: emulator), directory: "d-elsewhere0001")
        do {
            _ = try await plain.listKeys()
        } catch let error as ProviderError {
            #expect(!error.description.contains("no `region:`"), "\(error)")
        }
        #expect(implied.endpoint.absoluteString == "https://cloudsso.cn-shanghai.aliyuncs.com")
    }
}

@Suite("Alibaba: an explicit default port")
struct AlibabaDefaultPortTests {
    @Test("the signed host drops a default port, as the request URL does")
    func signedHost() throws {
        let client = AlibabaCloudSSOClient(
            configuration: AlibabaCloudSSOConfiguration(
                endpoint: URL(string: "https://cloudsso.cn-shanghai.aliyuncs.com:443")
            ),
            credentials: CloudCredentials(accessKeyId: "LTAI5tEXAMPLE", secret: Secret("example")),
            transport: AsyncHTTPClientTransport.shared
        )
        let request = client.signedRequest(action: "ListDirectories", parameters: [:], date: Date(), nonce: "n")
        #expect(request.header("host") == "cloudsso.cn-shanghai.aliyuncs.com")
        #expect(request.url.port == nil)
    }
}
