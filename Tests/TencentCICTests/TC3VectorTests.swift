import Foundation
import SCIMRotatorCore
import TencentCIC
import Testing
import Transport

/// The signing vectors generated with the official Python SDK (tencentcloud-sdk-python-common 3.1.195), plus the
/// three published documentation examples: copied from ../shared/reference/tc3_vectors.json into Fixtures/.
struct TC3Vectors: Decodable {
    struct Vector: Decodable, CustomTestStringConvertible {
        struct Intermediates: Decodable {
            var date: String
            var payload_sha256: String
            var canonical_request: String
            var credential_scope: String
            var string_to_sign: String
        }
        var name: String
        var action: String
        var host: String
        var region: String?
        var token: String?
        var language: String
        var timestamp: Int64
        var secret_id: String
        var secret_key: String
        var body: String
        var headers: [String: String]
        var expected_authorization: String
        var intermediates: Intermediates
        var testDescription: String { name }
    }

    struct DocExample: Decodable, CustomTestStringConvertible {
        var name: String
        var service: String
        var host: String
        var action: String
        var timestamp: Int64
        var content_type: String
        var secret_id: String
        var secret_key: String
        var body: String
        var signed_headers: String
        var payload_sha256: String
        var canonical_request: String
        var string_to_sign: String
        var expected_authorization: String
        var testDescription: String { name }
    }

    var vectors: [Vector]
    var official_doc_examples: [DocExample]

    static let loaded: TC3Vectors = {
        let url = Bundle.module.url(forResource: "tc3_vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(TC3Vectors.self, from: Data(contentsOf: url))
    }()
}

@Suite("TC3-HMAC-SHA256 against the official SDK's vectors")
struct TC3VectorTests {
    @Test("there are eight SDK vectors and three doc examples")
    func counts() {
        #expect(TC3Vectors.loaded.vectors.count == 8)
        #expect(TC3Vectors.loaded.official_doc_examples.count == 3)
    }

    @Test("signer reproduces canonical request, string to sign and Authorization", arguments: TC3Vectors.loaded.vectors)
    func signer(vector: TC3Vectors.Vector) {
        let headers = vector.headers.map { (name: $0.key, value: $0.value) }
        let signature = TC3Signer.sign(
            secretId: vector.secret_id,
            secretKey: Secret(vector.secret_key),
            service: "organization",
            timestamp: vector.timestamp,
            headers: headers,
            body: Data(vector.body.utf8)
        )
        #expect(signature.date == vector.intermediates.date)
        #expect(signature.credentialScope == vector.intermediates.credential_scope)
        #expect(signature.canonicalRequest == vector.intermediates.canonical_request)
        #expect(signature.stringToSign == vector.intermediates.string_to_sign)
        #expect(signature.authorization == vector.expected_authorization)
    }

    @Test("the client sends the SDK's headers and signature for the same body", arguments: TC3Vectors.loaded.vectors)
    func clientRequest(vector: TC3Vectors.Vector) throws {
        let scheme = vector.host.hasPrefix("127.0.0.1") ? "http" : "https"
        let client = TencentCICClient(
            configuration: TencentCICConfiguration(
                endpoint: URL(string: "\(scheme)://\(vector.host)")!,
                region: vector.region,
                language: vector.language
            ),
            credentials: CloudCredentials(
                accessKeyId: vector.secret_id,
                secret: Secret(vector.secret_key),
                token: vector.token.map(Secret.init)
            ),
            transport: NeverTransport()
        )
        let request = client.signedRequest(
            action: vector.action,
            body: Data(vector.body.utf8),
            timestamp: vector.timestamp
        )
        #expect(request.header("Authorization") == vector.expected_authorization)
        for name in [
            "Content-Type", "Host", "X-TC-Action", "X-TC-Timestamp", "X-TC-Version", "X-TC-Region",
            "X-TC-Token", "X-TC-Language",
        ] {
            #expect(request.header(name) == vector.headers[name], "\(name)")
        }
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "\(scheme)://\(vector.host)/")
    }

    @Test("the published documentation examples", arguments: TC3Vectors.loaded.official_doc_examples)
    func docExamples(example: TC3Vectors.DocExample) {
        let headers: [(name: String, value: String)] = [
            ("Content-Type", example.content_type), ("Host", example.host), ("X-TC-Action", example.action),
        ]
        let signature = TC3Signer.sign(
            secretId: example.secret_id,
            secretKey: Secret(example.secret_key),
            service: example.service,
            timestamp: example.timestamp,
            headers: headers,
            signedHeaders: example.signed_headers.split(separator: ";").map(String.init),
            body: Data(example.body.utf8)
        )
        #expect(TC3Signer.hexSHA256(Data(example.body.utf8)) == example.payload_sha256)
        #expect(signature.canonicalRequest == example.canonical_request)
        #expect(signature.stringToSign == example.string_to_sign)
        #expect(signature.authorization == example.expected_authorization)
    }

    @Test("the scope date is the UTC date, not Beijing's")
    func utcDate() {
        #expect(TC3Signer.utcDate(1_551_113_065) == "2019-02-25")
        #expect(TC3Signer.utcDate(1_735_689_599) == "2024-12-31")
        #expect(TC3Signer.utcDate(1_735_689_600) == "2025-01-01")
        #expect(TC3Signer.utcDate(0) == "1970-01-01")
    }

    @Test("Authorization headers parse back into their parts")
    func parse() throws {
        let vector = TC3Vectors.loaded.vectors[0]
        let parsed = try #require(TC3Signer.parseAuthorization(vector.expected_authorization))
        #expect(parsed.secretId == vector.secret_id)
        #expect(parsed.date == "2024-05-31")
        #expect(parsed.service == "organization")
        #expect(parsed.signedHeaders == ["content-type", "host"])
        #expect(TC3Signer.parseAuthorization("Bearer abc") == nil)
        #expect(TC3Signer.parseAuthorization("TC3-HMAC-SHA256 Credential=a/b, Signature=x") == nil)
    }
}
