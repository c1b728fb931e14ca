import Foundation
import SCIMRotatorCore
import Transport

/// Hands the key to Microsoft Entra ID's provisioning for an enterprise application: a client-credentials token from
/// the tenant, then `PUT /servicePrincipals/{id}/synchronization/secrets` with the full secret set (BaseAddress and
/// SecretToken replaced, every other entry kept as read), then `validateCredentials` on the provisioning job.
public struct EntraSink: DeliverySink {
    public static let loginEndpoint = URL(string: "https://login.microsoftonline.com")!
    public static let graphEndpoint = URL(string: "https://graph.microsoft.com")!

    public let tenantId: String
    public let servicePrincipalId: String
    public let clientId: String
    let clientSecret: Secret
    /// The BaseAddress Entra pushes to; nil = the provider's SCIM URL.
    public let scimURL: URL?
    public let loginEndpoint: URL
    public let graphEndpoint: URL
    let transport: any HTTPTransport
    let timeout: Double

    public init(
        tenantId: String,
        servicePrincipalId: String,
        clientId: String,
        clientSecret: Secret,
        scimURL: URL? = nil,
        loginEndpoint: URL = EntraSink.loginEndpoint,
        graphEndpoint: URL = EntraSink.graphEndpoint,
        transport: any HTTPTransport,
        timeout: Double = 30
    ) {
        self.tenantId = tenantId
        self.servicePrincipalId = servicePrincipalId
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.scimURL = scimURL
        self.loginEndpoint = loginEndpoint
        self.graphEndpoint = graphEndpoint
        self.transport = transport
        self.timeout = timeout
    }

    public var summary: String { SinkLabel.entra(servicePrincipal: servicePrincipalId) }

    func synchronization(_ segments: String...) -> URL {
        SinkHTTP.url(graphEndpoint, ["v1.0", "servicePrincipals", servicePrincipalId, "synchronization"] + segments)
    }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        var client = SinkHTTP(transport: transport, sink: summary, timeout: timeout, secrets: [secret, clientSecret])
        let tokenReply = try await client.send(
            "POST",
            SinkHTTP.url(loginEndpoint, [tenantId, "oauth2", "v2.0", "token"]),
            form: [
                "client_id": clientId, "client_secret": clientSecret.reveal(), "grant_type": "client_credentials",
                "scope": "https://graph.microsoft.com/.default",
            ]
        )
        guard tokenReply.status == 200, let accessToken = tokenReply.object["access_token"] as? String else {
            throw client.failure(
                "token for client \(clientId)",
                tokenReply,
                hint: "check tenantId, clientId and the client secret"
            )
        }
        let bearer = Secret(accessToken)
        client = SinkHTTP(
            transport: transport,
            sink: summary,
            timeout: timeout,
            secrets: [secret, clientSecret, bearer]
        )
        let auth: [(name: String, value: String)] = [("Authorization", "Bearer \(bearer.reveal())")]

        let current = try await client.send("GET", synchronization("secrets"), headers: auth)
        guard current.status == 200 else {
            throw client.failure(
                "read synchronization secrets",
                current,
                hint: SinkHTTP.permissionHint(current.status, "Synchronization.ReadWrite.All to the app")
            )
        }
        let kept = (current.object["value"] as? [[String: Any]] ?? []).filter {
            let key = $0["key"] as? String
            return key != "BaseAddress" && key != "SecretToken"
        }
        let baseAddress = (scimURL ?? context.scimURL).absoluteString
        let body: [String: Any] = [
            "value": kept + [
                ["key": "BaseAddress", "value": baseAddress], ["key": "SecretToken", "value": secret.reveal()],
            ]
        ]
        let put = try await client.send("PUT", synchronization("secrets"), headers: auth, json: body)
        guard put.status == 204 || put.status == 200 else {
            throw client.failure(
                "write synchronization secrets",
                put,
                hint: SinkHTTP.permissionHint(put.status, "Synchronization.ReadWrite.All to the app")
            )
        }
        let jobs = try await client.send("GET", synchronization("jobs"), headers: auth)
        guard jobs.status == 200 else { throw client.failure("list synchronization jobs", jobs) }
        guard let job = (jobs.object["value"] as? [[String: Any]])?.first?["id"] as? String else {
            return DeliveryReceipt(detail: ["validated": "no provisioning job to validate with"])
        }
        let validate = try await client.send(
            "POST",
            synchronization("jobs", job, "validateCredentials"),
            headers: auth,
            json: ["useSavedCredentials": true]
        )
        guard validate.status == 204 || validate.status == 200 else {
            throw client.failure(
                "validateCredentials on job \(job)",
                validate,
                hint: "Entra could not reach \(baseAddress) with the new key"
            )
        }
        return DeliveryReceipt(detail: ["job": job, "validated": "true", "kept": String(kept.count)])
    }
}
