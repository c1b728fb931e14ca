import Foundation
import SCIMRotatorCore
import Synchronization
import TencentCIC
import Transport

/// The Tencent CIC API as the emulator serves it (reference §8): POST /, X-TC-Action, TC3 verification, HTTP 200
/// with `Content-Type: application/json` exactly, errors inside the `{"Response":{"Error":...}}` envelope.
extension Emulator {
    static let tencentVersion = "2021-03-31"

    /// Parameters per action: name → (required, is integer).
    static let tencentActions: [String: [String: (required: Bool, integer: Bool)]] = [
        "CreateSCIMCredential": ["ZoneId": (true, false), "ExpireDuration": (false, true)],
        "ListSCIMCredentials": ["ZoneId": (true, false), "CredentialId": (false, false)],
        "UpdateSCIMCredentialStatus": [
            "ZoneId": (true, false), "CredentialId": (true, false), "NewStatus": (true, false),
        ],
        "DeleteSCIMCredential": ["ZoneId": (true, false), "CredentialId": (true, false)],
        "GetSCIMSynchronizationStatus": ["ZoneId": (true, false)],
        "UpdateSCIMSynchronizationStatus": ["ZoneId": (true, false), "SCIMSynchronizationStatus": (true, false)],
        "DescribeIdentityCenter": [:],
    ]

    /// Beijing time, as CIC writes its zone-less times.
    static let tencentZone = TencentTime.defaultZone

    struct TencentError: Error {
        var code: String
        var message: String
    }

    func handleTencent(_ request: HTTPRequest) async -> EmulatorReply {
        let requestId = Identifiers.requestId()
        let action = request.header("X-TC-Action") ?? ""
        func reply(_ fields: [String: Any], contentType: String = "application/json") -> EmulatorReply {
            var body = fields
            body["RequestId"] = requestId
            return .response(Self.json(status: 200, contentType: contentType, ["Response": body]))
        }
        func fail(_ code: String, _ message: String) -> EmulatorReply {
            world.withLock { $0.record(.tencent, action, code) }
            return reply(["Error": ["Code": code, "Message": message]])
        }

        guard request.method == "POST" else {
            return fail("UnsupportedProtocol", "the emulator accepts POST requests only")
        }
        guard let params = Self.tencentActions[action] else {
            return fail("InvalidAction", "The action `\(action)` is not found (or not supported by the emulator).")
        }
        guard request.header("X-TC-Version") == Self.tencentVersion else {
            return fail("NoSuchVersion", "The API version `\(request.header("X-TC-Version") ?? "")` does not exist.")
        }
        let account: EmulatedAccount
        switch verifyTC3(request) {
        case .success(let verified): account = verified
        case .failure(let error): return fail(error.code, error.message)
        }
        let limit = world.withLock { $0.rateLimit }
        if overRateLimit("\(account.accessKeyId)/\(action)", limit: limit) {
            return fail("RequestLimitExceeded", "Your current request times equals to `\(limit)` in a second.")
        }
        let body: [String: JSONValue]
        switch Self.validateTencentParams(request.body, spec: params) {
        case .success(let parsed): body = parsed
        case .failure(let error): return fail(error.code, error.message)
        }

        let answers = CloudAnswers(
            provider: .tencent,
            action: action,
            zoneId: body["ZoneId"]?.string,
            error: { code, fault in fail(code, fault.message ?? "injected by the emulator") },
            gatewayPage: { "<html><body>\($0) injected by the emulator</body></html>" },
            garbled: "{\"Response\": {\"RequestId\": \"\(requestId)\", ",
            success: { fields, contentType in reply(fields, contentType: contentType ?? "application/json") }
        )
        return await underFault(
            answers,
            fail: { fail($0.code, $0.message) },
            run: { runTencent(action: action, params: body, account: account) }
        )
    }

    /// Verifies a TC3-HMAC-SHA256 request (reference §8.2): signed headers from the Authorization header, values as
    /// received, ±300 s, the right AuthFailure codes.
    func verifyTC3(_ request: HTTPRequest) -> Result<EmulatedAccount, TencentError> {
        guard let header = request.header("Authorization"), let auth = TC3Signer.parseAuthorization(header) else {
            return .failure(
                TencentError(
                    code: "AuthFailure.InvalidAuthorization",
                    message: "Authorization header is missing or malformed."
                )
            )
        }
        let signed = Set(auth.signedHeaders)
        guard signed.contains("content-type"), signed.contains("host") else {
            return .failure(
                TencentError(
                    code: "AuthFailure.InvalidAuthorization",
                    message: "SignedHeaders must include content-type and host."
                )
            )
        }
        guard let account = world.withLock({ $0.accounts[auth.secretId] }), account.provider == .tencent else {
            return .failure(TencentError(code: "AuthFailure.SecretIdNotFound", message: "The SecretId is not found."))
        }
        guard let timestampText = request.header("X-TC-Timestamp"), let timestamp = Int64(timestampText) else {
            return .failure(
                TencentError(
                    code: "AuthFailure.InvalidAuthorization",
                    message: "X-TC-Timestamp is missing or not a number."
                )
            )
        }
        let skew = abs(signatureNow.timeIntervalSince1970 - Double(timestamp))
        if skew > 300 {
            return .failure(
                TencentError(
                    code: "AuthFailure.SignatureExpire",
                    message: "Signature expire. Timestamp and server time cannot differ by more than five minutes."
                )
            )
        }
        var headers = request.headers
        if !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.append(("Host", HTTPRequest.hostHeader(for: request.url)))
        }
        let expected = TC3Signer.sign(
            secretId: auth.secretId,
            secretKey: Secret(account.secret),
            service: auth.service,
            timestamp: timestamp,
            method: request.method,
            path: "/",
            query: "",
            headers: headers,
            signedHeaders: auth.signedHeaders,
            body: request.body
        )
        guard auth.service == TencentCICConfiguration.service, auth.date == TC3Signer.utcDate(timestamp),
            expected.signature == auth.signature
        else {
            return .failure(
                TencentError(
                    code: "AuthFailure.SignatureFailure",
                    message: "The provided credentials could not be validated. Please check your signature is correct."
                )
            )
        }
        if account.token != nil || request.header("X-TC-Token") != nil {
            guard account.token == request.header("X-TC-Token") else {
                return .failure(
                    TencentError(code: "AuthFailure.TokenFailure", message: "The token is invalid or expired.")
                )
            }
        }
        return .success(account)
    }

    /// Unknown key → UnknownParameter; missing required → MissingParameter; wrong type → InvalidParameterValue.
    static func validateTencentParams(
        _ body: Data,
        spec: [String: (required: Bool, integer: Bool)]
    )
        -> Result<[String: JSONValue], TencentError>
    {
        guard let object = JSONValue.parseObject(body) else {
            return .failure(TencentError(code: "InvalidParameter", message: "The request body is not a JSON object."))
        }
        for key in object.keys.sorted() where spec[key] == nil {
            return .failure(
                TencentError(code: "UnknownParameter", message: "The parameter `\(key)` is not recognized.")
            )
        }
        for (name, rule) in spec.sorted(by: { $0.key < $1.key }) {
            guard let value = object[name] else {
                if rule.required {
                    return .failure(
                        TencentError(code: "MissingParameter", message: "The parameter `\(name)` is missing.")
                    )
                }
                continue
            }
            if rule.integer ? value.int == nil : value.string == nil {
                return .failure(
                    TencentError(
                        code: "InvalidParameterValue",
                        message: "The value of `\(name)` must be \(rule.integer ? "an integer" : "a string")."
                    )
                )
            }
        }
        return .success(object)
    }

    /// Runs a verified, validated action against the world.
    func runTencent(
        action: String,
        params: [String: JSONValue],
        account: EmulatedAccount
    ) -> Result<[String: Any], TencentError> {
        let now = clock.now()
        let fmt = { (date: Date) in TencentTime.format(date, in: Self.tencentZone) }
        return world.withLock { w -> Result<[String: Any], TencentError> in
            if action == "DescribeIdentityCenter" {
                guard let zoneId = account.zones.first, let zone = w.zones[zoneId] else {
                    return .failure(
                        TencentError(
                            code: "FailedOperation.IdentityCenterNotOpen",
                            message: "CIC service is not opened."
                        )
                    )
                }
                return .success([
                    "ZoneId": zone.id, "ZoneName": zone.name, "ServiceStatus": zone.opened ? "Enabled" : "Disabled",
                    "ScimSyncStatus": zone.syncStatus.rawValue, "CreateTime": fmt(zone.createdAt),
                    "UpdateTime": fmt(zone.updatedAt),
                ])
            }
            let zoneId = params["ZoneId"]?.string ?? ""
            guard account.zones.contains(zoneId), var zone = w.zones[zoneId], zone.provider == .tencent else {
                return .failure(
                    TencentError(
                        code: "FailedOperation.ZoneIdNotExist",
                        message: "The zoneId `\(zoneId)` does not exist."
                    )
                )
            }
            guard zone.opened else {
                return .failure(
                    TencentError(code: "FailedOperation.IdentityCenterNotOpen", message: "CIC service is not opened.")
                )
            }
            defer { w.zones[zoneId] = zone }
            let credentialId = params["CredentialId"]?.string
            switch action {
            case "CreateSCIMCredential":
                var expires = Calendar.tencent.date(byAdding: .year, value: 1, to: now) ?? now
                if let duration = params["ExpireDuration"]?.int {
                    guard duration >= 3_600, duration <= 3_124_173_600 else {
                        return .failure(
                            TencentError(
                                code: "InvalidParameterValue",
                                message: "ExpireDuration must be between 3600 seconds (1 hour) and 99 years."
                            )
                        )
                    }
                    expires = now.addingTimeInterval(Double(duration))
                }
                guard zone.keys.count < zone.keyLimit else {
                    return .failure(
                        TencentError(
                            code: "LimitExceeded.ScimCredentialLimitExceeded",
                            message: "SCIM密钥数量超过限制 (the zone already has \(zone.keys.count) SCIM keys)."
                        )
                    )
                }
                let key = EmulatedKey(
                    id: w.newCredentialId(.tencent),
                    secret: w.newSecret(.tencent),
                    status: .enabled,
                    createdAt: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
                    expiresAt: Date(timeIntervalSince1970: expires.timeIntervalSince1970.rounded(.down))
                )
                var made = key
                made.madeByAPI = true
                zone.keys.append(made)
                return .success([
                    "ZoneId": zone.id, "CredentialId": key.id, "CredentialType": key.type,
                    "CreateTime": fmt(key.createdAt), "ExpireTime": fmt(key.expiresAt),
                    "CredentialStatus": key.status.rawValue, "CredentialSecret": key.secret,
                ])
            case "ListSCIMCredentials":
                let keys = zone.keys.filter { credentialId == nil || $0.id == credentialId }
                return .success([
                    "TotalCounts": keys.count,
                    "SCIMCredentials": keys.map { key in
                        [
                            "ZoneId": zone.id, "Status": key.status.rawValue, "CredentialId": key.id,
                            "CredentialType": key.type, "CreateTime": fmt(key.createdAt),
                            "ExpireTime": fmt(key.expiresAt),
                        ]
                    },
                ])
            case "UpdateSCIMCredentialStatus":
                guard let status = KeyStatus(rawValue: params["NewStatus"]?.string ?? "") else {
                    return .failure(
                        TencentError(
                            code: "InvalidParameter.UserScimCredentialStatusError",
                            message: "NewStatus must be Enabled or Disabled."
                        )
                    )
                }
                guard let index = zone.keys.firstIndex(where: { $0.id == credentialId }) else {
                    return .failure(
                        TencentError(
                            code: "InvalidParameter.ScimCredentialNotFound",
                            message: "The SCIM credential does not exist."
                        )
                    )
                }
                zone.keys[index].status = status
                return .success([:])
            case "DeleteSCIMCredential":
                guard let index = zone.keys.firstIndex(where: { $0.id == credentialId }) else {
                    return .failure(
                        TencentError(
                            code: "InvalidParameter.ScimCredentialNotFound",
                            message: "The SCIM credential does not exist."
                        )
                    )
                }
                zone.keys.remove(at: index)
                return .success([:])
            case "GetSCIMSynchronizationStatus":
                return .success(["SCIMSynchronizationStatus": zone.syncStatus.rawValue])
            case "UpdateSCIMSynchronizationStatus":
                guard let status = SyncStatus(rawValue: params["SCIMSynchronizationStatus"]?.string ?? "") else {
                    return .failure(
                        TencentError(
                            code: "InvalidParameter.ScimSyncStatusError",
                            message: "SCIMSynchronizationStatus must be Enabled or Disabled."
                        )
                    )
                }
                zone.syncStatus = status
                zone.updatedAt = now
                return .success([:])
            default:
                return .failure(TencentError(code: "InvalidAction", message: "The action `\(action)` is not found."))
            }
        }
    }
}

extension Calendar {
    /// A Gregorian calendar in Beijing time: "one year later" in CIC's own calendar.
    static let tencent: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TencentTime.defaultZone
        return calendar
    }()
}
