import Foundation
import Transport

/// Microsoft identity platform's client-credentials token endpoint and the Graph synchronization API of one
/// service principal, as documented: `{"error": "...", "error_description": "AADSTS..."}` from the token endpoint,
/// `{"error": {"code", "message"}}` from Graph, 204 from PUT secrets and validateCredentials.
public final class FakeEntra: FakeService, @unchecked Sendable {
    public let tenantId: String
    public let servicePrincipalId: String
    public let clientId: String
    private let clientSecret: String
    private let issuedToken = "eyJ0eXAiOiJKV1QifakeGraphToken"
    /// The service principal's synchronization secrets, as stored.
    private var secrets: [(key: String, value: String)]
    private var jobs: [String]
    /// Whether the app has Synchronization.ReadWrite.All.
    public var permitted = true
    /// What validateCredentials does with the saved SecretToken (tests check it against the emulator's SCIM).
    private let accepts: @Sendable (String, String) -> Bool

    public init(
        tenantId: String = "72f988bf-86f1-41af-91ab-2d7cd011db47",
        servicePrincipalId: String = "0f0c6e76-3a49-4d5f-8b2d-1f5b9c0a7e11",
        clientId: String = "5b3f2c1a-1111-4a2b-9c3d-123456789abc",
        clientSecret: String,
        jobs: [String] = ["scim.e0cb8f9d0c6a4b5f8a1b.1a2b3c"],
        existing: [(key: String, value: String)] = [
            ("SyncNotificationSettings", "{\"Enabled\":false}"), ("SyncAll", "false"),
        ],
        accepts: @escaping @Sendable (_ baseAddress: String, _ token: String) -> Bool = { _, _ in true }
    ) {
        self.tenantId = tenantId
        self.servicePrincipalId = servicePrincipalId
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.jobs = jobs
        self.secrets = existing
        self.accepts = accepts
        super.init()
    }

    public var storedSecrets: [(key: String, value: String)] { lock.withLock { secrets } }

    static func graphError(_ status: Int, _ code: String, _ message: String) -> HTTPResponse {
        json(
            status,
            ["error": ["code": code, "message": message, "innerError": ["request-id": UUID().uuidString.lowercased()]]]
        )
    }

    public override func respond(_ request: HTTPRequest) -> HTTPResponse {
        let path = request.url.path
        if request.method == "POST", path == "/\(tenantId)/oauth2/v2.0/token" {
            let form = String(decoding: request.body, as: UTF8.self).split(separator: "&").reduce(
                into: [String: String]()
            ) { result, pair in
                let parts = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).removingPercentEncoding ?? String($0)
                }
                if parts.count == 2 { result[parts[0]] = parts[1] }
            }
            guard form["grant_type"] == "client_credentials", form["scope"] == "https://graph.microsoft.com/.default"
            else {
                return Self.json(
                    400,
                    [
                        "error": "invalid_request",
                        "error_description":
                            "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
                    ]
                )
            }
            guard form["client_id"] == clientId, form["client_secret"] == clientSecret else {
                return Self.json(
                    401,
                    [
                        "error": "invalid_client",
                        "error_description":
                            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                    ]
                )
            }
            return Self.json(
                200,
                ["token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": issuedToken]
            )
        }
        if path.hasSuffix("/oauth2/v2.0/token") {
            return Self.json(400, ["error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."])
        }
        guard Self.bearer(request) == issuedToken else {
            return Self.graphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        }
        let base = "/v1.0/servicePrincipals/\(servicePrincipalId)/synchronization"
        guard path.hasPrefix(base) else {
            return Self.graphError(
                404,
                "Request_ResourceNotFound",
                "Resource '\(path)' does not exist or one of its queried reference-property objects are not present."
            )
        }
        return lock.withLock {
            guard permitted else {
                return Self.graphError(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation."
                )
            }
            switch (request.method, String(path.dropFirst(base.count))) {
            case ("GET", "/secrets"):
                // Graph masks the token on read.
                let value = secrets.map { ["key": $0.key, "value": $0.key == "SecretToken" ? "" : $0.value] }
                return Self.json(
                    200,
                    [
                        "@odata.context":
                            "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.synchronizationSecretKeyStringValuePair)",
                        "value": value,
                    ]
                )
            case ("PUT", "/secrets"):
                guard let items = Self.object(request.body)?["value"] as? [[String: Any]] else {
                    return Self.graphError(
                        400,
                        "BadRequest",
                        "The request body is not a collection of key/value pairs."
                    )
                }
                secrets = items.compactMap { item in
                    guard let key = item["key"] as? String, let value = item["value"] as? String else { return nil }
                    return (key, value)
                }
                return HTTPResponse(status: 204)
            case ("GET", "/jobs"):
                return Self.json(
                    200,
                    ["value": jobs.map { ["id": $0, "templateId": "scim", "status": ["code": "Active"]] }]
                )
            case ("POST", let rest) where rest.hasPrefix("/jobs/") && rest.hasSuffix("/validateCredentials"):
                let job = String(rest.dropFirst("/jobs/".count).dropLast("/validateCredentials".count))
                guard jobs.contains(job) else {
                    return Self.graphError(404, "Request_ResourceNotFound", "job \(job) not found")
                }
                let base = secrets.first { $0.key == "BaseAddress" }?.value ?? ""
                let token = secrets.first { $0.key == "SecretToken" }?.value ?? ""
                guard accepts(base, token) else {
                    return Self.graphError(
                        400,
                        "BadRequest",
                        "We couldn't validate the credentials: the SCIM endpoint rejected the secret token (HTTP 401)."
                    )
                }
                return HTTPResponse(status: 204)
            default:
                return Self.graphError(405, "MethodNotAllowed", "\(request.method) is not allowed here.")
            }
        }
    }
}
