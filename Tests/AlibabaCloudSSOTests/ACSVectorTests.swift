import AlibabaCloudSSO
import Foundation
import SCIMRotatorCore
import Testing
import Transport

/// The signing vectors generated with the official Python SDK (alibabacloud-tea-openapi 0.4.6) and the published
/// documentation examples: copied from ../shared/reference/acs_vectors.json into Fixtures/.
struct ACSVectors: Decodable {
    struct V3: Decodable, CustomTestStringConvertible {
        struct Inputs: Decodable {
            var access_key_id: String
            var access_key_secret: String
            var security_token: String?
            var endpoint: String?
            var method: String
            var pathname: String
            var query: [String: String]
            var body: String
            var headers_before_authorization: [String: String]
        }
        struct Expected: Decodable {
            var hashed_request_payload: String
            var canonical_request: String
            var hashed_canonical_request: String
            var string_to_sign: String
            var signed_headers: String
            var signature: String
            var authorization: String
            var url_sent_by_sdk: String?
        }
        var name: String
        var inputs: Inputs
        var expected: Expected
        var testDescription: String { name }
    }

    struct V1: Decodable, CustomTestStringConvertible {
        struct Inputs: Decodable {
            var access_key_secret: String
            var method: String
            var query_without_signature: [String: String]?
            var params: [String: String]?
        }
        struct Expected: Decodable {
            var hmac_key: String
            var string_to_sign: String
            var signature: String
            var url_sent_by_sdk: String?
        }
        var name: String
        var inputs: Inputs
        var expected: Expected
        var testDescription: String { name }
        var parameters: [String: String] { inputs.query_without_signature ?? inputs.params ?? [:] }
    }

    var v3_sdk_path: [V3]
    var v3_minimal_headers: [V3]
    var rpc_v1_hmac_sha1: [V1]
    var official_doc_vectors: [OfficialVector]

    /// The doc group mixes V3 and RPC vectors.
    enum OfficialVector: Decodable {
        case v3(V3)
        case v1(V1)

        init(from decoder: any Decoder) throws {
            if let v3 = try? V3(from: decoder) {
                self = .v3(v3)
            } else {
                self = .v1(try V1(from: decoder))
            }
        }
    }

    static let loaded: ACSVectors = {
        let url = Bundle.module.url(forResource: "acs_vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(ACSVectors.self, from: Data(contentsOf: url))
    }()

    static var allV3: [V3] {
        loaded.v3_sdk_path + loaded.v3_minimal_headers
            + loaded.official_doc_vectors.compactMap { if case .v3(let v) = $0 { return v } else { return nil } }
    }

    static var allV1: [V1] {
        loaded.rpc_v1_hmac_sha1
            + loaded.official_doc_vectors.compactMap { if case .v1(let v) = $0 { return v } else { return nil } }
    }
}

@Suite("ACS3-HMAC-SHA256 and RPC v1 against the official SDK's vectors")
struct ACSVectorTests {
    @Test("every group is present")
    func counts() {
        #expect(ACSVectors.loaded.v3_sdk_path.count == 7)
        #expect(ACSVectors.loaded.v3_minimal_headers.count == 3)
        #expect(ACSVectors.loaded.rpc_v1_hmac_sha1.count == 4)
        #expect(ACSVectors.loaded.official_doc_vectors.count == 3)
        #expect(ACSVectors.allV3.count == 11 && ACSVectors.allV1.count == 6)
    }

    @Test("V3: canonical request, string to sign, signature, Authorization", arguments: ACSVectors.allV3)
    func v3(vector: ACSVectors.V3) {
        let input = vector.inputs
        let signature = ACSSigner.signV3(
            accessKeyId: input.access_key_id,
            secret: Secret(input.access_key_secret),
            method: input.method,
            path: input.pathname,
            query: input.query,
            headers: input.headers_before_authorization.map { (name: $0.key, value: $0.value) },
            body: Data(input.body.utf8)
        )
        #expect(signature.canonicalRequest == vector.expected.canonical_request)
        #expect(signature.hashedCanonicalRequest == vector.expected.hashed_canonical_request)
        #expect(signature.stringToSign == vector.expected.string_to_sign)
        #expect(signature.signedHeaders == vector.expected.signed_headers)
        #expect(signature.signature == vector.expected.signature)
        #expect(signature.authorization == vector.expected.authorization)
    }

    @Test("RPC v1 HMAC-SHA1: string to sign and signature", arguments: ACSVectors.allV1)
    func v1(vector: ACSVectors.V1) {
        let signature = ACSSigner.signV1(
            secret: Secret(vector.inputs.access_key_secret),
            method: vector.inputs.method,
            parameters: vector.parameters
        )
        #expect(vector.expected.hmac_key == vector.inputs.access_key_secret + "&")
        #expect(signature.stringToSign == vector.expected.string_to_sign)
        #expect(signature.signature == vector.expected.signature)
    }

    @Test(
        "the client's own requests reproduce the doc-style minimal vectors",
        arguments: ACSVectors.loaded.v3_minimal_headers
    )
    func clientRequest(vector: ACSVectors.V3) throws {
        let headers = vector.inputs.headers_before_authorization
        let host = try #require(headers["host"])
        let client = AlibabaCloudSSOClient(
            configuration: AlibabaCloudSSOConfiguration(
                endpoint: URL(string: "\(host.hasPrefix("127.") ? "http" : "https")://\(host)")!
            ),
            credentials: CloudCredentials(
                accessKeyId: vector.inputs.access_key_id,
                secret: Secret(vector.inputs.access_key_secret),
                token: vector.inputs.security_token.map(Secret.init)
            ),
            transport: NeverTransport()
        )
        let date = try Date(try #require(headers["x-acs-date"]), strategy: Date.ISO8601FormatStyle())
        let request = client.signedRequest(
            action: try #require(headers["x-acs-action"]),
            parameters: vector.inputs.query,
            date: date,
            nonce: try #require(headers["x-acs-signature-nonce"])
        )
        #expect(request.header("Authorization") == vector.expected.authorization)
        for (name, value) in headers { #expect(request.header(name) == value, "\(name)") }
        #expect(request.body.isEmpty && request.method == "POST")
        #expect(request.url.path == "/")
    }

    @Test("RFC 3986 encoding: space %20, * %2A, ~ kept, / %2F, UTF-8 bytes")
    func encoding() {
        #expect(ACSSigner.percentEncode("a b*c~d/e+f=g&h") == "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h")
        #expect(ACSSigner.percentEncode("é中") == "%C3%A9%E4%B8%AD")
        #expect(ACSSigner.formDecode("DirectoryId=d-a+b%2Ac&x=%E4%B8%AD") == ["DirectoryId": "d-a b*c", "x": "中"])
    }

    @Test(
        "the query the SDK sends (urlencode, + for space) decodes to the signed parameters",
        arguments: ACSVectors.loaded.v3_sdk_path
    )
    func sdkURL(vector: ACSVectors.V3) throws {
        let url = try #require(vector.expected.url_sent_by_sdk.flatMap(URL.init(string:)))
        let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery ?? ""
        #expect(ACSSigner.formDecode(query) == vector.inputs.query)
    }
}

struct NeverTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        throw TransportError(.connection, "NeverTransport")
    }
}
