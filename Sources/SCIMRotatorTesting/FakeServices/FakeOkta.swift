import Foundation
import Transport

/// Okta's app provisioning connection API, as documented: `Authorization: SSWS <token>`, token-based connections
/// only for `okta_org2org` (and `zscalerbyz`) apps, Okta error objects (`errorCode`, `errorSummary`, `errorId`).
public final class FakeOkta: FakeService, @unchecked Sendable {
    public struct App: Sendable {
        public var signOnMode: String
        public var token: String?
        public var baseUrl: String?
        public var status = "DISABLED"
    }

    private var apps: [String: App]
    private let apiToken: String
    /// Whether the token's admin may manage apps.
    public var permitted = true

    public init(
        apiToken: String,
        apps: [String: String] = ["0oa1org2org": "okta_org2org", "0oa2custom": "custom_scim"]
    ) {
        self.apiToken = apiToken
        self.apps = apps.mapValues { App(signOnMode: $0) }
        super.init()
    }

    public func app(_ id: String) -> App? { lock.withLock { apps[id] } }

    static func error(_ status: Int, _ code: String, _ summary: String, headers: [String: String] = [:]) -> HTTPResponse
    {
        json(
            status,
            [
                "errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": "oae\(UUID().uuidString.prefix(18))", "errorCauses": [],
            ],
            headers: headers
        )
    }

    public override func respond(_ request: HTTPRequest) -> HTTPResponse {
        lock.withLock {
            guard request.header("Authorization") == "SSWS \(apiToken)" else {
                return Self.error(401, "E0000011", "Invalid token provided")
            }
            guard permitted else {
                return Self.error(403, "E0000006", "You do not have permission to perform the requested action")
            }
            let parts = request.url.path.split(separator: "/").map(String.init)
            guard parts.count == 6, parts[0] == "api", parts[1] == "v1", parts[2] == "apps", parts[4] == "connections",
                parts[5] == "default"
            else {
                return Self.error(404, "E0000022", "The endpoint does not support the provided HTTP method")
            }
            let id = parts[3]
            guard var app = apps[id] else {
                return Self.error(404, "E0000007", "Not found: Resource not found: \(id) (App)")
            }
            switch request.method {
            case "GET":
                return Self.json(
                    200,
                    [
                        "authScheme": app.token == nil ? "UNKNOWN" : "TOKEN", "status": app.status,
                        "baseUrl": app.baseUrl as Any? ?? NSNull(),
                    ]
                )
            case "POST":
                guard ["okta_org2org", "zscalerbyz"].contains(app.signOnMode) else {
                    return Self.error(
                        400,
                        "E0000001",
                        "Api validation failed: authScheme. Token-based provisioning connections are not supported for this app."
                    )
                }
                guard let body = Self.object(request.body), let profile = body["profile"] as? [String: Any],
                    profile["authScheme"] as? String == "TOKEN", let token = profile["token"] as? String, !token.isEmpty
                else { return Self.error(400, "E0000001", "Api validation failed: profile.token") }
                app.token = token
                app.baseUrl = body["baseUrl"] as? String
                let activate = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems?.first {
                    $0.name == "activate"
                }?.value
                if activate?.uppercased() != "FALSE" { app.status = "ENABLED" }
                apps[id] = app
                return Self.json(
                    200,
                    [
                        "authScheme": "TOKEN", "status": app.status, "baseUrl": app.baseUrl as Any? ?? NSNull(),
                        "profile": ["authScheme": "TOKEN"],
                    ]
                )
            default:
                return Self.error(405, "E0000022", "The endpoint does not support the provided HTTP method")
            }
        }
    }
}
