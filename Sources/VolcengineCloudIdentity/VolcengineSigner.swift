import Crypto
import Foundation
import SCIMRotatorCore

/// Volcano Engine's `HMAC-SHA256` request signature (volcenginesdkcore/signv4.py), a SigV4 relative: `X-Date`,
/// `X-Content-Sha256`, scope `date/region/service/request`, key chain date → region → service → "request".
///
/// The same code signs the client's requests and verifies requests in the emulator, where the signed header names
/// come from the received `Authorization` header and their values are taken as received (never trimmed: the SDK
/// signs `x-sdk-request:attempt=1; max=4` with its inner space).
public enum VolcengineSigner {
    public static let algorithm = "HMAC-SHA256"

    public struct Signature: Sendable, Equatable {
        public var credentialScope: String
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        public var authorization: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - xDate: the `X-Date` header's value, `yyyyMMdd'T'HHmmss'Z'`; its first 8 characters date the scope.
    ///   - query: the query parameters (decoded); a repeated name keeps its last value, as the SDK's `dict(query)`.
    ///   - headers: the headers sent; those named in `signedHeaders` are signed.
    ///   - signedHeaders: header names to sign (any case); nil: the SDK's rule, ``signedHeaderNames(_:)``.
    public static func sign(
        accessKeyId: String,
        secret: Secret,
        region: String,
        service: String,
        xDate: String,
        method: String = "POST",
        path: String = "/",
        query: [(String, String)],
        headers: [(name: String, value: String)],
        signedHeaders: [String]? = nil,
        body: Data
    ) -> Signature {
        let names = Array(Set((signedHeaders ?? signedHeaderNames(headers)).map { $0.lowercased() })).sorted()
        let signedHeaderList = names.joined(separator: ";")
        let canonicalHeaders = names.map { name -> String in
            var value = headers.first { $0.name.lowercased() == name }?.value ?? ""
            if name == "host" { value = withoutDefaultPort(value) }
            return "\(name):\(value)\n"
        }.joined()
        let canonicalRequest = [
            method.uppercased(), path.isEmpty ? "/" : path, canonicalQuery(query), canonicalHeaders, signedHeaderList,
            hexSHA256(body),
        ].joined(separator: "\n")
        let date = String(xDate.prefix(8))
        let scope = [date, region, service, "request"].joined(separator: "/")
        let stringToSign = [algorithm, xDate, scope, hexSHA256(Data(canonicalRequest.utf8))].joined(separator: "\n")
        let signature = hmac(
            key: signingKey(secret: secret, date: date, region: region, service: service),
            message: stringToSign
        ).hexString
        return Signature(
            credentialScope: scope,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            signedHeaders: signedHeaderList,
            authorization:
                "\(algorithm) Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaderList), Signature=\(signature)"
        )
    }

    /// The SDK's rule: a header is signed when its name is exactly `Content-Type`, `Content-Md5` or `Host`, or starts
    /// with `X-` (signv4.py:35-37).
    public static func signedHeaderNames(_ headers: [(name: String, value: String)]) -> [String] {
        headers.map(\.name).filter { ["Content-Type", "Content-Md5", "Host"].contains($0) || $0.hasPrefix("X-") }
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC(secret, date), region), service), "request"); the secret is used raw.
    static func signingKey(secret: Secret, date: String, region: String, service: String) -> Data {
        [date, region, service, "request"].reduce(Data(secret.reveal().utf8)) { hmac(key: $0, message: $1) }
    }

    static func hmac(key: Data, message: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
    }

    public static func hexSHA256(_ data: Data) -> String { SHA256.hash(data: data).hexString }

    /// `host:80` / `host:443` are signed as `host` (signv4.py:40-46).
    static func withoutDefaultPort(_ host: String) -> String {
        for port in [":80", ":443"] where host.hasSuffix(port) { return String(host.dropLast(port.count)) }
        return host
    }

    /// Keys and values RFC 3986-encoded (`quote(x, safe='-_.~')`), sorted, joined with `=` and `&`.
    public static func canonicalQuery(_ pairs: [(String, String)]) -> String {
        var last: [String: String] = [:]
        for (key, value) in pairs { last[key] = value }
        return last.map { (percentEncode($0.key), percentEncode($0.value)) }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    )

    public static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// A query string as the SDK sends it (`urlencode`: `+` is a space), decoded in order.
    public static func formDecode(_ query: String) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// `X-Date` for `date`: UTC, `%Y%m%dT%H%M%SZ`.
    public static func xDate(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let time = seconds - days * 86_400
        let day = CivilDate.string(fromDays: days).replacingOccurrences(of: "-", with: "")
        return day + "T" + String(format: "%02d%02d%02dZ", time / 3_600, time / 60 % 60, time % 60)
    }

    /// The time an `X-Date` names; nil when it is not `yyyyMMdd'T'HHmmss'Z'`.
    public static func date(xDate: String) -> Date? {
        guard xDate.count == 16, xDate.range(of: #"^[0-9]{8}T[0-9]{6}Z$"#, options: .regularExpression) != nil else {
            return nil
        }
        let d = Array(xDate)
        let iso =
            "\(String(d[0..<4]))-\(String(d[4..<6]))-\(String(d[6..<8]))T\(String(d[9..<11])):"
            + "\(String(d[11..<13])):\(String(d[13..<15]))Z"
        return try? Date(iso, strategy: Date.ISO8601FormatStyle())
    }

    /// The parts of `HMAC-SHA256 Credential=AK/date/region/service/request, SignedHeaders=..., Signature=...`.
    public struct Authorization: Sendable, Equatable {
        public var accessKeyId: String
        public var date: String
        public var region: String
        public var service: String
        public var signedHeaders: [String]
        public var signature: String
    }

    /// Parses an Authorization header; nil when it is not a well-formed one. The region may be empty (the SDK signs
    /// with an empty region when none is configured).
    public static func parseAuthorization(_ header: String) -> Authorization? {
        let prefix = algorithm + " "
        guard header.hasPrefix(prefix) else { return nil }
        var fields: [String: String] = [:]
        for part in header.dropFirst(prefix.count).split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let eq = trimmed.firstIndex(of: "=") else { return nil }
            fields[String(trimmed[..<eq])] = String(trimmed[trimmed.index(after: eq)...])
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"],
            let signature = fields["Signature"]
        else { return nil }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "request", !scope[0].isEmpty, scope[1].count == 8 else { return nil }
        return Authorization(
            accessKeyId: scope[0],
            date: scope[1],
            region: scope[2],
            service: scope[3],
            signedHeaders: signed.split(separator: ";").map { String($0) },
            signature: signature
        )
    }

    /// A JSON object body as the SDK writes it (`json.dumps`: `", "` and `": "` separators, non-ASCII as `\uXXXX`),
    /// so that the bytes signed are the bytes an SDK would send.
    public static func jsonBody(_ fields: [(String, String)]) -> Data {
        func quoted(_ text: String) -> String {
            var out = "\""
            for unit in text.utf16 {
                switch unit {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
                default: out += String(format: "\\u%04x", unit)
                }
            }
            return out + "\""
        }
        return Data(("{" + fields.map { "\(quoted($0.0)): \(quoted($0.1))" }.joined(separator: ", ") + "}").utf8)
    }
}
