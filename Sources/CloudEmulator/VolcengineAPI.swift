import Foundation
import SCIMRotatorCore
import Synchronization
import Transport
import VolcengineCloudIdentity

/// The Volcano Engine CloudIdentity API as the emulator serves it (volcengine.md): `POST /?Action=..&Version=2023-01-01`
/// with a JSON body, the SDK's `HMAC-SHA256` signature rebuilt from what was received, replies in the
/// `{"ResponseMetadata": {..., "Error"?}, "Result"?}` envelope with 4xx/5xx for errors. One CloudIdentity instance per
/// account: the account's zone (its account id) is never named in a request.
extension Emulator {
    static let volcengineVersion = VolcengineConfiguration.version
    static let volcengineActions: Set<String> = [
        "CreateSCIMServerCredential", "ListSCIMServerCredentials", "DeleteSCIMServerCredential",
    ]

    struct VolcengineError: Error {
        var status: Int
        var code: String
        var message: String
    }

    /// Whether `request` is a Volcano OpenAPI call: the SDK's `X-Date` or its Authorization scheme.
    static func isVolcengine(_ request: HTTPRequest) -> Bool {
        request.header("X-Date") != nil
            || request.header("Authorization")?.hasPrefix(VolcengineSigner.algorithm + " ") == true
    }

    func handleVolcengine(_ request: HTTPRequest) async -> EmulatorReply {
        let requestId = Self.volcengineRequestId(clock.now())
        let rawQuery = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? ""
        let query = VolcengineSigner.formDecode(rawQuery)
        let action = query.last { $0.0 == "Action" }?.1 ?? ""
        let version = query.last { $0.0 == "Version" }?.1 ?? ""
        var region = VolcengineSigner.parseAuthorization(request.header("Authorization") ?? "")?.region ?? ""

        func envelope(_ status: Int, error: VolcengineError?, result: [String: Any]?) -> EmulatorReply {
            var metadata: [String: Any] = [
                "RequestId": requestId, "Action": action, "Version": version,
                "Service": VolcengineConfiguration.service,
                "Region": region,
            ]
            var body: [String: Any] = [:]
            if let error { metadata["Error"] = ["Code": error.code, "Message": error.message] }
            if let result { body["Result"] = result }
            body["ResponseMetadata"] = metadata
            return .response(Self.json(status: status, contentType: "application/json; charset=utf-8", body))
        }
        func fail(_ error: VolcengineError) -> EmulatorReply {
            world.withLock { $0.record(.volcengine, action, error.code) }
            return envelope(error.status, error: error, result: nil)
        }

        guard request.method == "POST" || request.method == "GET" else {
            return fail(VolcengineError(status: 405, code: "InvalidHTTPMethod", message: "Use POST."))
        }
        guard Self.volcengineActions.contains(action), version == Self.volcengineVersion else {
            return fail(
                VolcengineError(
                    status: 404,
                    code: "InvalidActionOrVersion",
                    message: "Could not find operation \(action) for version \(version)"
                )
            )
        }
        let account: EmulatedAccount
        switch verifyVolcengine(request, query: query) {
        case .success(let verified):
            account = verified.account
            region = verified.region
        case .failure(let error): return fail(error)
        }
        if overRateLimit("\(account.accessKeyId)/\(action)", limit: world.withLock { $0.rateLimit }) {
            return fail(
                VolcengineError(status: 429, code: "FlowLimitExceeded", message: "Request rate exceeds the limit.")
            )
        }
        guard let body = Self.parseJSONObject(request.body) else {
            return fail(
                VolcengineError(status: 400, code: "InvalidParameter", message: "The body is not a JSON object")
            )
        }
        let zoneId = world.withLock { w in account.zones.first { w.zones[$0]?.provider == .volcengine } }
        let answers = CloudAnswers(
            provider: .volcengine,
            action: action,
            zoneId: zoneId,
            error: { code, fault in
                let server = code.hasPrefix("InternalError") || code.hasPrefix("ServiceUnavailable")
                return fail(
                    VolcengineError(
                        status: fault.httpStatus ?? (server ? 500 : 400),
                        code: code,
                        message: fault.message ?? "injected by the emulator"
                    )
                )
            },
            gatewayPage: { "<html><body>\($0)</body></html>" },
            garbled: "{\"ResponseMetadata\": {\"RequestId\": \"\(requestId)\", ",
            success: { fields, contentType in
                guard let contentType else { return envelope(200, error: nil, result: fields) }
                return .response(
                    HTTPResponse(
                        status: 200,
                        headers: ["Content-Type": contentType],
                        body: Data("<html>not json</html>".utf8)
                    )
                )
            }
        )
        return await underFault(answers, fail: fail) {
            runVolcengine(action: action, body: body, zoneId: zoneId)
        }
    }

    /// `YYYYMMDDHHMMSS` + random hex, the form of the cloud's request ids.
    static func volcengineRequestId(_ now: Date) -> String {
        VolcengineSigner.xDate(now).filter(\.isNumber) + Identifiers.random(18, from: Array("0123456789ABCDEF"))
    }

    /// RFC 3339 in China Standard Time, as the documentation's examples (`2025-05-15T23:37:51+08:00`).
    static func volcengineTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3_600)
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func volcengineKeyJSON(_ key: EmulatedKey) -> [String: Any] {
        [
            "CredentialId": key.id, "CredentialType": key.type, "Status": key.status.rawValue,
            "CreatedTime": volcengineTime(key.createdAt), "ExpireTime": volcengineTime(key.expiresAt),
        ]
    }

    func runVolcengine(action: String, body: [String: Any], zoneId: String?) -> Result<[String: Any], VolcengineError> {
        let now = clock.now()
        return world.withLock { w -> Result<[String: Any], VolcengineError> in
            guard let zoneId, var zone = w.zones[zoneId] else {
                return .failure(
                    VolcengineError(
                        status: 400,
                        code: "ServiceStatusException",
                        message: "Can not perform action[\(action)] when service is Disabled"
                    )
                )
            }
            defer { w.zones[zoneId] = zone }
            switch action {
            case "CreateSCIMServerCredential":
                guard zone.keys.count < zone.keyLimit else {
                    return .failure(
                        VolcengineError(
                            status: w.volcengineLimitStatus,
                            code: w.volcengineLimitCode,
                            message: "You can create up to \(zone.keyLimit) SCIM tokens."
                        )
                    )
                }
                let created = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3_600) ?? .gmt
                var key = EmulatedKey(
                    id: w.newCredentialId(.volcengine),
                    secret: w.newSecret(.volcengine),
                    status: .enabled,
                    createdAt: created,
                    expiresAt: calendar.date(byAdding: .year, value: 1, to: created) ?? created
                )
                key.madeByAPI = true
                zone.keys.append(key)
                var json = Self.volcengineKeyJSON(key)
                json["CredentialSecret"] = key.secret
                return .success(json)
            case "ListSCIMServerCredentials":
                return .success(["SCIMServerCredentials": zone.keys.map(Self.volcengineKeyJSON)])
            default:  // DeleteSCIMServerCredential
                guard let credentialId = body["CredentialId"] as? String, !credentialId.isEmpty else {
                    return .failure(
                        VolcengineError(
                            status: 400,
                            code: "MissingParameter",
                            message: "Missing parameter CredentialId"
                        )
                    )
                }
                guard let index = zone.keys.firstIndex(where: { $0.id == credentialId }) else {
                    return .failure(
                        VolcengineError(
                            status: 404,
                            code: "SCIMServerCredentialNotExist",
                            message: "The SCIM server credential \(credentialId) does not exist"
                        )
                    )
                }
                guard zone.keys.count > 1 else {
                    return .failure(
                        VolcengineError(
                            status: 400,
                            code: "SCIMTokenDeletionConflict",
                            message: "The last scim token can not be deleted"
                        )
                    )
                }
                zone.keys.remove(at: index)
                return .success([:])
            }
        }
    }
}
