import AlibabaCloudSSO
import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// The Alibaba CloudSSO API as the emulator serves it (reference §9): RPC style, `POST /` with parameters in the
/// query, dispatched on `x-acs-action` (V3) or `Action` (RPC v1); V3 and v1 signatures rebuilt from what was received;
/// ±15 min; nonce replay; errors as `{"RequestId","HostId","Code","Message","Recommend"}` with 4xx/5xx.
extension Emulator {
    static let alibabaVersion = "2021-05-15"

    /// Parameters per action: name → required.
    static let alibabaActions: [String: [String: Bool]] = [
        "CreateSCIMServerCredential": ["DirectoryId": true],
        "ListSCIMServerCredentials": ["DirectoryId": true],
        "UpdateSCIMServerCredentialStatus": ["DirectoryId": true, "CredentialId": true, "NewStatus": true],
        "DeleteSCIMServerCredential": ["DirectoryId": true, "CredentialId": true],
        "GetSCIMSynchronizationStatus": ["DirectoryId": true],
        "SetSCIMSynchronizationStatus": ["DirectoryId": true, "SCIMSynchronizationStatus": true],
        "ListDirectories": [:],
        "GetDirectory": ["DirectoryId": true],
    ]

    /// Parameters every RPC v1 request carries, besides the action's own.
    static let rpcCommonParameters: Set<String> = [
        "Action", "Format", "Version", "Timestamp", "SignatureNonce", "SignatureMethod", "SignatureVersion",
        "AccessKeyId", "Signature", "SecurityToken", "RegionId",
    ]

    struct AlibabaError: Error {
        var status: Int
        var code: String
        var message: String
        var retryAfterMs: Int? = nil
    }

    static func queryParameters(_ url: URL) -> [String: String] {
        ACSSigner.formDecode(URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? "")
    }

    func handleAlibaba(_ request: HTTPRequest) async -> EmulatorReply {
        let requestId = UUID().uuidString
        let host = request.header("host") ?? HTTPRequest.hostHeader(for: request.url)
        let query = Self.queryParameters(request.url)
        var parameters = query
        if let type = request.header("content-type"), type.hasPrefix("application/x-www-form-urlencoded"),
            !request.body.isEmpty
        {
            for (key, value) in ACSSigner.formDecode(String(decoding: request.body, as: UTF8.self)) {
                parameters[key] = value
            }
        }
        let isV3 = request.header("Authorization")?.hasPrefix(ACSSigner.algorithm) == true
        let action = request.header("x-acs-action") ?? parameters["Action"] ?? ""

        func reply(_ status: Int, _ fields: [String: Any], headers: [String: String] = [:]) -> EmulatorReply {
            var body = fields
            body["RequestId"] = requestId
            var allHeaders = ["Content-Type": "application/json;charset=utf-8"]
            for (key, value) in headers { allHeaders[key] = value }
            return .response(HTTPResponse(status: status, headers: allHeaders, body: Self.jsonData(body)))
        }
        func fail(_ error: AlibabaError) -> EmulatorReply {
            world.withLock { $0.record(.alibaba, action, error.code) }
            return reply(
                error.status,
                [
                    "HostId": host, "Code": error.code, "Message": error.message,
                    "Recommend":
                        "https://api.alibabacloud.com/troubleshoot?q=\(error.code)&product=Cloudsso&requestId=\(requestId)",
                ],
                headers: error.retryAfterMs.map { ["x-acs-retry-after": String($0)] } ?? [:]
            )
        }

        guard request.method == "POST" || request.method == "GET" else {
            return fail(AlibabaError(status: 405, code: "UnsupportedHTTPMethod", message: "Use POST."))
        }
        guard let spec = Self.alibabaActions[action] else {
            return fail(
                AlibabaError(
                    status: 404,
                    code: "InvalidApi.NotFound",
                    message: "Specified api is not found, please check your url and method."
                )
            )
        }
        let version = request.header("x-acs-version") ?? parameters["Version"]
        guard version == Self.alibabaVersion else {
            return fail(
                AlibabaError(status: 400, code: "InvalidVersion", message: "Specified parameter Version is not valid.")
            )
        }
        let account: EmulatedAccount
        switch isV3 ? verifyACS3(request, query: query) : verifyRPC(request, parameters: parameters) {
        case .success(let verified): account = verified
        case .failure(let error): return fail(error)
        }
        let limit = world.withLock { $0.alibabaRateLimit }
        if overRateLimit("\(account.accessKeyId)/\(action)", limit: limit) {
            return fail(
                AlibabaError(
                    status: 400,
                    code: "Throttling.User",
                    message: "Request was denied due to user flow control."
                )
            )
        }
        var business = parameters
        if !isV3 { for name in Self.rpcCommonParameters { business[name] = nil } }
        for (name, required) in spec.sorted(by: { $0.key < $1.key }) where required && (business[name] ?? "").isEmpty {
            return fail(
                AlibabaError(status: 400, code: "Missing\(name)", message: "\(name) is mandatory for this action.")
            )
        }

        let answers = CloudAnswers(
            provider: .alibaba,
            action: action,
            zoneId: business["DirectoryId"],
            error: { code, fault in
                let server = code.hasPrefix("ServiceUnavailable") || code.hasPrefix("InternalError")
                return fail(
                    AlibabaError(
                        status: fault.httpStatus ?? (server ? 503 : 400),
                        code: code,
                        message: fault.message ?? "injected by the emulator",
                        retryAfterMs: fault.retryAfterMs
                    )
                )
            },
            gatewayPage: { "<html><body>\($0)</body></html>" },
            garbled: "{\"RequestId\": \"\(requestId)\", ",
            success: { fields, contentType in
                guard let contentType else { return reply(200, fields) }
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
            runAlibaba(action: action, parameters: business, account: account)
        }
    }

    static func directoryJSON(_ zone: EmulatedZone) -> [String: Any] {
        [
            "DirectoryId": zone.id, "DirectoryName": zone.name, "Region": zone.region,
            "CreateTime": iso(zone.createdAt),
            "UpdateTime": iso(zone.updatedAt),
        ]
    }

    static func keyJSON(_ key: EmulatedKey, zone: String) -> [String: Any] {
        [
            "CredentialId": key.id, "CredentialType": key.type, "Status": key.status.rawValue,
            "CreateTime": iso(key.createdAt), "ExpireTime": iso(key.expiresAt), "DirectoryId": zone,
        ]
    }

    func runAlibaba(
        action: String,
        parameters: [String: String],
        account: EmulatedAccount
    ) -> Result<[String: Any], AlibabaError> {
        let now = clock.now()
        let (limitCode, limitStatus) = world.withLock { ($0.alibabaLimitCode, $0.alibabaLimitStatus) }
        return world.withLock { w -> Result<[String: Any], AlibabaError> in
            if action == "ListDirectories" {
                let directories = account.zones.compactMap { w.zones[$0] }.filter { $0.provider == .alibaba }.map(
                    Self.directoryJSON
                )
                return .success(["TotalCounts": directories.count, "Directories": directories])
            }
            let directoryId = parameters["DirectoryId"] ?? ""
            guard account.zones.contains(directoryId), var zone = w.zones[directoryId], zone.provider == .alibaba else {
                return .failure(
                    AlibabaError(
                        status: 404,
                        code: "EntityNotExists.Directory",
                        message: "The specified directory does not exist."
                    )
                )
            }
            defer { w.zones[directoryId] = zone }
            let credentialId = parameters["CredentialId"]
            let notFound = AlibabaError(
                status: 404,
                code: "EntityNotExists.SCIMCredential",
                message: "The specified SCIM credential does not exist."
            )
            switch action {
            case "GetDirectory":
                return .success(["Directory": Self.directoryJSON(zone)])
            case "CreateSCIMServerCredential":
                guard zone.keys.count < zone.keyLimit else {
                    return .failure(
                        AlibabaError(
                            status: limitStatus,
                            code: limitCode,
                            message: "You can create up to \(zone.keyLimit) SCIM credentials."
                        )
                    )
                }
                let created = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(secondsFromGMT: 0)!
                let key = EmulatedKey(
                    id: w.newCredentialId(.alibaba),
                    secret: w.newSecret(.alibaba),
                    status: .enabled,
                    createdAt: created,
                    expiresAt: calendar.date(byAdding: .year, value: 1, to: created) ?? created
                )
                var made = key
                made.madeByAPI = true
                zone.keys.append(made)
                var json = Self.keyJSON(key, zone: zone.id)
                json["CredentialSecret"] = key.secret
                return .success(["SCIMServerCredential": json])
            case "ListSCIMServerCredentials":
                return .success([
                    "TotalCounts": zone.keys.count,
                    "SCIMServerCredentials": zone.keys.map { Self.keyJSON($0, zone: zone.id) },
                ])
            case "UpdateSCIMServerCredentialStatus":
                guard let status = KeyStatus(rawValue: parameters["NewStatus"] ?? "") else {
                    return .failure(
                        AlibabaError(
                            status: 400,
                            code: "InvalidParameter.NewStatus",
                            message: "NewStatus must be Enabled or Disabled."
                        )
                    )
                }
                guard let index = zone.keys.firstIndex(where: { $0.id == credentialId }) else {
                    return .failure(notFound)
                }
                zone.keys[index].status = status
                return .success(["SCIMServerCredential": Self.keyJSON(zone.keys[index], zone: zone.id)])
            case "DeleteSCIMServerCredential":
                guard let index = zone.keys.firstIndex(where: { $0.id == credentialId }) else {
                    return .failure(notFound)
                }
                zone.keys.remove(at: index)
                return .success([:])
            case "GetSCIMSynchronizationStatus":
                return .success(["SCIMSynchronizationStatus": zone.syncStatus.rawValue])
            case "SetSCIMSynchronizationStatus":
                guard let status = SyncStatus(rawValue: parameters["SCIMSynchronizationStatus"] ?? "") else {
                    return .failure(
                        AlibabaError(
                            status: 400,
                            code: "InvalidParameter.SCIMSynchronizationStatus",
                            message: "SCIMSynchronizationStatus must be Enabled or Disabled."
                        )
                    )
                }
                zone.syncStatus = status
                zone.updatedAt = now
                return .success([:])
            default:
                return .failure(
                    AlibabaError(status: 404, code: "InvalidApi.NotFound", message: "Specified api is not found.")
                )
            }
        }
    }
}
