import Foundation
import SCIMRotatorCore
import Transport

/// Tencent Cloud API 3.0 on the wire: `POST /` with a JSON body, the action in `X-TC-Action`, TC3-HMAC-SHA256, and
/// every reply (errors included) an HTTP 200 `{"Response":{...,"RequestId"}}` envelope.
struct TencentCICDialect: CloudDialect {
    let configuration: TencentCICConfiguration

    var provider: ProviderKind { .tencent }
    static let secretFields = ["CredentialSecret"]

    func request(
        action: String,
        parameters: [String: JSONParam],
        credentials: CloudCredentials,
        now: Date
    ) -> HTTPRequest {
        signedRequest(
            action: action,
            body: JSONParam.encodeObject(parameters),
            timestamp: Int64(now.timeIntervalSince1970),
            credentials: credentials
        )
    }

    func signedRequest(action: String, body: Data, timestamp: Int64, credentials: CloudCredentials) -> HTTPRequest {
        let endpoint = HTTPRequest.withoutDefaultPort(configuration.endpoint)
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)
        components?.path = "/"
        let url = components?.url ?? endpoint
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            ("Host", HTTPRequest.hostHeader(for: url)),
            ("X-TC-Action", action),
            ("X-TC-Timestamp", String(timestamp)),
            ("X-TC-Version", TencentCICConfiguration.version),
        ]
        if let region = configuration.region, CloudRegion.isValid(region) { headers.append(("X-TC-Region", region)) }
        if let language = configuration.language { headers.append(("X-TC-Language", language)) }
        if let token = credentials.token { headers.append(("X-TC-Token", token.reveal())) }
        let signature = TC3Signer.sign(
            secretId: credentials.accessKeyId,
            secretKey: credentials.secret,
            service: TencentCICConfiguration.service,
            timestamp: timestamp,
            headers: headers,
            body: body
        )
        headers.append(("Authorization", signature.authorization))
        return HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: configuration.timeout)
    }

    func decode<T: Decodable>(
        _ type: T.Type,
        action: String,
        response: HTTPResponse,
        body raw: () -> String
    ) throws -> (T, requestId: String?) {
        guard response.status == 200 else {
            throw ProviderError(
                .serverError,
                action: action,
                code: "HTTP\(response.status)",
                message: "the API answered HTTP \(response.status) instead of 200",
                httpStatus: response.status,
                body: raw()
            )
        }
        let contentType = response.header("content-type") ?? ""
        guard contentType.hasPrefix("application/json") || contentType.hasPrefix("text/plain") else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply Content-Type is \"\(contentType)\", not application/json",
                httpStatus: 200,
                body: raw()
            )
        }
        let decoder = JSONDecoder()
        let probe: CICErrorProbe
        do {
            probe = try decoder.decode(CICErrorProbe.self, from: response.body)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is not a {\"Response\":{...}} JSON object",
                httpStatus: 200,
                body: raw()
            )
        }
        if let error = probe.Response.Error {
            throw Self.mapError(
                code: error.Code,
                message: error.Message ?? "",
                action: action,
                requestId: probe.Response.RequestId
            )
        }
        guard let requestId = probe.Response.RequestId else {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply has no Response.RequestId",
                httpStatus: 200,
                body: raw()
            )
        }
        do {
            return (try decoder.decode(CICEnvelope<T>.self, from: response.body).Response, requestId)
        } catch {
            throw ProviderError(
                .unexpectedReply,
                action: action,
                message: "reply is missing fields: \(Self.describe(error))",
                requestId: requestId,
                httpStatus: 200,
                body: raw()
            )
        }
    }

    /// Maps a CIC error code to the kind the rotation reasons about (reference §3 and §1).
    static func mapError(code: String, message: String, action: String, requestId: String?) -> ProviderError {
        let kind: ProviderError.Kind
        switch code {
        case "LimitExceeded.ScimCredentialLimitExceeded": kind = .limitExceeded
        case "InvalidParameter.ScimCredentialNotFound": kind = .keyNotFound
        case "FailedOperation.ZoneIdNotExist": kind = .zoneNotFound
        case "FailedOperation.IdentityCenterNotOpen": kind = .identityCenterNotOpen
        case "AuthFailure.SignatureExpire": kind = .signatureExpired
        case _ where code.hasPrefix("RequestLimitExceeded"): kind = .throttled
        case _ where code.hasPrefix("AuthFailure") || code.hasPrefix("UnauthorizedOperation"): kind = .authFailure
        case "InternalError", "ServiceUnavailable", "FailedOperation.DBOperationError",
            "FailedOperation.ScimCredentialGenerateError":
            kind = .serverError
        case _
        where code.hasPrefix("InternalError") || code.hasPrefix("ResourceUnavailable")
            || code.hasPrefix("ResourceInUse") || code.hasPrefix("ResourceBusy"):
            kind = .serverError
        default: kind = .invalidRequest
        }
        return ProviderError(kind, action: action, code: code, message: message, requestId: requestId)
    }
}

/// A JSON request parameter. Bodies are encoded with sorted keys, so the same call is the same bytes.
public enum JSONParam: Sendable, Equatable {
    case string(String)
    case int(Int64)

    static func encodeObject(_ params: [String: JSONParam]) -> Data {
        let object = params.mapValues { value -> Any in
            switch value {
            case .string(let s): return s
            case .int(let i): return i
            }
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
