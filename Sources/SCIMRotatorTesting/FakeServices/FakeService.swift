import CloudEmulator
import Foundation
import Synchronization
import Transport

/// What the fake services share: a request log, injected failures, JSON replies. Each fake implements the documented
/// subset of a real API (paths, headers, status codes, error bodies) and can be used in memory (as an
/// ``HTTPTransport``) or served over a real socket with ``EmulatorServer``.
public class FakeService: LocalHTTPHandler, HTTPTransport, @unchecked Sendable {
    /// An injected failure for the next matching request.
    public struct Failure: Sendable {
        public var method: String?
        public var pathContains: String?
        public var status: Int
        public var body: String
        public var delayMs: Int
        public var drop: Bool
        public var times: Int

        public init(
            method: String? = nil,
            pathContains: String? = nil,
            status: Int = 500,
            body: String = "",
            delayMs: Int = 0,
            drop: Bool = false,
            times: Int = 1
        ) {
            self.method = method
            self.pathContains = pathContains
            self.status = status
            self.body = body
            self.delayMs = delayMs
            self.drop = drop
            self.times = times
        }
    }

    public struct Logged: Sendable {
        public var method: String
        public var path: String
        public var query: String?
        public var headers: [String: String]
        public var body: Data
        public var status: Int
    }

    let lock = NSLock()
    private var failures: [Failure] = []
    private var requests: [Logged] = []

    public init() {}

    public func fail(_ failure: Failure) { lock.withLock { failures.append(failure) } }
    public var log: [Logged] { lock.withLock { requests } }

    /// Subclasses answer here.
    open func respond(_ request: HTTPRequest) -> HTTPResponse { HTTPResponse(status: 404) }

    public func handle(_ request: HTTPRequest) async -> EmulatorReply {
        let failure: Failure? = lock.withLock {
            guard
                let index = failures.firstIndex(where: { f in
                    (f.method == nil || f.method == request.method)
                        && (f.pathContains.map { request.url.path.contains($0) } ?? true)
                })
            else { return nil }
            let failure = failures[index]
            failures[index].times -= 1
            if failures[index].times <= 0 { failures.remove(at: index) }
            return failure
        }
        if let failure, failure.delayMs > 0 { try? await Task.sleep(nanoseconds: UInt64(failure.delayMs) * 1_000_000) }
        let response: HTTPResponse
        if let failure, failure.drop {
            return .drop
        } else if let failure, failure.delayMs == 0 || failure.status != 200 {
            response = HTTPResponse(
                status: failure.status,
                headers: ["Content-Type": "application/json"],
                body: Data(failure.body.utf8)
            )
        } else {
            response = respond(request)
        }
        var headers: [String: String] = [:]
        for header in request.headers { headers[header.name.lowercased()] = header.value }
        lock.withLock {
            requests.append(
                Logged(
                    method: request.method,
                    path: request.url.path,
                    query: request.url.query,
                    headers: headers,
                    body: request.body,
                    status: response.status
                )
            )
        }
        return .response(response)
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await EmulatorTransport(self).send(request)
    }

    static func json(
        _ status: Int,
        _ object: Any,
        contentType: String = "application/json",
        headers: [String: String] = [:]
    ) -> HTTPResponse {
        var all = ["Content-Type": contentType]
        for (key, value) in headers { all[key] = value }
        return HTTPResponse(
            status: status,
            headers: all,
            body: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        )
    }

    static func object(_ body: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    static func bearer(_ request: HTTPRequest) -> String? {
        guard let value = request.header("Authorization"), value.hasPrefix("Bearer ") else { return nil }
        return String(value.dropFirst(7))
    }
}
