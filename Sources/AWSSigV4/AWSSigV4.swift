import Crypto
import Foundation
import SCIMRotatorCore
import Transport

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), exactly as botocore signs the awsJson1.1 services this tool writes
/// to (Secrets Manager, SSM Parameter Store): proven against vectors botocore produced (Tests/AWSSigV4Tests/Fixtures).
///
/// Signed: `host` (with `:port` only when it is not the scheme's default, as sent) and every header given, except
/// those botocore never signs (`user-agent`, hop-by-hop headers, tracing headers) and `content-length` (the
/// transport sets it). The payload hash is the hex SHA-256 of the exact body bytes; no `X-Amz-Content-SHA256` header
/// is sent (only S3 wants it).
public enum AWSSigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// Headers never signed: botocore's `SIGNED_HEADERS_BLACKLIST`, plus the ones a signature cannot cover
    /// (`authorization` itself, `content-length` which the transport writes).
    public static let unsignedHeaders: Set<String> = [
        "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
        "authorization", "content-length",
    ]

    /// Every intermediate of one signature (the vectors check each).
    public struct Signature: Sendable, Equatable {
        public var amzDate: String
        public var payloadHash: String
        public var canonicalRequest: String
        public var credentialScope: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signingKeyHex: String
        public var signature: String
        public var authorization: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - url: scheme, host, port, path and query of the request; `host` is derived from it unless `headers` has one.
    ///   - headers: the headers sent (any case); every one not in ``unsignedHeaders`` is signed, with
    ///     `X-Amz-Date` and (for temporary credentials) `X-Amz-Security-Token` among them.
    ///   - amzDate: `yyyyMMdd'T'HHmmss'Z'` in UTC, the value of `X-Amz-Date`.
    ///   - service: the signing name (`secretsmanager`, `ssm`).
    public static func sign(
        method: String,
        url: URL,
        headers: [(name: String, value: String)],
        body: Data,
        amzDate: String,
        region: String,
        service: String,
        credentials: CloudCredentials
    ) -> Signature {
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            values[name, default: []].append(header.value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        if values["host"] == nil { values["host"] = [HTTPRequest.hostHeader(for: url).lowercased()] }
        let names = values.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let payloadHash = hexSHA256(body)
        let canonicalRequest = [
            method.uppercased(), canonicalPath(url), canonicalQuery(url), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = [algorithm, amzDate, scope, hexSHA256(Data(canonicalRequest.utf8))].joined(separator: "\n")
        let key = signingKey(secret: credentials.secret, date: date, region: region, service: service)
        let signature = hmac(key: key, message: stringToSign).hexString
        return Signature(
            amzDate: amzDate,
            payloadHash: payloadHash,
            canonicalRequest: canonicalRequest,
            credentialScope: scope,
            stringToSign: stringToSign,
            signedHeaders: signedHeaders,
            signingKeyHex: key.hexString,
            signature: signature,
            authorization:
                "\(algorithm) Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        )
    }

    /// A signed awsJson1.1 call: `POST /` to `endpoint` with `X-Amz-Target: <target>`, the body as given, headers in
    /// botocore's order (`Host`, `X-Amz-Target`, `Content-Type`, `X-Amz-Date`, [`X-Amz-Security-Token`],
    /// `Authorization`).
    public static func jsonRequest(
        endpoint: URL,
        target: String,
        body: Data,
        region: String,
        service: String,
        credentials: CloudCredentials,
        date: Date,
        timeout: Double = 30
    ) -> HTTPRequest {
        var url = HTTPRequest.withoutDefaultPort(endpoint)
        if url.path.isEmpty, let root = URL(string: "/", relativeTo: url)?.absoluteURL { url = root }
        let amzDate = amzDate(date)
        var headers: [(name: String, value: String)] = [
            ("Host", HTTPRequest.hostHeader(for: url)),
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Date", amzDate),
        ]
        if let token = credentials.token { headers.append(("X-Amz-Security-Token", token.reveal())) }
        let signature = sign(
            method: "POST",
            url: url,
            headers: headers,
            body: body,
            amzDate: amzDate,
            region: region,
            service: service,
            credentials: credentials
        )
        headers.append(("Authorization", signature.authorization))
        return HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: timeout)
    }

    /// `yyyyMMdd'T'HHmmss'Z'`, UTC.
    public static func amzDate(_ date: Date) -> String {
        let seconds = Int64((date.timeIntervalSince1970).rounded(.down))
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let inDay = Int(seconds - Int64(days) * 86_400)
        let civil = CivilDate.string(fromDays: days).replacingOccurrences(of: "-", with: "")
        let time = String(format: "%02d%02d%02d", inDay / 3600, inDay / 60 % 60, inDay % 60)
        return "\(civil)T\(time)Z"
    }

    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func signingKey(secret: Secret, date: String, region: String, service: String) -> Data {
        let kDate = hmac(key: Data(("AWS4" + secret.reveal()).utf8), message: date)
        let kRegion = hmac(key: kDate, message: region)
        let kService = hmac(key: kRegion, message: service)
        return hmac(key: kService, message: "aws4_request")
    }

    static func hmac(key: Data, message: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
    }

    public static func hexSHA256(_ data: Data) -> String {
        SHA256.hash(data: data).hexString
    }

    public static func sha256(_ data: Data) -> Data {
        Data(SHA256.hash(data: data))
    }

    /// The URL's path, each segment percent-encoded (unreserved characters kept), `/` when empty.
    static func canonicalPath(_ url: URL) -> String {
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.path ?? url.path
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }
            .joined(separator: "/")
    }

    /// Query parameters sorted by name then value, each name and value URI-encoded.
    static func canonicalQuery(_ url: URL) -> String {
        guard let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems else { return "" }
        let pairs: [(name: String, value: String)] = items.map { item in
            (name: uriEncode(item.name), value: uriEncode(item.value ?? ""))
        }
        let sorted = pairs.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - _ . ~`, upper-case hex.
    static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.append(Character(UnicodeScalar(byte)))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static let unreserved: Set<UInt8> = Set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8
    )
}
