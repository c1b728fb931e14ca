import CloudEmulator
import Foundation
import SCIMRotatorCore
import Synchronization
import Testing
import Transport
import VolcengineCloudIdentity

/// A transport that answers every request with one canned reply, counting the requests.
final class CannedTransport: HTTPTransport, Sendable {
    let response: HTTPResponse
    let sent = Mutex(0)

    init(status: Int, body: String) {
        response = HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: Data(body.utf8))
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.withLock { $0 += 1 }
        return response
    }
}

/// A client and provider on the in-memory emulator's demo account, on a virtual clock.
struct VolcengineHarness {
    let emulator: Emulator
    let provider: VolcengineProvider
    let clock = VirtualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    var account: String { DemoCredentials.volcengineAccount }

    init(
        secretKey: String = DemoCredentials.volcengineSecretKey,
        keyLimit: Int = 2,
        transport: (any HTTPTransport)? = nil
    ) {
        emulator = Emulator(configuration: .demo, clock: clock)
        let client = VolcengineClient(
            configuration: VolcengineConfiguration(
                endpoint: URL(string: "http://127.0.0.1:9")!,
                retry: RetryPolicy(maxAttempts: 3, baseDelay: 0, maxDelay: 0)
            ),
            credentials: CloudCredentials(accessKeyId: DemoCredentials.volcengineAccessKey, secret: Secret(secretKey)),
            transport: transport ?? EmulatorTransport(emulator),
            clock: clock,
            rateLimiter: RateLimiter(limit: 0),
            pause: { _ in }
        )
        provider = VolcengineProvider(client: client, account: DemoCredentials.volcengineAccount, keyLimit: keyLimit)
    }
}

@Suite("Volcano Engine CloudIdentity client and provider")
struct VolcengineClientTests {
    static func envelope(_ code: String, _ message: String) -> String {
        #"{"ResponseMetadata": {"RequestId": "r-1", "Action": "DeleteSCIMServerCredential", "Version": "2023-01-01", "#
            + #""Service": "cloudidentity", "Region": "cn-beijing", "Error": {"Code": "\#(code)", "Message": "\#(message)"}}}"#
    }

    /// Each documented code (volcengine.md §8), with its HTTP status, and the kind the rotation reasons about.
    static let documented: [(status: Int, code: String, kind: ProviderError.Kind)] = [
        (400, "SCIMTokenDeletionConflict", .lastKeyProtected),
        (400, "IdentitySourceBindInfoRecordNotExist", .invalidRequest),
        (400, "InvalidIdentitySourceStatus", .invalidRequest),
        (400, "ConcurrentException", .throttled),
        (400, "OperateTooFrequentlyException", .throttled),
        (400, "SensitiveWord", .invalidRequest),
        (400, "ParamMissing", .invalidRequest),
        (500, "InternalError", .serverError),
        (400, "PermissionError", .authFailure),
        (400, "InvalidParam", .invalidRequest),
        (403, "PermissionDenied", .authFailure),
        (400, "ServiceStatusException", .identityCenterNotOpen),
        (400, "MissingParameter", .invalidRequest),
        (401, "MissingAuthenticationToken", .authFailure),
        (400, "MissingRequestInfo", .invalidRequest),
        (401, "MissingSignature", .authFailure),
        (403, "InvalidTimestamp", .signatureExpired),
        (404, "ServiceNotFound", .invalidRequest),
        (404, "InvalidActionOrVersion", .invalidRequest),
        (401, "InvalidAccessKey", .authFailure),
        (401, "SignatureDoesNotMatch", .authFailure),
        (403, "LackPolicy", .authFailure),
        (403, "AccessDenied", .authFailure),
        (400, "InvalidAuthorization", .authFailure),
        (400, "InvalidCredential", .authFailure),
        (401, "InvalidSecretToken", .authFailure),
        (429, "FlowLimitExceeded", .throttled),
    ]

    @Test("every documented error code maps to its kind, code and request id", arguments: documented.indices)
    func errorMapping(index: Int) async throws {
        let (status, code, kind) = Self.documented[index]
        let transport = CannedTransport(status: status, body: Self.envelope(code, "message of \(code)"))
        let h = VolcengineHarness(transport: transport)
        let error = try await #require(throws: ProviderError.self) {
            try await h.provider.client.deleteSCIMServerCredential(credentialId: "3111111114")
        }
        #expect(error.kind == kind)
        #expect(error.code == code)
        #expect(error.requestId == "r-1")
        #expect(error.message == "message of \(code)")
        #expect(error.httpStatus == status)
    }

    @Test("an error inside HTTP 200, a reply without envelope, a bare 503 and a limit code on Create")
    func otherReplies() async throws {
        let inside = VolcengineHarness(
            transport: CannedTransport(status: 200, body: Self.envelope("InvalidParam", "x"))
        )
        await #expect(throws: ProviderError.self) { try await inside.provider.listKeys() }
        let bare = VolcengineHarness(transport: CannedTransport(status: 200, body: #"{"Result": {}}"#))
        let unreadable = try await #require(throws: ProviderError.self) { try await bare.provider.listKeys() }
        #expect(unreadable.kind == .unexpectedReply)
        let gateway = CannedTransport(status: 503, body: "")
        let down = try await #require(throws: ProviderError.self) {
            try await VolcengineHarness(transport: gateway).provider.listKeys()
        }
        #expect(down.kind == .serverError)
        #expect(gateway.sent.withLock { $0 } == 3)  // List is idempotent: retried
        let limit = CannedTransport(status: 400, body: Self.envelope("SCIMServerCredentialQuotaExceeded", "too many"))
        let full = try await #require(throws: ProviderError.self) {
            try await VolcengineHarness(transport: limit).provider.client.createSCIMServerCredential()
        }
        #expect(full.kind == .limitExceeded)
        let server = CannedTransport(status: 500, body: Self.envelope("InternalError", "boom"))
        _ = try? await VolcengineHarness(transport: server).provider.client.createSCIMServerCredential()
        #expect(server.sent.withLock { $0 } == 1)  // Create is not idempotent: never resent after a 5xx
    }

    @Test("create, list and delete against the emulator; the last key's deletion is refused")
    func lifecycle() async throws {
        let h = VolcengineHarness()
        let first = try await h.provider.createKey(lifetime: nil)
        #expect(first.key.status == .enabled)
        #expect(first.key.expiresAt.timeIntervalSince(first.key.createdAt) >= 365 * 86_400)
        #expect(first.key.createdAt == h.clock.now().addingTimeInterval(0).rounded())
        let second = try await h.provider.createKey(lifetime: nil)
        #expect(try await h.provider.listKeys().map(\.id) == [first.key.id, second.key.id])
        let full = try await #require(throws: ProviderError.self) { try await h.provider.createKey(lifetime: nil) }
        #expect(full.kind == .limitExceeded)
        #expect(try await h.provider.deleteKey(first.key.id))
        #expect(try await !h.provider.deleteKey(first.key.id))  // already gone
        let last = try await #require(throws: ProviderError.self) { try await h.provider.deleteKey(second.key.id) }
        #expect(last.kind == .lastKeyProtected)
        #expect(last.code == "SCIMTokenDeletionConflict")
        #expect(try await h.provider.listKeys().map(\.id) == [second.key.id])
    }

    @Test("a wrong secret is refused as an auth failure; no disable and no sync switch")
    func refusals() async throws {
        let wrong = try await #require(throws: ProviderError.self) {
            try await VolcengineHarness(secretKey: "not-the-secret").provider.listKeys()
        }
        #expect(wrong.kind == .authFailure)
        #expect(wrong.code == "SignatureDoesNotMatch")
        #expect(!"\(wrong)".contains(DemoCredentials.volcengineSecretKey))
        let h = VolcengineHarness()
        let key = try await h.provider.createKey(lifetime: nil)
        await #expect(throws: ProviderError.self) { try await h.provider.setStatus(of: key.key.id, to: .disabled) }
        await #expect(throws: ProviderError.self) { try await h.provider.syncStatus() }
        #expect(!VolcengineProvider.traits.canDisable)
        #expect(!VolcengineProvider.traits.hasSyncSwitch)
    }

    @Test("RFC 3339 times with an offset; public endpoints and the SCIM URL by region")
    func timesAndEndpoints() throws {
        let client = VolcengineHarness().provider.client
        let time = try client.parseTime("2025-05-15T23:37:51+08:00", field: "CreatedTime", action: "List")
        #expect(time == Date(timeIntervalSince1970: 1_747_323_471))
        #expect(throws: ProviderError.self) { try client.parseTime("UxVMIrJu8D", field: "CreatedTime", action: "List") }
        #expect(VolcengineConfiguration.endpoint(region: "cn-beijing").host == "open.volcengineapi.com")
        #expect(
            VolcengineConfiguration.endpoint(region: "ap-southeast-2").host
                == "cloudidentity.ap-southeast-2.volcengineapi.com"
        )
        let configuration = VolcengineConfiguration(region: "cn-shanghai")
        #expect(
            VolcengineProvider.defaultSCIMURL(for: configuration).absoluteString
                == "https://cloudidentity-scim.cn-shanghai.volces.com/scim/v2"
        )
    }
}

extension Date {
    fileprivate func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
