import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The production transport: Foundation's URLSession (libcurl on Linux).
///
/// TLS certificates are always verified (URLSession's default); only loopback `http://` URLs are plain.
/// No cookies, no cache, no redirects: a cloud API answers directly or not at all.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession

    public init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        // Every policy of a fleet talks to the same API host; allow more connections than the default concurrency.
        configuration.httpMaximumConnectionsPerHost = 64
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        // The URL without an explicit default port: libcurl then sends exactly HTTPRequest.hostHeader(for:).
        var urlRequest = URLRequest(url: HTTPRequest.withoutDefaultPort(request.url))
        urlRequest.httpMethod = request.method
        urlRequest.timeoutInterval = request.timeout
        for header in request.headers where header.name.lowercased() != "host" {
            urlRequest.setValue(header.value, forHTTPHeaderField: header.name)
        }
        if !request.body.isEmpty || request.method == "POST" {
            urlRequest.httpBody = request.body
        }
        do {
            let (data, response) = try await session.data(for: urlRequest)
            guard let http = response as? HTTPURLResponse else {
                throw TransportError(.connection, "not an HTTP reply from \(request.url.host ?? "?")")
            }
            var headers: [String: String] = [:]
            for (key, value) in http.allHeaderFields {
                if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
            }
            return HTTPResponse(status: http.statusCode, headers: headers, body: data)
        } catch let error as URLError {
            switch error.code {
            case .timedOut:
                throw TransportError(.timeout, "no reply from \(request.url.host ?? "?") within \(request.timeout)s")
            case .badURL, .unsupportedURL:
                throw TransportError(.invalidURL, "\(request.url.absoluteString): \(error.localizedDescription)")
            default:
                throw TransportError(.connection, "\(request.url.host ?? "?"): \(error.localizedDescription)")
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(.connection, "\(request.url.host ?? "?"): \(error)")
        }
    }
}

private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
