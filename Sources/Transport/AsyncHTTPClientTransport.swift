import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SCIMRotatorCore
import Synchronization

/// The production transport: AsyncHTTPClient (SwiftNIO).
///
/// - **No request is ever sent twice by the transport.** A signed request whose connection dropped is failed, not
///   resent: a retry is the client's decision, and it signs again with a fresh timestamp and nonce. (URLSession on
///   Linux is libcurl, which silently resends a request whose reused connection closed without a reply; CloudSSO
///   then refused the reused nonce and the key the first request made went unexplained.)
/// - TLS certificates are always verified, against the system's trust store or, for a server with a private CA (a
///   Kubernetes API server), against exactly that CA. Plain `http://` is for loopback only (policies enforce it).
/// - No cookies, no cache, no redirects: an API answers directly or not at all.
/// - Proxies from the environment, as curl reads them: `HTTPS_PROXY`/`https_proxy` for https URLs,
///   `HTTP_PROXY`/`http_proxy` for http, `NO_PROXY`/`no_proxy` (comma-separated host suffixes, `*` for all) to go
///   direct; loopback is always direct.
///
/// Clients live for the process, so they are never torn down mid-request.
public final class AsyncHTTPClientTransport: HTTPTransport {
    private let direct: HTTPClient
    private let proxied: [String: HTTPClient]
    private let noProxy: [String]

    private init(direct: HTTPClient, proxied: [String: HTTPClient], noProxy: [String]) {
        self.direct = direct
        self.proxied = proxied
        self.noProxy = noProxy
    }

    /// The shared transport: the system's trust store, proxies from this process's environment.
    public static let shared = AsyncHTTPClientTransport(environment: ProcessInfo.processInfo.environment)

    /// A transport with the proxies `environment` names (tests pass their own).
    public convenience init(environment: [String: String]) {
        func value(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        var proxied: [String: HTTPClient] = [:]
        for (scheme, proxy) in [
            ("https", value("HTTPS_PROXY", "https_proxy")), ("http", value("HTTP_PROXY", "http_proxy")),
        ] {
            guard let proxy, let server = Self.proxyServer(proxy) else { continue }
            proxied[scheme] = Self.client(tls: .makeClientConfiguration(), proxy: server)
        }
        let noProxy = (value("NO_PROXY", "no_proxy") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        self.init(direct: Self.client(tls: .makeClientConfiguration(), proxy: nil), proxied: proxied, noProxy: noProxy)
    }

    private static let trusting = Mutex<[String: AsyncHTTPClientTransport]>([:])

    /// The shared transport that trusts exactly the certificates in `pem` (a private CA), direct.
    public static func trusting(pem: String) throws -> AsyncHTTPClientTransport {
        try trusting.withLock { cache in
            if let existing = cache[pem] { return existing }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            let transport = AsyncHTTPClientTransport(direct: client(tls: tls, proxy: nil), proxied: [:], noProxy: [])
            cache[pem] = transport
            return transport
        }
    }

    static func client(tls: TLSConfiguration, proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient {
        var tls = tls
        tls.certificateVerification = .fullVerification
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.proxy = proxy
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `http://[user:password@]host:port` as AsyncHTTPClient's proxy setting.
    static func proxyServer(_ text: String) -> HTTPClient.Configuration.Proxy? {
        guard let url = URL(string: text.contains("://") ? text : "http://\(text)"), let host = url.host else {
            return nil
        }
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        if let user = url.user {
            return .server(host: host, port: port, authorization: .basic(username: user, password: url.password ?? ""))
        }
        return .server(host: host, port: port)
    }

    /// The client for `url`: through the proxy for its scheme, unless the host is loopback or in NO_PROXY.
    func client(for url: URL) -> HTTPClient {
        guard let scheme = url.scheme?.lowercased(), let proxy = proxied[scheme], let host = url.host?.lowercased()
        else { return direct }
        if Self.isLoopback(host) { return direct }
        for entry in noProxy {
            if entry == "*" { return direct }
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if host == suffix || host.hasSuffix("." + suffix) { return direct }
        }
        return proxy
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var outgoing = HTTPClientRequest(url: HTTPRequest.withoutDefaultPort(request.url).absoluteString)
        outgoing.method = .RAW(value: request.method)
        for header in request.headers where header.name.lowercased() != "host" {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        if !request.body.isEmpty || request.method == "POST" { outgoing.body = .bytes(ByteBuffer(bytes: request.body)) }
        // A replica's lease may end sooner than the request's own timeout (RequestDeadline).
        let timeout = RequestDeadline.timeout(request.timeout)
        do {
            let response = try await client(for: request.url).execute(
                outgoing,
                timeout: .milliseconds(Int64(timeout * 1_000))
            )
            let body = try await response.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            return HTTPResponse(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        {
            throw TransportError(.timeout, "no reply from \(request.url.host ?? "?") within \(timeout)s")
        } catch let error as HTTPClientError where error == .invalidURL {
            throw TransportError(.invalidURL, "\(request.url.absoluteString): \(error)")
        } catch {
            throw TransportError(.connection, "\(request.url.host ?? "?"): \(error)")
        }
    }
}
