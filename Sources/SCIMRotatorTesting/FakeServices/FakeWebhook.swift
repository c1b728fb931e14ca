import Foundation
import Transport

/// A webhook receiver that records what it is sent (Slack-compatible: any 2xx is success).
public final class FakeWebhook: FakeService, @unchecked Sendable {
    public override init() { super.init() }

    /// The JSON bodies received, in order.
    public var payloads: [[String: Any]] { log.filter { $0.status < 300 }.compactMap { Self.object($0.body) } }

    public override func respond(_ request: HTTPRequest) -> HTTPResponse {
        request.method == "POST"
            ? HTTPResponse(status: 200, headers: ["Content-Type": "text/plain"], body: Data("ok".utf8))
            : HTTPResponse(status: 405)
    }
}
