import Foundation
import SCIMRotatorCore

/// An HTTP request as the signers see it: headers in the order they are sent, the body as exact bytes.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: Data
    /// Seconds before the transport gives up waiting for the reply.
    public var timeout: Double

    public init(
        method: String,
        url: URL,
        headers: [(name: String, value: String)] = [],
        body: Data = Data(),
        timeout: Double = 30
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The `Host` header value a client sends for `url`, exactly as libcurl and AsyncHTTPClient send it: the host,
    /// plus `:port` when the URL names a port other than its scheme's default (`https://h:443` is sent as `h`).
    /// Signers sign this value, so the Host that is signed is the Host that is sent.
    public static func hostHeader(for url: URL) -> String {
        var host = url.host ?? ""
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        if let port = url.port, port != defaultPort(for: url.scheme) { return "\(host):\(port)" }
        return host
    }

    /// 443 for https, 80 for http.
    public static func defaultPort(for scheme: String?) -> Int? {
        switch scheme?.lowercased() {
        case "https": return 443
        case "http": return 80
        default: return nil
        }
    }

    /// `url` without an explicit default port (`https://h:443/x` → `https://h/x`): the same server, and the form in
    /// which every layer agrees on the Host header.
    public static func withoutDefaultPort(_ url: URL) -> URL {
        guard let port = url.port, port == defaultPort(for: url.scheme),
            var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        else { return url }
        components.port = nil
        return components.url ?? url
    }
}

/// An HTTP reply. Header names are lower-cased.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// The transport failed before a complete reply arrived.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case timeout
        case connection
        case invalidURL
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

extension TransportError: RetryClassifiable {
    /// A request that timed out or lost its connection may have reached the server; one with an invalid URL never
    /// left, and never will.
    public var retryClass: RetryClass {
        switch kind {
        case .timeout, .connection: return .ambiguous
        case .invalidURL: return .final
        }
    }
}

/// Sends one HTTP request. The seam that lets tests talk to the emulator in memory and production use libcurl.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}
