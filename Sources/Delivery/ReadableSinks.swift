import Foundation
import SCIMRotatorCore
import Transport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reading back what the readable sinks wrote: the secret recovery after a crash, and the current key's SCIM check.

extension FileSink: ReadableSink {
    public func read(context: DeliveryContext) async throws -> Secret? {
        try FileSink.readSecret(at: path, sink: summary)
    }

    /// The whole file as the secret (sinks write exactly the secret's bytes); nil when there is no file.
    static func readSecret(at path: String, sink: String) throws -> Secret? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DeliveryError(sink: sink, message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let text = String(decoding: data, as: UTF8.self)
        return text.isEmpty ? nil : Secret(text)
    }
}

extension ManualSink: ReadableSink {
    public func read(context: DeliveryContext) async throws -> Secret? {
        try FileSink.readSecret(at: file, sink: summary)
    }
}

extension VaultSink: ReadableSink {
    /// The `token` field of the newest version; nil when the secret does not exist (or has no token).
    public func read(context: DeliveryContext) async throws -> Secret? {
        let token = try await login()
        let client = http([token])
        let reply = try await client.send("GET", url("data"), headers: headers(token))
        switch reply.status {
        case 200:
            let data = (reply.object["data"] as? [String: Any])?["data"] as? [String: Any]
            return (data?["token"] as? String).map(Secret.init)
        case 404:
            return nil
        default:
            throw client.failure(
                "read \(mount)/data/\(path)",
                reply,
                hint: SinkHTTP.permissionHint(reply.status, "read on \(mount)/data/\(path)")
            )
        }
    }
}

extension KubernetesSink: ReadableSink {
    /// The Secret's `key`, base64-decoded; nil when the Secret or the key does not exist.
    public func read(context: DeliveryContext) async throws -> Secret? {
        let client = SinkHTTP(
            transport: transport,
            sink: summary,
            timeout: timeout,
            secrets: connection.token.map { [$0] } ?? []
        )
        var headers: [(name: String, value: String)] = []
        if let token = connection.token { headers.append(("Authorization", "Bearer \(token.reveal())")) }
        let item = SinkHTTP.url(connection.server, ["api", "v1", "namespaces", namespace, "secrets", name])
        let reply = try await client.send("GET", item, headers: headers)
        switch reply.status {
        case 200:
            guard let encoded = (reply.object["data"] as? [String: Any])?[key] as? String else { return nil }
            guard let data = Data(base64Encoded: encoded) else {
                throw DeliveryError(sink: summary, message: "the Secret's \(key) is not base64")
            }
            return Secret(String(decoding: data, as: UTF8.self))
        case 404:
            return nil
        default:
            throw client.failure(
                "read \(namespace)/\(name)",
                reply,
                hint: SinkHTTP.permissionHint(reply.status, "get on secrets in \(namespace) to the service account")
            )
        }
    }
}
