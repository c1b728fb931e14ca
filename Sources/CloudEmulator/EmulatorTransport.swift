import Foundation
import Transport

/// Anything that answers HTTP requests like the emulator does: the emulator itself, and the fake services tests
/// use (Vault, Entra ID, Kubernetes, Okta, webhooks), so that each can be served over a real socket.
public protocol LocalHTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> EmulatorReply
}

extension Emulator: LocalHTTPHandler {}

/// An ``HTTPTransport`` that hands requests straight to an in-process ``Emulator``: the client's real request path
/// (signing, headers, bodies, error handling) without sockets, so tests run in milliseconds.
///
/// It honours the request timeout (a delayed fault longer than the timeout is a timeout) and turns a dropped
/// connection into a `TransportError`.
public struct EmulatorTransport: HTTPTransport {
    public let emulator: any LocalHTTPHandler

    public init(_ emulator: any LocalHTTPHandler) {
        self.emulator = emulator
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        if request.header("Host") == nil {
            request.headers.append(("Host", HTTPRequest.hostHeader(for: request.url)))
        }
        let emulator = self.emulator
        let reply = try await withThrowingTaskGroup(of: EmulatorReply?.self) { group in
            group.addTask { [request] in await emulator.handle(request) }
            group.addTask { [timeout = request.timeout] in
                try await Task.sleep(nanoseconds: UInt64(timeout * 1_000_000_000))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        switch reply {
        case .response(let response)?: return response
        case .drop?: throw TransportError(.connection, "the emulator dropped the connection")
        case nil: throw TransportError(.timeout, "no reply within \(request.timeout)s")
        }
    }
}

extension Emulator {
    /// Calls the emulator's admin API in process, as tests do: `admin("POST", "faults", ["action": ...])`. Returns
    /// the reply's JSON object (empty when it is not one).
    @discardableResult
    public func admin(_ method: String, _ path: String, _ body: Any = [String: Any]()) async throws -> [String: Any] {
        let request = HTTPRequest(
            method: method,
            url: URL(string: "http://127.0.0.1:9/_emulator/\(path)")!,
            headers: [("Content-Type", "application/json")],
            body: try JSONSerialization.data(withJSONObject: body)
        )
        let response = try await EmulatorTransport(self).send(request)
        return (try JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }
}
