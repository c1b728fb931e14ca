import Foundation
import SCIMRotatorCore
import Transport

/// Sets the provisioning token of an Okta app that accepts one over the API (Org2Org `okta_org2org` and Zscaler
/// `zscalerbyz`): `POST /api/v1/apps/{appId}/connections/default?activate=TRUE` with `Authorization: SSWS <token>`.
/// Other Okta apps (a custom SCIM app) cannot be re-keyed by API: use the `manual` sink for them.
public struct OktaSink: DeliverySink {
    public let orgURL: URL
    public let appId: String
    let apiToken: Secret
    public let scimURL: URL?
    let transport: any HTTPTransport
    let timeout: Double

    public init(
        orgURL: URL,
        appId: String,
        apiToken: Secret,
        scimURL: URL? = nil,
        transport: any HTTPTransport,
        timeout: Double = 30
    ) {
        self.orgURL = orgURL
        self.appId = appId
        self.apiToken = apiToken
        self.scimURL = scimURL
        self.transport = transport
        self.timeout = timeout
    }

    public var summary: String { SinkLabel.okta(appId: appId) }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        let client = SinkHTTP(transport: transport, sink: summary, timeout: timeout, secrets: [secret, apiToken])
        let url = SinkHTTP.url(
            orgURL,
            ["api", "v1", "apps", appId, "connections", "default"],
            query: [URLQueryItem(name: "activate", value: "TRUE")]
        )
        let reply = try await client.send(
            "POST",
            url,
            headers: [("Authorization", "SSWS \(apiToken.reveal())")],
            json: [
                "baseUrl": (scimURL ?? context.scimURL).absoluteString,
                "profile": ["authScheme": "TOKEN", "token": secret.reveal()],
            ]
        )
        guard reply.status == 200 else {
            let code = reply.object["errorCode"] as? String
            let hint: String? =
                switch (reply.status, code) {
                case (401, _): "the API token was refused (apiTokenEnv)"
                case (403, _): "the API token's admin may not manage app \(appId)"
                case (404, _): "no app \(appId) in \(orgURL.host ?? "the org")"
                case (400, _):
                    "this app may not accept a token over the API (only Org2Org and Zscaler do); use a manual sink"
                case (429, _): "rate limited; retried on the next attempt"
                default: nil
                }
            throw client.failure("set the provisioning connection", reply, hint: hint)
        }
        let status = reply.object["status"] as? String
        guard status == nil || status == "ENABLED" else {
            throw DeliveryError(
                sink: summary,
                message: "the connection is \(status ?? "?") after the update, not ENABLED"
            )
        }
        return DeliveryReceipt(detail: ["status": status ?? "ENABLED"])
    }
}
