import Foundation
import SCIMRotatorCore
import Transport

/// Writes the key to HashiCorp Vault's KV version 2 engine: a new version with check-and-set on the version read
/// first (retried when someone else wrote meanwhile), custom metadata without the secret, then read back to confirm.
///
/// API subset: `POST /v1/auth/<approle mount>/login`, `GET /v1/<mount>/metadata/<path>`,
/// `POST /v1/<mount>/data/<path>` (`options.cas`), `POST /v1/<mount>/metadata/<path>` (`custom_metadata`),
/// `GET /v1/<mount>/data/<path>?version=N`; headers `X-Vault-Token`, `X-Vault-Namespace`.
public struct VaultSink: DeliverySink {
    public enum Authentication: Sendable {
        case token(Secret)
        case appRole(roleId: Secret, secretId: Secret, mount: String)
    }

    public let address: URL
    public let mount: String
    public let path: String
    public let namespace: String?
    let authentication: Authentication
    let transport: any HTTPTransport
    let timeout: Double

    public init(
        address: URL,
        mount: String = "secret",
        path: String,
        namespace: String? = nil,
        authentication: Authentication,
        transport: any HTTPTransport,
        timeout: Double = 15
    ) {
        self.address = address
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.path = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.namespace = namespace
        self.authentication = authentication
        self.transport = transport
        self.timeout = timeout
    }

    public var summary: String { SinkLabel.vault(mount: mount, path: path) }

    func http(_ secrets: [Secret]) -> SinkHTTP {
        SinkHTTP(transport: transport, sink: summary, timeout: timeout, secrets: secrets)
    }

    func url(_ kind: String, query: [URLQueryItem] = []) -> URL {
        SinkHTTP.url(
            address,
            ["v1"] + mount.split(separator: "/").map(String.init) + [kind]
                + path.split(separator: "/").map(String.init),
            query: query
        )
    }

    func headers(_ token: Secret) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("X-Vault-Token", token.reveal())]
        if let namespace { headers.append(("X-Vault-Namespace", namespace)) }
        return headers
    }

    func login() async throws -> Secret {
        switch authentication {
        case .token(let token):
            return token
        case .appRole(let roleId, let secretId, let authMount):
            let client = http([roleId, secretId])
            var headers: [(name: String, value: String)] = []
            if let namespace { headers.append(("X-Vault-Namespace", namespace)) }
            let reply = try await client.send(
                "POST",
                SinkHTTP.url(address, ["v1", "auth"] + authMount.split(separator: "/").map(String.init) + ["login"]),
                headers: headers,
                json: ["role_id": roleId.reveal(), "secret_id": secretId.reveal()]
            )
            guard reply.status == 200, let auth = reply.object["auth"] as? [String: Any],
                let token = auth["client_token"] as? String
            else {
                throw client.failure(
                    "AppRole login",
                    reply,
                    hint: SinkHTTP.permissionHint(reply.status, "the role_id/secret_id")
                )
            }
            return Secret(token)
        }
    }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        let token = try await login()
        let client = http([secret, token])
        let metadata = [
            "credential_id": context.keyId, "provider": context.provider.rawValue, "zone": context.zone,
            "policy": context.policy, "created": context.createdAt.formatted(Date.ISO8601FormatStyle()),
            "expires": context.expiresAt.formatted(Date.ISO8601FormatStyle()),
            "scim_url": context.scimURL.absoluteString,
        ]
        var data: [String: String] = metadata
        data["token"] = secret.reveal()
        var written: Int?
        for _ in 0..<3 {
            let current = try await currentVersion(client, token)
            let reply = try await client.send(
                "POST",
                url("data"),
                headers: headers(token),
                json: ["options": ["cas": current], "data": data]
            )
            if reply.status == 200 || reply.status == 204 {
                written = ((reply.object["data"] as? [String: Any])?["version"] as? Int) ?? current + 1
                break
            }
            let errors = (reply.object["errors"] as? [String])?.joined(separator: "; ") ?? ""
            if reply.status == 400, errors.contains("check-and-set") { continue }
            throw client.failure(
                "write \(mount)/data/\(path)",
                reply,
                hint: SinkHTTP.permissionHint(reply.status, "create/update on \(mount)/data/\(path)")
            )
        }
        guard let version = written else {
            throw DeliveryError(
                sink: summary,
                message: "check-and-set kept failing: another writer changes \(mount)/\(path) concurrently"
            )
        }
        let meta = try await client.send(
            "POST",
            url("metadata"),
            headers: headers(token),
            json: ["custom_metadata": metadata]
        )
        guard meta.status == 200 || meta.status == 204 else {
            throw client.failure(
                "write \(mount)/metadata/\(path)",
                meta,
                hint: SinkHTTP.permissionHint(meta.status, "update on \(mount)/metadata/\(path)")
            )
        }
        let check = try await client.send(
            "GET",
            url("data", query: [URLQueryItem(name: "version", value: String(version))]),
            headers: headers(token)
        )
        let stored = ((check.object["data"] as? [String: Any])?["data"] as? [String: Any])?["token"] as? String
        guard check.status == 200, stored == secret.reveal() else {
            throw DeliveryError(
                sink: summary,
                message:
                    "read back version \(version): HTTP \(check.status), the stored token does not match what was written"
            )
        }
        return DeliveryReceipt(detail: ["version": String(version)])
    }

    /// The current version, or 0 when the secret does not exist yet (check-and-set 0 = create only).
    func currentVersion(_ client: SinkHTTP, _ token: Secret) async throws -> Int {
        let reply = try await client.send("GET", url("metadata"), headers: headers(token))
        switch reply.status {
        case 200: return ((reply.object["data"] as? [String: Any])?["current_version"] as? Int) ?? 0
        case 404: return 0
        default:
            throw client.failure(
                "read \(mount)/metadata/\(path)",
                reply,
                hint: SinkHTTP.permissionHint(reply.status, "read on \(mount)/metadata/\(path)")
            )
        }
    }
}
