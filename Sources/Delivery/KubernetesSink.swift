import Foundation
import SCIMRotatorCore
import Transport
import Yams

/// Writes the key into one key of a Kubernetes Secret: GET it (POST it when missing), then a JSON merge PATCH of that
/// key carrying the `resourceVersion` read, so a concurrent writer makes it fail with 409 Conflict, which is retried
/// after reading again. Annotations record the key id and expiry (never the secret). The reply is checked.
public struct KubernetesSink: DeliverySink {
    /// How to reach and authenticate to the API server.
    public struct Connection: Sendable {
        public var server: URL
        public var token: Secret?
        /// PEM of the CA that signed the API server's certificate (nil: the system's trust store).
        public var caPEM: String?

        public init(server: URL, token: Secret?, caPEM: String?) {
            self.server = server
            self.token = token
            self.caPEM = caPEM
        }
    }

    public struct ConnectionError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In a pod: `KUBERNETES_SERVICE_HOST/PORT`, the service account's token and CA.
    public static func inCluster(
        environment: [String: String],
        directory: String = serviceAccountDirectory
    ) throws -> Connection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"]
        else {
            throw ConnectionError(
                description:
                    "not in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT unset); set `kubeconfig:` for out-of-cluster use"
            )
        }
        guard let token = try? String(contentsOfFile: directory + "/token", encoding: .utf8) else {
            throw ConnectionError(
                description:
                    "cannot read the service account token \(directory)/token; is automountServiceAccountToken off?"
            )
        }
        let ca = try? String(contentsOfFile: directory + "/ca.crt", encoding: .utf8)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let portNumber = Int(port), (1...65_535).contains(portNumber),
            host.range(of: "^[A-Za-z0-9.:-]+$", options: .regularExpression) != nil,
            let server = URL(string: "https://\(hostPart):\(portNumber)"), server.host != nil
        else {
            throw ConnectionError(
                description:
                    "KUBERNETES_SERVICE_HOST=\(host) and KUBERNETES_SERVICE_PORT=\(port) do not form an API server address (a host name or IP, and a port 1-65535)"
            )
        }
        return Connection(
            server: server,
            token: Secret(token.trimmingCharacters(in: .whitespacesAndNewlines)),
            caPEM: ca
        )
    }

    /// The current context of a kubeconfig file: server, CA (data or file), bearer token (or token file).
    public static func fromKubeconfig(path: String) throws -> Connection {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConnectionError(description: "cannot read kubeconfig \(path)")
        }
        guard let root = (try? Yams.load(yaml: text)) as? [String: Any] else {
            throw ConnectionError(description: "\(path) is not a kubeconfig (YAML mapping)")
        }
        func named(_ list: String, _ name: String?, _ field: String) -> [String: Any]? {
            (root[list] as? [[String: Any]])?.first { $0["name"] as? String == name }?[field] as? [String: Any]
        }
        let contextName = root["current-context"] as? String
        guard let context = named("contexts", contextName, "context") else {
            throw ConnectionError(description: "\(path): no current-context")
        }
        guard let cluster = named("clusters", context["cluster"] as? String, "cluster"),
            let serverText = cluster["server"] as? String,
            let server = URL(string: serverText)
        else {
            throw ConnectionError(description: "\(path): the current context's cluster has no server")
        }
        var ca: String?
        if let data = cluster["certificate-authority-data"] as? String, let decoded = Data(base64Encoded: data) {
            ca = String(decoding: decoded, as: UTF8.self)
        } else if let file = cluster["certificate-authority"] as? String {
            ca = try? String(contentsOfFile: file, encoding: .utf8)
            if ca == nil { throw ConnectionError(description: "\(path): cannot read certificate-authority \(file)") }
        }
        let user = named("users", context["user"] as? String, "user") ?? [:]
        var token = (user["token"] as? String).map(Secret.init)
        if token == nil, let file = user["tokenFile"] as? String {
            token = (try? String(contentsOfFile: file, encoding: .utf8)).map {
                Secret($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        if token == nil,
            user["client-certificate-data"] != nil || user["client-certificate"] != nil || user["exec"] != nil
        {
            throw ConnectionError(
                description:
                    "\(path): only bearer-token users are supported (token or tokenFile), not client certificates or exec plugins"
            )
        }
        return Connection(server: server, token: token, caPEM: ca)
    }

    public let namespace: String
    public let name: String
    public let key: String
    let connection: Connection
    let transport: any HTTPTransport
    let timeout: Double

    /// `transport` is used unless the connection names a CA, which needs a transport that trusts it.
    public init(
        namespace: String,
        name: String,
        key: String,
        connection: Connection,
        transport: any HTTPTransport,
        timeout: Double = 15
    ) throws {
        self.namespace = namespace
        self.name = name
        self.key = key
        self.connection = connection
        if let ca = connection.caPEM, connection.server.scheme == "https" {
            self.transport = try AsyncHTTPClientTransport.trusting(pem: ca)
        } else {
            self.transport = transport
        }
        self.timeout = timeout
    }

    public var summary: String { SinkLabel.kubernetes(namespace: namespace, name: name, key: key) }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        let client = SinkHTTP(
            transport: transport,
            sink: summary,
            timeout: timeout,
            secrets: [secret] + (connection.token.map { [$0] } ?? [])
        )
        var headers: [(name: String, value: String)] = []
        if let token = connection.token { headers.append(("Authorization", "Bearer \(token.reveal())")) }
        let encoded = Data(secret.reveal().utf8).base64EncodedString()
        let annotations = [
            "scim-rotator/key-id": context.keyId,
            "scim-rotator/expires": context.expiresAt.formatted(Date.ISO8601FormatStyle()),
            "scim-rotator/policy": context.policy,
        ]
        let collection = SinkHTTP.url(connection.server, ["api", "v1", "namespaces", namespace, "secrets"])
        let item = SinkHTTP.url(connection.server, ["api", "v1", "namespaces", namespace, "secrets", name])
        for attempt in 1...5 {
            let current = try await client.send("GET", item, headers: headers)
            let reply: SinkHTTP.Reply
            switch current.status {
            case 404:
                reply = try await client.send(
                    "POST",
                    collection,
                    headers: headers,
                    json: [
                        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": ["name": name, "namespace": namespace, "annotations": annotations],
                        "data": [key: encoded],
                    ]
                )
                if reply.status == 409 { continue }  // created meanwhile: read it again
            case 200:
                guard let version = (current.object["metadata"] as? [String: Any])?["resourceVersion"] as? String else {
                    throw DeliveryError(sink: summary, message: "the Secret has no metadata.resourceVersion")
                }
                reply = try await client.send(
                    "PATCH",
                    item,
                    headers: headers,
                    json: [
                        "metadata": ["resourceVersion": version, "annotations": annotations], "data": [key: encoded],
                    ],
                    contentType: "application/merge-patch+json"
                )
                if reply.status == 409 { continue }  // resourceVersion conflict: read again
            default:
                throw client.failure(
                    "read \(namespace)/\(name)",
                    current,
                    hint: SinkHTTP.permissionHint(
                        current.status,
                        "get/patch on secrets in \(namespace) to the service account"
                    )
                )
            }
            guard reply.status == 200 || reply.status == 201 else {
                throw client.failure(
                    "write \(namespace)/\(name)",
                    reply,
                    hint: SinkHTTP.permissionHint(
                        reply.status,
                        "create/patch on secrets in \(namespace) to the service account"
                    )
                )
            }
            guard (reply.object["data"] as? [String: Any])?[key] as? String == encoded else {
                throw DeliveryError(
                    sink: summary,
                    message: "the API server's reply does not hold the new value under \(key)"
                )
            }
            let version = (reply.object["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? "?"
            return DeliveryReceipt(detail: ["resourceVersion": version, "attempts": String(attempt)])
        }
        throw DeliveryError(
            sink: summary,
            message: "resourceVersion conflicts on 5 attempts: something else keeps rewriting \(namespace)/\(name)"
        )
    }
}
