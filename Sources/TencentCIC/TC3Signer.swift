import Crypto
import Foundation
import SCIMRotatorCore

/// TC3-HMAC-SHA256, Tencent Cloud API signature v3 (reference §4.2).
///
/// The same code signs the client's requests and verifies requests in the emulator, where the signed header names
/// come from the received `Authorization` header and their values are taken as received.
public enum TC3Signer {
    public static let algorithm = "TC3-HMAC-SHA256"

    public struct Signature: Sendable, Equatable {
        public var date: String
        public var credentialScope: String
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        public var authorization: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - headers: the headers sent, any case; only those named in `signedHeaders` are signed.
    ///   - signedHeaders: lower-case header names to sign; must include `content-type` and `host`.
    ///   - query: the canonical query string (`""` for POST).
    public static func sign(
        secretId: String,
        secretKey: Secret,
        service: String,
        timestamp: Int64,
        method: String = "POST",
        path: String = "/",
        query: String = "",
        headers: [(name: String, value: String)],
        signedHeaders: [String] = ["content-type", "host"],
        body: Data
    ) -> Signature {
        let names = signedHeaders.map { $0.lowercased() }.sorted()
        let signedHeaderList = names.joined(separator: ";")
        let canonicalHeaders = names.map { name -> String in
            let value = headers.first { $0.name.lowercased() == name }?.value ?? ""
            return "\(name):\(value.trimmingCharacters(in: .whitespaces).lowercased())\n"
        }.joined()
        let canonicalRequest = [
            method.uppercased(), path, query, canonicalHeaders, signedHeaderList, hexSHA256(body),
        ].joined(separator: "\n")
        let date = utcDate(timestamp)
        let scope = "\(date)/\(service)/tc3_request"
        let stringToSign = [algorithm, String(timestamp), scope, hexSHA256(Data(canonicalRequest.utf8))]
            .joined(separator: "\n")
        let signingKey = derivedKey(secretKey: secretKey, date: date, service: service)
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey))
            .hexString
        let authorization =
            "\(algorithm) Credential=\(secretId)/\(scope), SignedHeaders=\(signedHeaderList), Signature=\(signature)"
        return Signature(
            date: date,
            credentialScope: scope,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            signedHeaders: signedHeaderList,
            authorization: authorization
        )
    }

    /// SecretSigning = HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request").
    public static func derivedKey(secretKey: Secret, date: String, service: String) -> SymmetricKey {
        let kDate = hmac(key: Data(("TC3" + secretKey.reveal()).utf8), message: date)
        let kService = hmac(key: kDate, message: service)
        return SymmetricKey(data: hmac(key: kService, message: "tc3_request"))
    }

    static func hmac(key: Data, message: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
    }

    public static func hexSHA256(_ data: Data) -> String {
        SHA256.hash(data: data).hexString
    }

    /// `YYYY-MM-DD` of a Unix timestamp in UTC (never local time, reference §4.2).
    public static func utcDate(_ timestamp: Int64) -> String {
        CivilDate.string(fromDays: Int((Double(timestamp) / 86_400).rounded(.down)))
    }

    /// The parts of a `TC3-HMAC-SHA256 Credential=.../date/service/tc3_request, SignedHeaders=..., Signature=...` header.
    public struct Authorization: Sendable, Equatable {
        public var secretId: String
        public var date: String
        public var service: String
        public var signedHeaders: [String]
        public var signature: String
    }

    /// Parses an Authorization header; nil when it is not a well-formed TC3 header.
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
        guard scope.count == 4, scope[3] == "tc3_request", !scope[0].isEmpty else { return nil }
        return Authorization(
            secretId: scope[0],
            date: scope[1],
            service: scope[2],
            signedHeaders: signed.split(separator: ";").map { String($0) },
            signature: signature
        )
    }
}
