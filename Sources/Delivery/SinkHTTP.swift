import Foundation
import SCIMRotatorCore
import Transport

/// The HTTP plumbing the API sinks share: JSON or form bodies, the reply decoded as JSON, transport failures and
/// reply bodies turned into a `DeliveryError` that names the sink and never carries a secret.
struct SinkHTTP: Sendable {
    let transport: any HTTPTransport
    let sink: String
    let timeout: Double
    /// Values to scrub from any text that goes into an error (the new key, API tokens).
    let secrets: [Secret]

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    func send(
        _ method: String,
        _ url: URL,
        headers: [(name: String, value: String)] = [],
        json: Any? = nil,
        form: [String: String]? = nil,
        contentType: String = "application/json"
    ) async throws -> Reply {
        var allHeaders = headers
        var body = Data()
        if let json {
            body = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
            allHeaders.append(("Content-Type", contentType))
        } else if let form {
            body = Data(
                form.sorted { $0.key < $1.key }.map { "\(Self.formEncode($0.key))=\(Self.formEncode($0.value))" }
                    .joined(separator: "&").utf8
            )
            allHeaders.append(("Content-Type", "application/x-www-form-urlencoded"))
        }
        allHeaders.append(("Accept", "application/json"))
        do {
            let response = try await transport.send(
                HTTPRequest(method: method, url: url, headers: allHeaders, body: body, timeout: timeout)
            )
            return Reply(status: response.status, headers: response.headers, body: response.body)
        } catch let error as TransportError {
            throw DeliveryError(sink: sink, message: "\(method) \(url.host ?? "?")\(url.path): \(error)")
        }
    }

    /// A failure for an unexpected reply: status, and the service's own error text, scrubbed.
    func failure(_ what: String, _ reply: Reply, hint: String? = nil) -> DeliveryError {
        // Redacted before it is cut, so that a secret on the cut cannot survive in part.
        var text = String(decoding: reply.body.prefix(65_536), as: UTF8.self).redacting(secrets)
        text = String(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(600))
        var message = "\(what): HTTP \(reply.status)"
        if !text.isEmpty { message += " \(text)" }
        if let hint { message += "; \(hint)" }
        return DeliveryError(sink: sink, message: message)
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `base` + path segments, each percent-encoded.
    static func url(_ base: URL, _ segments: [String], query: [URLQueryItem] = []) -> URL {
        // Never a crash on odd input: without components, each segment is appended (and escaped) by URL itself.
        let appended = segments.reduce(base) { $0.appendingPathComponent($1) }
        guard var components = URLComponents(url: base, resolvingAgainstBaseURL: false) else { return appended }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/")
        let prefix =
            components.percentEncodedPath.hasSuffix("/")
            ? String(components.percentEncodedPath.dropLast()) : components.percentEncodedPath
        components.percentEncodedPath =
            prefix + "/"
            + segments.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: "/")
        components.queryItems = query.isEmpty ? nil : query
        return components.url ?? appended
    }

    /// Whether 403/401 mean "this identity may not do that": a hint for the operator.
    static func permissionHint(_ status: Int, _ what: String) -> String? {
        switch status {
        case 401: return "the credentials were refused; check \(what)"
        case 403: return "permission denied; grant \(what)"
        default: return nil
        }
    }
}

/// Secrets read from environment variables named in a policy.
public enum SinkEnvironment {
    public struct Missing: Error, CustomStringConvertible, Sendable {
        public var variable: String
        public var sink: String
        public var description: String { "\(sink): environment variable \(variable) is not set or empty" }
    }

    public static func secret(_ name: String, sink: String, environment: [String: String]) throws -> Secret {
        guard let value = environment[name], !value.isEmpty else { throw Missing(variable: name, sink: sink) }
        return Secret(value)
    }
}
