import Foundation
import Transport

/// HashiCorp Vault's KV v2 engine and AppRole login, as documented: `X-Vault-Token`, `{"errors": [...]}` bodies,
/// 403 "permission denied", 400 for a check-and-set mismatch, 404 for a missing secret.
public final class FakeVault: FakeService, @unchecked Sendable {
    public struct Version: Sendable {
        public var data: [String: String]
        public var created: Date
    }

    /// Token → whether it may write (read-only tokens get 403 on writes).
    private var tokens: [String: Bool] = [:]
    private var roles: [String: (secretId: String, token: String)] = [:]
    private var versions: [String: [Version]] = [:]
    private var customMetadata: [String: [String: String]] = [:]
    private var bumpBeforeWrite = 0
    public let mount: String
    /// Required on every request when set (Vault Enterprise namespaces).
    public let namespace: String?

    public init(mount: String = "secret", namespace: String? = nil) {
        self.mount = mount
        self.namespace = namespace
        super.init()
    }

    public func addToken(_ token: String, canWrite: Bool = true) { lock.withLock { tokens[token] = canWrite } }
    public func addRole(roleId: String, secretId: String, token: String) {
        lock.withLock {
            roles[roleId] = (secretId, token)
            tokens[token] = true
        }
    }
    /// Someone else writes a new version right before the next `count` writes (a check-and-set race).
    public func raceNextWrites(_ count: Int) { lock.withLock { bumpBeforeWrite = count } }
    public func versions(_ path: String) -> [Version] { lock.withLock { versions[path] ?? [] } }
    public func metadata(_ path: String) -> [String: String]? { lock.withLock { customMetadata[path] } }

    static func errors(_ status: Int, _ messages: [String]) -> HTTPResponse { json(status, ["errors": messages]) }

    public override func respond(_ request: HTTPRequest) -> HTTPResponse {
        lock.withLock { respondLocked(request) }
    }

    private func respondLocked(_ request: HTTPRequest) -> HTTPResponse {
        let path = request.url.path
        if let namespace, request.header("X-Vault-Namespace") != namespace {
            return Self.errors(403, ["permission denied"])
        }
        if request.method == "POST", path.hasPrefix("/v1/auth/"), path.hasSuffix("/login") {
            let body = Self.object(request.body) ?? [:]
            guard let roleId = body["role_id"] as? String, let role = roles[roleId],
                role.secretId == body["secret_id"] as? String
            else {
                return Self.errors(400, ["invalid role or secret ID"])
            }
            return Self.json(
                200,
                [
                    "auth": [
                        "client_token": role.token, "lease_duration": 3600, "renewable": true,
                        "policies": ["scim-rotator"],
                    ]
                ]
            )
        }
        guard let token = request.header("X-Vault-Token"), let canWrite = tokens[token] else {
            return Self.errors(403, ["permission denied"])
        }
        let prefix = "/v1/\(mount)/"
        guard path.hasPrefix(prefix) else { return Self.errors(404, ["no handler for route \"\(path)\""]) }
        let rest = path.dropFirst(prefix.count)
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return Self.errors(404, []) }
        let (kind, secretPath) = (parts[0], parts[1])
        switch (request.method, kind) {
        case ("GET", "metadata"):
            guard let list = versions[secretPath], !list.isEmpty else { return Self.errors(404, []) }
            return Self.json(
                200,
                [
                    "data": [
                        "current_version": list.count, "oldest_version": 1, "max_versions": 0,
                        "custom_metadata": customMetadata[secretPath] as Any? ?? NSNull(),
                    ]
                ]
            )
        case ("POST", "metadata"), ("PUT", "metadata"):
            guard canWrite else { return Self.errors(403, ["1 error occurred:\n\t* permission denied\n\n"]) }
            if let metadata = Self.object(request.body)?["custom_metadata"] as? [String: String] {
                customMetadata[secretPath] = metadata
            }
            return HTTPResponse(status: 204)
        case ("POST", "data"), ("PUT", "data"):
            guard canWrite else { return Self.errors(403, ["1 error occurred:\n\t* permission denied\n\n"]) }
            let body = Self.object(request.body) ?? [:]
            guard let data = body["data"] as? [String: String] else { return Self.errors(400, ["no data provided"]) }
            if bumpBeforeWrite > 0 {
                bumpBeforeWrite -= 1
                versions[secretPath, default: []].append(
                    Version(data: ["token": "written-by-someone-else"], created: Date())
                )
            }
            let current = versions[secretPath]?.count ?? 0
            if let cas = (body["options"] as? [String: Any])?["cas"] as? Int, cas != current {
                return Self.errors(400, ["check-and-set parameter did not match the current version"])
            }
            versions[secretPath, default: []].append(Version(data: data, created: Date()))
            return Self.json(
                200,
                [
                    "data": [
                        "version": current + 1, "created_time": Date().formatted(Date.ISO8601FormatStyle()),
                        "deletion_time": "", "destroyed": false,
                    ]
                ]
            )
        case ("GET", "data"):
            guard let list = versions[secretPath], !list.isEmpty else { return Self.errors(404, []) }
            let wanted =
                URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems?.first {
                    $0.name == "version"
                }?.value.flatMap(Int.init) ?? list.count
            guard wanted >= 1, wanted <= list.count else { return Self.errors(404, []) }
            return Self.json(
                200,
                ["data": ["data": list[wanted - 1].data, "metadata": ["version": wanted, "destroyed": false]]]
            )
        default:
            return Self.errors(405, ["unsupported operation"])
        }
    }
}
