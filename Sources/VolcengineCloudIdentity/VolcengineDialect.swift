import Foundation
import SCIMRotatorCore
import Transport

/// Volcano Engine's OpenAPI on the wire: `POST /?Action=..&Version=2023-01-01` with a JSON body, `HMAC-SHA256` with a
/// fresh `X-Date` and `X-Content-Sha256`, and every reply a `{"ResponseMetadata": {..., "Error"?}, "Result"?}`
/// envelope, errors with HTTP 4xx/5xx (or, rarely, 200 with `Error`).
struct VolcengineDialect: CloudDialect {
    let configuration: VolcengineConfiguration

    var provider: ProviderKind { .volcengine }
    static let secretFields = ["CredentialSecret"]

    /// An action's body fields, in the order the SDK's model lists them.
    typealias Parameters = [(String, String)]

    func request(action: String, parameters: Parameters, credentials: CloudCredentials, now: Date) -> HTTPRequest {
        signedRequest(
            action: action,
            parameters: parameters,
            xDate: VolcengineSigner.xDate(now),
            credentials: credentials
        )
    }

    func signedRequest(
        action: String,
        parameters: Parameters,
        xDate: String,
        credentials: CloudCredentials
    ) -> HTTPRequest {
        let endpoint = HTTPRequest.withoutDefaultPort(configuration.endpoint)
        let query = [("Action", action), ("Version", VolcengineConfiguration.version)]
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/"
        components?.percentEncodedQuery = query.map {
            "\(VolcengineSigner.percentEncode($0.0))=\(VolcengineSigner.percentEncode($0.1))"
        }.joined(separator: "&")
        let url = components?.url ?? endpoint
        let body = VolcengineSigner.jsonBody(parameters)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("Host", HTTPRequest.hostHeader(for: url)),
            ("X-Date", xDate),
            ("X-Content-Sha256", VolcengineSigner.hexSHA256(body)),
        ]
        if let token = credentials.token { headers.append(("X-Security-Token", token.reveal())) }
        let signature = VolcengineSigner.sign(
            accessKeyId: credentials.accessKeyId,
            secret: credentials.secret,
            region: configuration.region,
            service: VolcengineConfiguration.service,
            xDate: xDate,
            query: query,
            headers: headers,
            body: body
        )
        headers.append(("Authorization", signature.authorization))
        headers.append(("Accept", "application/json"))
        return HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: configuration.timeout)
    }

    func decode<T: Decodable>(
        _ type: T.Type,
        action: String,
        response: HTTPResponse,
        body raw: () -> String
    ) throws -> (T, requestId: String?) {
        let decoder = JSONDecoder()
        let success = (200..<300).contains(response.status)
        guard let probe = try? decoder.decode(VolcMetadataProbe.self, from: response.body) else {
            throw ProviderError(
                success ? .unexpectedReply : Self.kind(status: response.status),
                action: action,
                code: success ? nil : "HTTP\(response.status)",
                message: success
                    ? "reply is not a {\"ResponseMetadata\": ..., \"Result\": ...} JSON object"
                    : "HTTP \(response.status) without an error envelope",
                httpStatus: response.status,
                body: raw()
            )
        }
        let metadata = probe.ResponseMetadata
        if let error = metadata.Error {
            throw Self.mapError(
                code: error.Code,
                message: error.Message ?? "",
                action: action,
                requestId: metadata.RequestId,
                status: response.status
            )
        }
        guard success else {
            throw ProviderError(
                Self.kind(status: response.status),
                action: action,
                code: "HTTP\(response.status)",
                message: "HTTP \(response.status) without ResponseMetadata.Error",
                requestId: metadata.RequestId,
                httpStatus: response.status,
                body: raw()
            )
        }
        do {
            let envelope = try decoder.decode(VolcEnvelope<T>.self, from: response.body)
            if let result = envelope.Result { return (result, metadata.RequestId) }
            // Only Delete, whose Result is empty, may leave it out.
            guard T.self == VolcEmptyResult.self else {
                throw DecodingError.keyNotFound(
                    VolcResultKey.Result,
                    .init(codingPath: [], debugDescription: "no Result")
                )
            }
            return (try decoder.decode(T.self, from: Data("{}".utf8)), metadata.RequestId)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is missing fields: \(Self.describe(error))",
                requestId: metadata.RequestId,
                httpStatus: response.status,
                body: raw()
            )
        }
    }

    /// A bare HTTP status: throttled (429), the server's (5xx), or a reply that cannot be read.
    static func kind(status: Int) -> ProviderError.Kind {
        status == 429 ? .throttled : status >= 500 ? .serverError : .unexpectedReply
    }

    /// Maps a CloudIdentity or gateway error code to the kind the rotation reasons about (volcengine.md §8).
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
        case "SCIMTokenDeletionConflict": kind = .lastKeyProtected
        case "InvalidTimestamp": kind = .signatureExpired
        case "OperateTooFrequentlyException", "ConcurrentException": kind = .throttled
        case _ where code.contains("Throttl") || code.contains("FlowLimit") || code.hasPrefix("RequestLimitExceeded"):
            kind = .throttled
        case "ServiceStatusException": kind = .identityCenterNotOpen
        case "ServiceNotFound", "InvalidActionOrVersion": kind = .invalidRequest
        case "InvalidAccessKey", "SignatureDoesNotMatch", "MissingSignature", "MissingAuthenticationToken",
            "InvalidSecretToken", "InvalidCredential", "InvalidAuthorization", "AccessDenied", "LackPolicy",
            "PermissionDenied", "PermissionError":
            kind = .authFailure
        case _ where action == "CreateSCIMServerCredential" && ProviderError.namesExceededLimit(code):
            kind = .limitExceeded
        case _
        where action == "DeleteSCIMServerCredential" && !code.hasPrefix("IdentitySource")
            && (code.contains("NotExist") || code.contains("NotFound")):
            kind = .keyNotFound
        case "InternalError", "ServiceUnavailable": kind = .serverError
        case _ where status >= 500 || status == 429: kind = status == 429 ? .throttled : .serverError
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
