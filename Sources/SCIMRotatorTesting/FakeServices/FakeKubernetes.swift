import Foundation
import Transport

/// The Kubernetes API server's core/v1 Secrets, as documented: bearer-token auth, `Status` error objects,
/// 404 NotFound, 409 AlreadyExists on create and 409 Conflict on a stale `resourceVersion`, 415 for a PATCH with
/// the wrong content type, JSON merge patch.
public final class FakeKubernetes: FakeService, @unchecked Sendable {
    private var secrets: [String: [String: Any]] = [:]
    private var tokens: [String: Bool] = [:]
    private var nextVersion = 1000
    private var raceNextPatches = 0

    public override init() { super.init() }

    public func addToken(_ token: String, canWrite: Bool = true) { lock.withLock { tokens[token] = canWrite } }
    /// Another writer changes the Secret right before the next `count` patches.
    public func raceNextPatches(_ count: Int) { lock.withLock { raceNextPatches = count } }
    public func secret(_ namespace: String, _ name: String) -> [String: Any]? {
        lock.withLock { secrets["\(namespace)/\(name)"] }
    }
    public func seed(_ namespace: String, _ name: String, data: [String: String]) {
        lock.withLock {
            nextVersion += 1
            secrets["\(namespace)/\(name)"] = [
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": ["name": name, "namespace": namespace, "resourceVersion": String(nextVersion)],
                "data": data,
            ]
        }
    }

    static func status(_ code: Int, _ reason: String, _ message: String, name: String? = nil) -> HTTPResponse {
        var body: [String: Any] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": message,
            "reason": reason, "code": code,
        ]
        if let name { body["details"] = ["name": name, "kind": "secrets"] }
        return json(code, body)
    }

    public override func respond(_ request: HTTPRequest) -> HTTPResponse {
        lock.withLock { respondLocked(request) }
    }

    private func respondLocked(_ request: HTTPRequest) -> HTTPResponse {
        guard let token = Self.bearer(request), let canWrite = tokens[token] else {
            return Self.status(401, "Unauthorized", "Unauthorized")
        }
        let parts = request.url.path.split(separator: "/").map(String.init)
        guard parts.count >= 5, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces", parts[4] == "secrets"
        else {
            return Self.status(404, "NotFound", "the server could not find the requested resource")
        }
        let namespace = parts[3]
        let name = parts.count > 5 ? parts[5] : nil
        func forbidden(_ verb: String) -> HTTPResponse {
            Self.status(
                403,
                "Forbidden",
                "secrets \(name.map { "\"\($0)\" " } ?? "")is forbidden: User \"system:serviceaccount:\(namespace):scim-rotator\" cannot \(verb) resource \"secrets\" in API group \"\" in the namespace \"\(namespace)\"",
                name: name
            )
        }
        switch (request.method, name) {
        case ("GET", let name?):
            guard let secret = secrets["\(namespace)/\(name)"] else {
                return Self.status(404, "NotFound", "secrets \"\(name)\" not found", name: name)
            }
            return Self.json(200, secret)
        case ("POST", nil):
            guard canWrite else { return forbidden("create") }
            guard var body = Self.object(request.body), var metadata = body["metadata"] as? [String: Any],
                let newName = metadata["name"] as? String
            else {
                return Self.status(400, "BadRequest", "the body of the request was in an unknown format")
            }
            guard secrets["\(namespace)/\(newName)"] == nil else {
                return Self.status(409, "AlreadyExists", "secrets \"\(newName)\" already exists", name: newName)
            }
            nextVersion += 1
            metadata["resourceVersion"] = String(nextVersion)
            metadata["namespace"] = namespace
            body["metadata"] = metadata
            secrets["\(namespace)/\(newName)"] = body
            return Self.json(201, body)
        case ("PATCH", let name?):
            guard canWrite else { return forbidden("patch") }
            guard
                request.header("Content-Type")?.hasPrefix("application/merge-patch+json") == true
                    || request.header("Content-Type")?.hasPrefix("application/strategic-merge-patch+json") == true
            else {
                return Self.status(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                )
            }
            guard var secret = secrets["\(namespace)/\(name)"] else {
                return Self.status(404, "NotFound", "secrets \"\(name)\" not found", name: name)
            }
            if raceNextPatches > 0 {
                raceNextPatches -= 1
                nextVersion += 1
                var metadata = secret["metadata"] as? [String: Any] ?? [:]
                metadata["resourceVersion"] = String(nextVersion)
                secret["metadata"] = metadata
                secrets["\(namespace)/\(name)"] = secret
            }
            guard let patch = Self.object(request.body) else { return Self.status(400, "BadRequest", "invalid JSON") }
            var metadata = secret["metadata"] as? [String: Any] ?? [:]
            if let wanted = (patch["metadata"] as? [String: Any])?["resourceVersion"] as? String,
                wanted != metadata["resourceVersion"] as? String
            {
                return Self.status(
                    409,
                    "Conflict",
                    "Operation cannot be fulfilled on secrets \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                    name: name
                )
            }
            if let annotations = (patch["metadata"] as? [String: Any])?["annotations"] as? [String: String] {
                var merged = metadata["annotations"] as? [String: String] ?? [:]
                for (key, value) in annotations { merged[key] = value }
                metadata["annotations"] = merged
            }
            var data = secret["data"] as? [String: String] ?? [:]
            for (key, value) in patch["data"] as? [String: String] ?? [:] { data[key] = value }
            nextVersion += 1
            metadata["resourceVersion"] = String(nextVersion)
            secret["metadata"] = metadata
            secret["data"] = data
            secrets["\(namespace)/\(name)"] = secret
            return Self.json(200, secret)
        default:
            return Self.status(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource"
            )
        }
    }
}
