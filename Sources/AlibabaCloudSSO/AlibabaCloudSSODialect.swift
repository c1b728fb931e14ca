import Foundation
import SCIMRotatorCore
import Transport

/// Alibaba Cloud's RPC-style API on the wire: `POST /` with the parameters in the query and an empty body, the
/// action in `x-acs-action`, ACS3-HMAC-SHA256 with a fresh `x-acs-date` and nonce, and errors as 4xx/5xx
/// `{"RequestId","Code","Message"}` (with `x-acs-retry-after` when throttled).
struct AlibabaCloudSSODialect: CloudDialect {
    let configuration: AlibabaCloudSSOConfiguration

    var provider: ProviderKind { .alibaba }
    static let secretFields = ["CredentialSecret"]

    /// Called once per attempt, so every attempt has its own nonce (the cloud refuses a nonce it has seen).
    func request(
        action: String,
        parameters: [String: String],
        credentials: CloudCredentials,
        now: Date
    ) -> HTTPRequest {
        signedRequest(action: action, parameters: parameters, date: now, nonce: Self.nonce(), credentials: credentials)
    }

    /// 32 random hex digits, unique per request (replay protection).
    static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }

    func signedRequest(
        action: String,
        parameters: [String: String],
        date: Date,
        nonce: String,
        credentials: CloudCredentials
    ) -> HTTPRequest {
        let endpoint = HTTPRequest.withoutDefaultPort(configuration.endpoint)
        var headers: [(name: String, value: String)] = [
            ("host", HTTPRequest.hostHeader(for: endpoint)),
            ("x-acs-action", action),
            ("x-acs-version", AlibabaCloudSSOConfiguration.version),
            ("x-acs-date", date.formatted(Date.ISO8601FormatStyle())),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", ACSSigner.emptyPayloadHash),
        ]
        if let token = credentials.token {
            headers.append(("x-acs-accesskey-id", credentials.accessKeyId))
            headers.append(("x-acs-security-token", token.reveal()))
        }
        let signature = ACSSigner.signV3(
            accessKeyId: credentials.accessKeyId,
            secret: credentials.secret,
            query: parameters,
            headers: headers
        )
        headers.append(("Authorization", signature.authorization))
        headers.append(("accept", "application/json"))
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/"
        components?.percentEncodedQuery = parameters.isEmpty ? nil : ACSSigner.canonicalQuery(parameters)
        return HTTPRequest(
            method: "POST",
            url: components?.url ?? endpoint,
            headers: headers,
            body: Data(),
            timeout: configuration.timeout
        )
    }

    /// The reply, which carries its own `RequestId` field: the request id returned here is nil.
    func decode<T: Decodable>(
        _ type: T.Type,
        action: String,
        response: HTTPResponse,
        body raw: () -> String
    ) throws -> (T, requestId: String?) {
        let decoder = JSONDecoder()
        guard (200..<300).contains(response.status) else {
            let reply = try? decoder.decode(SSOErrorReply.self, from: response.body)
            guard let code = reply?.Code else {
                throw ProviderError(
                    response.status >= 500 ? .serverError : .unexpectedReply,
                    action: action,
                    code: "HTTP\(response.status)",
                    message: "HTTP \(response.status) without an error code",
                    httpStatus: response.status,
                    body: raw()
                )
            }
            var error = Self.mapError(
                code: code,
                message: reply?.Message ?? "",
                action: action,
                requestId: reply?.RequestId,
                status: response.status
            )
            if let text = response.header("x-acs-retry-after"), let milliseconds = Double(text), milliseconds > 0 {
                error.retryAfter = milliseconds / 1_000
            }
            throw error
        }
        do {
            return (try decoder.decode(T.self, from: response.body), nil)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is not the expected JSON",
                httpStatus: response.status,
                body: raw()
            )
        }
    }

    /// Maps a CloudSSO / POP gateway error code to the kind the rotation reasons about (reference §2, §3).
    static func mapError(
        code: String,
        message: String,
        action: String,
        requestId: String?,
        status: Int
    )
        -> ProviderError
    {
        let kind: ProviderError.Kind
        switch code {
        case "EntityNotExists.SCIMCredential": kind = .keyNotFound
        case "EntityNotExists.Directory": kind = .zoneNotFound
        case "InvalidTimeStamp.Expired": kind = .signatureExpired
        case _ where code.hasPrefix("Throttling") || code == "Rejected.Throttling": kind = .throttled
        case _ where action == "CreateSCIMServerCredential" && ProviderError.namesExceededLimit(code):
            kind = .limitExceeded
        case "SignatureDoesNotMatch", "IncompleteSignature", "SignatureNonceUsed", "NoPermission", "InvalidAccessKeyId":
            kind = .authFailure
        case _
        where code.hasPrefix("InvalidAccessKeyId") || code.hasPrefix("Forbidden")
            || code.hasPrefix("InvalidSecurityToken"):
            kind = .authFailure
        case "InternalError", "ServiceUnavailable": kind = .serverError
        case _ where status >= 500: kind = .serverError
        default: kind = .invalidRequest
        }
        return ProviderError(
            kind,
            action: action,
            code: code,
            message: message,
            requestId: requestId,
            httpStatus: status
        )
    }
}
