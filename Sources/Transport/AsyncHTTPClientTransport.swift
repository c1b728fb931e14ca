import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A transport for servers whose TLS certificate is signed by a private CA (a Kubernetes API server's cluster CA),
/// which Foundation's URLSession on Linux cannot be told to trust per request. AsyncHTTPClient (SwiftNIO) with the
/// CA as its only trust root; certificates are still fully verified.
///
/// Clients live for the process (one per CA), so they are never torn down mid-request.
public final class AsyncHTTPClientTransport: HTTPTransport {
    private let client: HTTPClient

    private init(client: HTTPClient) {
        self.client = client
    }

    private static let cache = Mutex<[String: AsyncHTTPClientTransport]>([:])

    /// The shared transport that trusts exactly the certificates in `pem`.
    public static func trusting(pem: String) throws -> AsyncHTTPClientTransport {
        try cache.withLock { cache in
            if let existing = cache[pem] { return existing }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            tls.certificateVerification = .fullVerification
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
            )
            let transport = AsyncHTTPClientTransport(client: client)
            cache[pem] = transport
            return transport
        }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var outgoing = HTTPClientRequest(url: HTTPRequest.withoutDefaultPort(request.url).absoluteString)
        outgoing.method = .RAW(value: request.method)
        for header in request.headers where header.name.lowercased() != "host" {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        if !request.body.isEmpty { outgoing.body = .bytes(ByteBuffer(bytes: request.body)) }
        do {
            let response = try await client.execute(outgoing, timeout: .milliseconds(Int64(request.timeout * 1_000)))
            let body = try await response.body.collect(upTo: 10 << 20)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            return HTTPResponse(status: Int(response.status.code), headers: headers, body: Data(body.readableBytesView))
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        {
            throw TransportError(.timeout, "no reply from \(request.url.host ?? "?") within \(request.timeout)s")
        } catch {
            throw TransportError(.connection, "\(request.url.host ?? "?"): \(error)")
        }
    }
}
