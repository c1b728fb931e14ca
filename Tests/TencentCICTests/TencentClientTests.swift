import CloudEmulator
import Foundation
import SCIMRotatorCore
import Testing
import Transport

@testable import TencentCIC

@Suite("Tencent CIC client against the emulator")
struct TencentClientTests {
    @Test("create, list, disable, enable, delete through the provider")
    func lifecycle() async throws {
        let h = TencentHarness()
        let created = try await h.provider.createKey(lifetime: .days(90))
        #expect(created.key.status == .enabled)
        #expect(created.key.expiresAt.timeIntervalSince(created.key.createdAt) == 90 * 86_400)
        #expect(created.key.createdAt == h.clock.now())
        #expect(!created.secret.isEmpty)
        var keys = try await h.provider.listKeys()
        #expect(keys.map(\.id) == [created.key.id])
        try await h.provider.setStatus(of: created.key.id, to: .disabled)
        try await h.provider.setStatus(of: created.key.id, to: .disabled)  // idempotent
        keys = try await h.provider.listKeys()
        #expect(keys.first?.status == .disabled)
        try await h.provider.setStatus(of: created.key.id, to: .enabled)
        #expect(try await h.provider.deleteKey(created.key.id))
        #expect(try await h.provider.deleteKey(created.key.id) == false)  // already gone
        #expect(try await h.provider.listKeys().isEmpty)
    }

    @Test("default lifetime is one calendar year")
    func defaultLifetime() async throws {
        let h = TencentHarness()
        let created = try await h.provider.createKey(lifetime: nil)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TencentTime.defaultZone
        let components = calendar.dateComponents(
            [.year, .second],
            from: created.key.createdAt,
            to: created.key.expiresAt
        )
        #expect(components.year == 1 && components.second == 0)
    }

    @Test("sync status and identity center")
    func sync() async throws {
        let h = TencentHarness()
        try await h.provider.setSyncStatus(.disabled)
        #expect(try await h.provider.syncStatus() == .disabled)
        let center = try await h.client.describeIdentityCenter()
        #expect(center.ZoneId == h.zone && center.ServiceStatus == "Enabled" && center.ScimSyncStatus == "Disabled")
    }

    /// Every documented code the emulator can answer, and the kind the client turns it into.
    static let codes: [(String, ProviderError.Kind)] = [
        ("LimitExceeded.ScimCredentialLimitExceeded", .limitExceeded),
        ("InvalidParameter.ScimCredentialNotFound", .keyNotFound),
        ("FailedOperation.ZoneIdNotExist", .zoneNotFound),
        ("FailedOperation.IdentityCenterNotOpen", .identityCenterNotOpen),
        ("RequestLimitExceeded", .throttled),
        ("RequestLimitExceeded.UinLimitExceeded", .throttled),
        ("RequestLimitExceeded.GlobalRegionUinLimitExceeded", .throttled),
        ("AuthFailure.SignatureFailure", .authFailure),
        ("AuthFailure.SecretIdNotFound", .authFailure),
        ("AuthFailure.TokenFailure", .authFailure),
        ("AuthFailure.InvalidAuthorization", .authFailure),
        ("AuthFailure.UnauthorizedOperation", .authFailure),
        ("UnauthorizedOperation", .authFailure),
        ("AuthFailure.SignatureExpire", .signatureExpired),
        ("InternalError", .serverError),
        ("ServiceUnavailable", .serverError),
        ("ResourceUnavailable", .serverError),
        ("ResourceInUse", .serverError),
        ("FailedOperation.DBOperationError", .serverError),
        ("FailedOperation.ScimCredentialGenerateError", .serverError),
        ("InvalidParameter.UserScimCredentialStatusError", .invalidRequest),
        ("InvalidParameter.ScimSyncStatusError", .invalidRequest),
        ("UnknownParameter", .invalidRequest),
        ("MissingParameter", .invalidRequest),
        ("InvalidParameterValue", .invalidRequest),
        ("InvalidAction", .invalidRequest),
    ]

    @Test("an injected error code becomes a typed error", arguments: codes)
    func mapping(code: String, kind: ProviderError.Kind) async throws {
        let h = TencentHarness(retry: .none)
        try await h.fault(["action": "ListSCIMCredentials", "error": code, "message": "injected"])
        let error = await #expect(throws: ProviderError.self) { try await h.provider.listKeys() }
        #expect(error?.kind == kind)
        #expect(error?.code == code)
        #expect(error?.action == "ListSCIMCredentials")
        #expect(error?.requestId?.isEmpty == false)
    }

    @Test("the emulator's own errors, produced for real")
    func naturalErrors() async throws {
        let h = TencentHarness(retry: .none)
        _ = try await h.provider.createKey(lifetime: nil)
        _ = try await h.provider.createKey(lifetime: nil)
        await expectKind(.limitExceeded, "LimitExceeded.ScimCredentialLimitExceeded") {
            _ = try await h.client.createSCIMCredential(zoneId: h.zone, expireDuration: nil)
        }
        await expectKind(.keyNotFound, "InvalidParameter.ScimCredentialNotFound") {
            try await h.client.deleteSCIMCredential(zoneId: h.zone, credentialId: "scimcred-000000000000")
        }
        await expectKind(.zoneNotFound, "FailedOperation.ZoneIdNotExist") {
            _ = try await h.client.listSCIMCredentials(zoneId: "z-000000000000")
        }
        await expectKind(.invalidRequest, "InvalidParameterValue") {
            _ = try await h.client.createSCIMCredential(zoneId: h.zone, expireDuration: 60)
        }
        await expectKind(.invalidRequest, "UnknownParameter") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call(
                "ListSCIMCredentials",
                ["ZoneId": .string(h.zone), "Offset": .int(0)]
            )
        }
        await expectKind(.invalidRequest, "MissingParameter") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call("ListSCIMCredentials", [:])
        }
        await expectKind(.invalidRequest, "InvalidParameterValue") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call(
                "ListSCIMCredentials",
                ["ZoneId": .int(1)]
            )
        }
        await expectKind(.invalidRequest, "InvalidParameter.UserScimCredentialStatusError") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call(
                "UpdateSCIMCredentialStatus",
                ["ZoneId": .string(h.zone), "CredentialId": .string("scimcred-x"), "NewStatus": .string("Paused")]
            )
        }
        await expectKind(.invalidRequest, "InvalidParameter.ScimSyncStatusError") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call(
                "UpdateSCIMSynchronizationStatus",
                ["ZoneId": .string(h.zone), "SCIMSynchronizationStatus": .string("On")]
            )
        }
        await expectKind(.invalidRequest, "InvalidAction") {
            let _: (CICEmpty, requestId: String?) = try await h.client.call("ListZones", [:])
        }
        try await h.admin("POST", "settings", ["signatureSkewSeconds": 900.0])
        await expectKind(.signatureExpired, "AuthFailure.SignatureExpire") {
            _ = try await h.provider.listKeys()
        }
    }

    @Test("a closed identity center and an unknown zone")
    func closedCenter() async throws {
        let h = TencentHarness(retry: .none)
        try await h.admin("POST", "zones", ["provider": "tencent", "id": "z-closed000000", "opened": false])
        await expectKind(.identityCenterNotOpen, "FailedOperation.IdentityCenterNotOpen") {
            _ = try await h.client.listSCIMCredentials(zoneId: "z-closed000000")
        }
    }

    @Test("auth failures: wrong key, unknown id, token")
    func authFailures() async throws {
        let wrong = TencentHarness(retry: RetryPolicy(maxAttempts: 5), secretKey: "wrong")
        await expectKind(.authFailure, "AuthFailure.SignatureFailure") { _ = try await wrong.provider.listKeys() }
        #expect(try await wrong.calls("ListSCIMCredentials", "AuthFailure.SignatureFailure") == 1, "never retried")

        let h = TencentHarness(retry: .none)
        let sts = try await h.admin(
            "POST",
            "accounts",
            ["provider": "tencent", "token": "sts-token-1", "zones": [h.zone]]
        )
        let id = try #require(sts["secretId"] as? String)
        let key = try #require(sts["secretKey"] as? String)
        func client(token: String?) -> TencentCICProvider {
            TencentCICProvider(
                client: TencentCICClient(
                    configuration: h.client.configuration,
                    credentials: CloudCredentials(accessKeyId: id, secret: Secret(key), token: token.map(Secret.init)),
                    transport: EmulatorTransport(h.emulator),
                    clock: h.clock,
                    rateLimiter: RateLimiter(limit: 0),
                    pause: { _ in }
                ),
                zone: h.zone
            )
        }
        _ = try await client(token: "sts-token-1").listKeys()
        await expectKind(.authFailure, "AuthFailure.TokenFailure") { _ = try await client(token: "other").listKeys() }
        await expectKind(.authFailure, "AuthFailure.TokenFailure") { _ = try await client(token: nil).listKeys() }
        let unknown = TencentCICProvider(
            client: TencentCICClient(
                configuration: h.client.configuration,
                credentials: CloudCredentials(accessKeyId: "AKIDnobody", secret: Secret("x")),
                transport: EmulatorTransport(h.emulator),
                clock: h.clock,
                rateLimiter: RateLimiter(limit: 0)
            ),
            zone: h.zone
        )
        await expectKind(.authFailure, "AuthFailure.SecretIdNotFound") { _ = try await unknown.listKeys() }
    }

    @Test("throttling, 5xx, drops, garbled JSON and a wrong Content-Type are retried until they pass")
    func transientRetried() async throws {
        let h = TencentHarness()
        try await h.fault(["action": "ListSCIMCredentials", "error": "RequestLimitExceeded", "times": 1])
        try await h.fault(["action": "ListSCIMCredentials", "httpStatus": 502, "times": 1])
        try await h.fault(["action": "ListSCIMCredentials", "garble": true, "times": 1])
        _ = try await h.provider.listKeys()
        try await h.fault(["action": "ListSCIMCredentials", "drop": "before", "times": 1])
        try await h.fault(["action": "ListSCIMCredentials", "contentType": "text/html", "times": 1])
        try await h.fault(["action": "ListSCIMCredentials", "error": "InternalError", "times": 1])
        _ = try await h.provider.listKeys()
        #expect(try await h.calls("ListSCIMCredentials", "RequestLimitExceeded") == 1)
        #expect(try await h.calls("ListSCIMCredentials", "HTTP502") == 1)
        #expect(try await h.calls("ListSCIMCredentials", "dropped") == 1)
        #expect(try await h.calls("ListSCIMCredentials", "OK") == 4)
    }

    @Test("retries give up after maxAttempts with the last error")
    func givesUp() async throws {
        let h = TencentHarness(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0, maxDelay: 0))
        try await h.fault(["action": "ListSCIMCredentials", "error": "ServiceUnavailable", "times": 5])
        await expectKind(.serverError, "ServiceUnavailable") { _ = try await h.provider.listKeys() }
        #expect(try await h.calls("ListSCIMCredentials", "ServiceUnavailable") == 3)
    }

    @Test("a reply slower than the client timeout is a timeout")
    func timeout() async throws {
        let h = TencentHarness(retry: .none, timeout: 0.05)
        try await h.fault(["action": "ListSCIMCredentials", "delayMs": 400])
        await expectKind(.timeout, nil) { _ = try await h.provider.listKeys() }
    }

    @Test("a lost Create reply adopts the created key instead of creating a second one")
    func lostCreateReply() async throws {
        let h = TencentHarness()
        try await h.fault(["action": "CreateSCIMCredential", "drop": "after"])
        let error = await #expect(throws: ProviderError.self) { try await h.provider.createKey(lifetime: nil) }
        #expect(error?.kind == .createdWithoutSecret)
        let keys = try await h.provider.listKeys()
        #expect(keys.count == 1, "no second key")
        #expect(error?.keyId == keys.first?.id)
        #expect(try await h.calls("CreateSCIMCredential", "OK") == 1)
    }

    @Test("a Create dropped before it ran is retried once and creates one key")
    func droppedCreate() async throws {
        let h = TencentHarness()
        try await h.fault(["action": "CreateSCIMCredential", "drop": "before"])
        let created = try await h.provider.createKey(lifetime: nil)
        #expect(try await h.provider.listKeys().map(\.id) == [created.key.id])
    }

    @Test("Create is not blindly retried after an ambiguous error")
    func createAmbiguous() async throws {
        let h = TencentHarness()
        try await h.fault(["action": "CreateSCIMCredential", "error": "InternalError", "times": 2])
        await expectKind(.serverError, "InternalError") { _ = try await h.provider.createKey(lifetime: nil) }
        #expect(try await h.calls("CreateSCIMCredential", "InternalError") == 2, "the first try and one after listing")
        #expect(try await h.provider.listKeys().isEmpty)
    }

    @Test("Create is retried after throttling (it provably did not run)")
    func createThrottled() async throws {
        let h = TencentHarness()
        try await h.fault(["action": "CreateSCIMCredential", "error": "RequestLimitExceeded", "times": 2])
        _ = try await h.provider.createKey(lifetime: nil)
        #expect(try await h.provider.listKeys().count == 1)
    }

    @Test("error bodies never carry a key's secret")
    func redactedBody() {
        let body = Data(#"{"Response": {"CredentialSecret": "c2VjcmV0LXZhbHVlLTEyMzQ=", "RequestId": 1"#.utf8)
        let text = TencentCICDialect.redactedBody(body, secrets: [Secret("AKSECRETVALUE")])
        #expect(!text.contains("c2VjcmV0LXZhbHVlLTEyMzQ="))
        #expect(text.contains("<redacted>"))
    }

    @Test("the client's rate limiter keeps a burst under the emulator's per-action limit")
    func rateLimited() async throws {
        let h = TencentHarness(retry: .none, rateLimiter: RateLimiter(limit: 3, margin: .milliseconds(500)))
        try await h.admin("POST", "settings", ["rateLimit": 3])
        for _ in 0..<5 { _ = try await h.provider.listKeys() }
        #expect(try await h.calls("ListSCIMCredentials", "RequestLimitExceeded") == 0)
        #expect(try await h.calls("ListSCIMCredentials", "OK") == 5)
        // Without the client's limiter, a concurrent burst is throttled by the emulator.
        let unlimited = TencentHarness(retry: .none)
        try await unlimited.admin("POST", "settings", ["rateLimit": 2])
        await expectKind(.throttled, "RequestLimitExceeded") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try await unlimited.provider.listKeys() } }
                try await group.waitForAll()
            }
        }
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
