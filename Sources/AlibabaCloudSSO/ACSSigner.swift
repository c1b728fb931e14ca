import Crypto
import Foundation
import SCIMRotatorCore

/// Alibaba Cloud API signatures (reference §4): V3 `ACS3-HMAC-SHA256` (the official SDK's default) and the older RPC
/// signature 1.0 (HMAC-SHA1), which the emulator accepts from clients configured with `signature_algorithm='v2'`.
public enum ACSSigner {
    public static let algorithm = "ACS3-HMAC-SHA256"
    /// SHA-256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// RFC 3986 percent-encoding as the reference §4b requires: unreserved characters (A–Z a–z 0–9 - _ . ~) kept,
    /// everything else as %XX of its UTF-8 bytes (space → %20, * → %2A, / → %2F).
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// `name=value` pairs sorted by name, each RFC 3986-encoded, joined with `&`.
    public static func canonicalQuery(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { "\(percentEncode($0.key))=\(percentEncode($0.value))" }
            .joined(separator: "&")
    }

    public struct V3Signature: Sendable, Equatable {
        public var canonicalRequest: String
        public var hashedCanonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signature: String
        public var authorization: String
    }

    /// Signs with ACS3-HMAC-SHA256. `headers` are the headers sent (any case); those named in `signedHeaders` (all of
    /// them when nil) are signed, values trimmed.
    public static func signV3(
        accessKeyId: String,
        secret: Secret,
        method: String = "POST",
        path: String = "/",
        query: [String: String],
        headers: [(name: String, value: String)],
        signedHeaders: [String]? = nil,
        body: Data = Data()
    ) -> V3Signature {
        let lowered = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        let names = (signedHeaders ?? lowered.map(\.name).filter { $0 != "authorization" }).map { $0.lowercased() }
            .sorted()
        let canonicalHeaders = names.map { name in
            "\(name):\((lowered.first { $0.name == name }?.value ?? "").trimmingCharacters(in: .whitespaces))\n"
        }.joined()
        let signedList = names.joined(separator: ";")
        let payloadHash = SHA256.hash(data: body).hexString
        let canonicalRequest = [
            method.uppercased(), path, canonicalQuery(query), canonicalHeaders, signedList, payloadHash,
        ].joined(separator: "\n")
        let hashed = SHA256.hash(data: Data(canonicalRequest.utf8)).hexString
        let stringToSign = "\(algorithm)\n\(hashed)"
        let signature = Data(
            HMAC<SHA256>.authenticationCode(
                for: Data(stringToSign.utf8),
                using: SymmetricKey(data: Data(secret.reveal().utf8))
            )
        ).hexString
        return V3Signature(
            canonicalRequest: canonicalRequest,
            hashedCanonicalRequest: hashed,
            stringToSign: stringToSign,
            signedHeaders: signedList,
            signature: signature,
            authorization: "\(algorithm) Credential=\(accessKeyId),SignedHeaders=\(signedList),Signature=\(signature)"
        )
    }

    /// The parts of an `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex` header.
    public struct V3Authorization: Sendable, Equatable {
        public var accessKeyId: String
        public var signedHeaders: [String]
        public var signature: String
    }

    public static func parseV3Authorization(_ header: String) -> V3Authorization? {
        guard header.hasPrefix(algorithm + " ") else { return nil }
        var fields: [String: String] = [:]
        for part in header.dropFirst(algorithm.count + 1).split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            guard let eq = trimmed.firstIndex(of: "=") else { return nil }
            fields[String(trimmed[..<eq])] = String(trimmed[trimmed.index(after: eq)...])
        }
        guard let credential = fields["Credential"], !credential.isEmpty, let signed = fields["SignedHeaders"],
            let signature = fields["Signature"]
        else { return nil }
        return V3Authorization(
            accessKeyId: credential,
            signedHeaders: signed.split(separator: ";").map(String.init),
            signature: signature
        )
    }

    public struct V1Signature: Sendable, Equatable {
        public var stringToSign: String
        public var signature: String
    }

    /// RPC signature 1.0: Base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(canonicalized))), over every parameter
    /// except `Signature`.
    public static func signV1(secret: Secret, method: String = "POST", parameters: [String: String]) -> V1Signature {
        var parameters = parameters
        parameters["Signature"] = nil
        let stringToSign = "\(method.uppercased())&%2F&\(percentEncode(canonicalQuery(parameters)))"
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data(stringToSign.utf8),
            using: SymmetricKey(data: Data((secret.reveal() + "&").utf8))
        )
        return V1Signature(stringToSign: stringToSign, signature: Data(mac).base64EncodedString())
    }

    /// Decodes an `application/x-www-form-urlencoded` query as the SDK sends it (`+` is a space).
    public static func formDecode(_ query: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }
}
