import Foundation
import Transport

enum HTTPRequestBuilder {
    static func post(_ url: String, _ body: Any) -> HTTPRequest {
        HTTPRequest(
            method: "POST",
            url: URL(string: url)!,
            headers: [("Content-Type", "application/json")],
            body: (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        )
    }
}
