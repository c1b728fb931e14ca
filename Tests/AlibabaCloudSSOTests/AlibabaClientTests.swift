import CloudEmulator
import Foundation
import SCIMRotatorCore
import Synchronization
import Testing
import Transport

@testable import AlibabaCloudSSO

/// An in-memory emulator with the demo directory, and a client and provider on it.
struct AlibabaHarness {
    let emulator: Emulator
    let client: AlibabaCloudSSOClient
    let provider: AlibabaCloudSSOProvider
    let clock: VirtualClock
    let pauses = PauseLog()
    var directory: String { DemoCredentials.alibabaDirectory }

    init(
        retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.002),
        secret: String = DemoCredentials.alibabaAccessKeySecret,
        timeout: Double = 5
    ) {
        clock = VirtualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
        emulator = Emulator(configuration: .demo, clock: clock)
        let pauses = self.pauses
        client = AlibabaCloudSSOClient(
            configuration: AlibabaCloudSSOConfiguration(
                endpoint: URL(string: "http://127.0.0.1:9")!,
                timeout: timeout,
                retry: retry
            ),
            credentials: CloudCredentials(accessKeyId: DemoCredentials.alibabaAccessKeyId, secret: Secret(secret)),
            transport: EmulatorTransport(emulator),
            clock: clock,
            rateLimiter: RateLimiter(limit: 0),
            pause: { seconds in pauses.log.withLock { $0.append(seconds) } }
        )
        provider = AlibabaCloudSSOProvider(client: client, directory: DemoCredentials.alibabaDirectory)
    }

    @discardableResult
    func admin(_ method: String, _ path: String, _ body: Any = [String: Any]()) async throws -> [String: Any] {
        try await emulator.admin(method, path, body)
    }

    func calls(_ action: String, _ code: String) async throws -> Int {
        (try await admin("GET", "calls")["calls"] as? [String: Int] ?? [:])["alibaba \(action) \(code)"] ?? 0
    }
}

/// The pauses the client asked for between retries.
final class PauseLog: Sendable {
    let log = Mutex<[Double]>([])
}

@Suite("Alibaba CloudSSO client against the emulator")
struct AlibabaClientTests {
    @Test("create, list, disable, enable, delete through the provider; validity fixed at one year")
    func lifecycle() async throws {
        let h = AlibabaHarness()
        let created = try await h.provider.createKey(lifetime: .days(90))
        #expect(created.key.status == .enabled && !created.secret.isEmpty)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        #expect(
            calendar.dateComponents([.year], from: created.key.createdAt, to: created.key.expiresAt).year == 1,
            "lifetime ignored: one year"
        )
        #expect(try await h.provider.listKeys().map(\.id) == [created.key.id])
        try await h.provider.setStatus(of: created.key.id, to: .disabled)
        #expect(try await h.provider.listKeys().first?.status == .disabled)
        try await h.provider.setStatus(of: created.key.id, to: .enabled)
        #expect(try await h.provider.deleteKey(created.key.id))
        #expect(try await h.provider.deleteKey(created.key.id) == false, "EntityNotExists.SCIMCredential: already gone")
        try await h.provider.setSyncStatus(.disabled)
        #expect(try await h.provider.syncStatus() == .disabled)
        #expect(try await h.client.getDirectory(directoryId: h.directory).Directory.DirectoryId == h.directory)
        #expect(try await h.client.listDirectories().Directories.map(\.DirectoryId) == [h.directory])
    }

    @Test("the limit is checked before Create, and a limit code from Create is the limit")
    func limit() async throws {
        let h = AlibabaHarness(retry: .none)
        _ = try await h.provider.createKey(lifetime: nil)
        _ = try await h.provider.createKey(lifetime: nil)
        await expectKind(.limitExceeded, "LocalCheck") { _ = try await h.provider.createKey(lifetime: nil) }
        #expect(try await h.calls("CreateSCIMServerCredential", "LimitExceeded.SCIMCredential") == 0, "not even sent")
        for code in ["LimitExceeded.SCIMCredential", "QuotaExceeded.Credential", "EntityExceed"] {
            _ = try await h.admin("POST", "settings", ["alibabaLimitCode": code, "alibabaLimitStatus": 409])
            await expectKind(.limitExceeded, code) {
                _ = try await h.client.createSCIMServerCredential(directoryId: h.directory)
            }
        }
    }

    static let codes: [(String, Int, ProviderError.Kind)] = [
        ("Throttling", 400, .throttled), ("Throttling.User", 400, .throttled), ("Throttling.Api", 400, .throttled),
        ("SignatureDoesNotMatch", 400, .authFailure), ("IncompleteSignature", 400, .authFailure),
        ("InvalidAccessKeyId.NotFound", 404, .authFailure), ("InvalidAccessKeyId.Inactive", 400, .authFailure),
        ("SignatureNonceUsed", 400, .authFailure), ("Forbidden.RAM", 403, .authFailure),
        ("NoPermission", 403, .authFailure),
        ("InvalidTimeStamp.Expired", 400, .signatureExpired), ("InternalError", 500, .serverError),
        ("ServiceUnavailable", 503, .serverError), ("EntityNotExists.Directory", 404, .zoneNotFound),
        ("EntityNotExists.SCIMCredential", 404, .keyNotFound), ("MissingDirectoryId", 400, .invalidRequest),
        ("InvalidApi.NotFound", 404, .invalidRequest),
    ]

    @Test("an injected error code becomes a typed error", arguments: codes)
    func mapping(code: String, status: Int, kind: ProviderError.Kind) async throws {
        let h = AlibabaHarness(retry: .none)
        _ = try await h.admin(
            "POST",
            "faults",
            ["action": "ListSCIMServerCredentials", "error": code, "httpStatus": status]
        )
        let error = await #expect(throws: ProviderError.self) { try await h.provider.listKeys() }
        #expect(error?.kind == kind)
        #expect(error?.code == code)
        #expect(error?.httpStatus == status)
        #expect(error?.requestId?.isEmpty == false)
    }

    @Test("the emulator's own errors, produced for real")
    func naturalErrors() async throws {
        let h = AlibabaHarness(retry: .none)
        await expectKind(.zoneNotFound, "EntityNotExists.Directory") {
            _ = try await h.client.listSCIMServerCredentials(directoryId: "d-000000000000")
        }
        await expectKind(.keyNotFound, "EntityNotExists.SCIMCredential") {
            try await h.client.updateSCIMServerCredentialStatus(
                directoryId: h.directory,
                credentialId: "scimcred-x",
                newStatus: .disabled
            )
        }
        await expectKind(.invalidRequest, "MissingDirectoryId") {
            let _: SSOEmptyReply = try await h.client.call("GetDirectory", [:])
        }
        await expectKind(.invalidRequest, "InvalidParameter.SCIMSynchronizationStatus") {
            let _: SSOEmptyReply = try await h.client.call(
                "SetSCIMSynchronizationStatus",
                ["DirectoryId": h.directory, "SCIMSynchronizationStatus": "On"]
            )
        }
        await expectKind(.invalidRequest, "InvalidApi.NotFound") {
            let _: SSOEmptyReply = try await h.client.call("ListUsers", [:])
        }
        _ = try await h.admin("POST", "settings", ["signatureSkewSeconds": 1_000.0])
        await expectKind(.signatureExpired, "InvalidTimeStamp.Expired") { _ = try await h.provider.listKeys() }
        let wrong = AlibabaHarness(retry: RetryPolicy(maxAttempts: 5), secret: "wrong")
        await expectKind(.authFailure, "SignatureDoesNotMatch") { _ = try await wrong.provider.listKeys() }
        #expect(try await wrong.calls("ListSCIMServerCredentials", "SignatureDoesNotMatch") == 1, "never retried")
    }

    @Test("throttling is retried, honouring x-acs-retry-after in milliseconds")
    func retryAfter() async throws {
        let h = AlibabaHarness()
        _ = try await h.admin(
            "POST",
            "faults",
            ["action": "ListSCIMServerCredentials", "error": "Throttling.User", "retryAfterMs": 1_500, "times": 2]
        )
        _ = try await h.provider.listKeys()
        #expect(h.pauses.log.withLock { $0 } == [1.5, 1.5])
        _ = try await h.admin(
            "POST",
            "faults",
            ["action": "ListSCIMServerCredentials", "error": "ServiceUnavailable", "times": 1]
        )
        _ = try await h.admin("POST", "faults", ["action": "ListSCIMServerCredentials", "httpStatus": 502, "times": 1])
        _ = try await h.admin("POST", "faults", ["action": "ListSCIMServerCredentials", "drop": "before", "times": 1])
        _ = try await h.provider.listKeys()
        #expect(try await h.calls("ListSCIMServerCredentials", "OK") == 2)
    }

    @Test("a lost Create reply adopts the created credential instead of creating a second one")
    func lostReply() async throws {
        let h = AlibabaHarness()
        _ = try await h.admin("POST", "faults", ["action": "CreateSCIMServerCredential", "drop": "after"])
        let error = await #expect(throws: ProviderError.self) { try await h.provider.createKey(lifetime: nil) }
        #expect(error?.kind == .createdWithoutSecret)
        #expect(try await h.provider.listKeys().map(\.id) == [error?.keyId])
    }

    @Test("STS: x-acs-security-token must match the account's token")
    func securityToken() async throws {
        let h = AlibabaHarness(retry: .none)
        let account = try await h.admin(
            "POST",
            "accounts",
            ["provider": "alibaba", "token": "sts-1", "zones": [h.directory]]
        )
        func provider(_ token: String?) -> AlibabaCloudSSOProvider {
            AlibabaCloudSSOProvider(
                client: AlibabaCloudSSOClient(
                    configuration: h.client.configuration,
                    credentials: CloudCredentials(
                        accessKeyId: account["accessKeyId"] as! String,
                        secret: Secret(account["accessKeySecret"] as! String),
                        token: token.map(Secret.init)
                    ),
                    transport: EmulatorTransport(h.emulator),
                    clock: h.clock,
                    rateLimiter: RateLimiter(limit: 0)
                ),
                directory: h.directory
            )
        }
        _ = try await provider("sts-1").listKeys()
        await expectKind(.authFailure, "InvalidSecurityToken.Mismatch") { _ = try await provider("sts-2").listKeys() }
    }

    @Test("the emulator accepts an RPC v1 (HMAC-SHA1) request and rejects a replayed nonce")
    func rpcV1() async throws {
        let h = AlibabaHarness()
        var parameters = [
            "Action": "ListSCIMServerCredentials", "Format": "json", "Version": "2021-05-15",
            "Timestamp": h.clock.now().formatted(Date.ISO8601FormatStyle()), "SignatureNonce": "nonce-1",
            "DirectoryId": h.directory, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
            "AccessKeyId": DemoCredentials.alibabaAccessKeyId,
        ]
        parameters["Signature"] =
            ACSSigner.signV1(secret: Secret(DemoCredentials.alibabaAccessKeySecret), parameters: parameters).signature
        let url = URL(string: "http://127.0.0.1:9/?" + ACSSigner.canonicalQuery(parameters))!
        let first = try await EmulatorTransport(h.emulator).send(HTTPRequest(method: "POST", url: url))
        #expect(first.status == 200, "\(String(decoding: first.body, as: UTF8.self))")
        let replay = try await EmulatorTransport(h.emulator).send(HTTPRequest(method: "POST", url: url))
        #expect(replay.status == 400)
        #expect(String(decoding: replay.body, as: UTF8.self).contains("SignatureNonceUsed"))
    }

    @Test("Alibaba endpoints and SCIM URLs follow the region")
    func endpoints() {
        let configuration = AlibabaCloudSSOConfiguration(region: "ap-southeast-1")
        #expect(configuration.endpoint.absoluteString == "https://cloudsso.ap-southeast-1.aliyuncs.com")
        #expect(
            AlibabaCloudSSOProvider.defaultSCIMURL(for: configuration).absoluteString
                == "https://cloudsso-scim-ap-southeast-1.aliyun.com/scim/v2"
        )
        #expect(AlibabaCloudSSOConfiguration().endpoint.absoluteString == "https://cloudsso.cn-shanghai.aliyuncs.com")
    }
}

func expectKind(
    _ kind: ProviderError.Kind,
    _ code: String?,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(kind) but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as ProviderError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        if let code { #expect(error.code == code, "\(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected ProviderError.\(kind), got \(error)", sourceLocation: sourceLocation)
    }
}
