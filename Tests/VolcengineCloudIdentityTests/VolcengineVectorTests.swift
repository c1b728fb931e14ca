import CloudEmulator
import Foundation
import SCIMRotatorCore
import Testing
import Transport
import VolcengineCloudIdentity

/// The signing vectors generated with the official Python SDK (volcenginesdk-cloudidentity 5.0.54, SignerV4 with the
/// clock and invocation id pinned): copied from the research folder's volcengine_vectors.json into Fixtures/.
struct VolcengineVectors: Decodable {
    struct Vector: Decodable, CustomTestStringConvertible {
        struct Intermediates: Decodable {
            var canonical_query: String
            var signed_headers: String
            var canonical_request: String
            var credential_scope: String
            var string_to_sign: String
            var signature: String
        }
        struct Wire: Decodable {
            var request_line: String
            var headers: [[String]]
            var body: String
        }
        var name: String
        var action: String
        var region: String?
        var access_key: String
        var secret_key: String
        var token: String?
        var timestamp: Int64
        var x_date: String
        var url: String
        var query_params_in_wire_order: [[String]]
        var body: String
        var headers: [String: String]
        var expected_authorization: String
        var intermediates: Intermediates
        var wire: Wire
        var testDescription: String { name }

        var query: [(String, String)] { query_params_in_wire_order.map { ($0[0], $0[1]) } }
    }

    var vectors: [Vector]

    static let loaded: VolcengineVectors = {
        let url = Bundle.module.url(forResource: "volcengine_vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(VolcengineVectors.self, from: Data(contentsOf: url))
    }()
}

@Suite("Volcano HMAC-SHA256 against the official SDK's vectors")
struct VolcengineVectorTests {
    @Test("there are twelve SDK vectors")
    func count() {
        #expect(VolcengineVectors.loaded.vectors.count == 12)
    }

    @Test(
        "the signer reproduces canonical request, string to sign and Authorization",
        arguments: VolcengineVectors.loaded.vectors
    )
    func signer(vector: VolcengineVectors.Vector) {
        let headers = vector.headers.filter { $0.key != "Authorization" }.map { (name: $0.key, value: $0.value) }
        let signature = VolcengineSigner.sign(
            accessKeyId: vector.access_key,
            secret: Secret(vector.secret_key),
            region: vector.region ?? "",
            service: "cloudidentity",
            xDate: vector.x_date,
            query: vector.query,
            headers: headers,
            body: Data(vector.body.utf8)
        )
        #expect(VolcengineSigner.canonicalQuery(vector.query) == vector.intermediates.canonical_query)
        #expect(signature.signedHeaders == vector.intermediates.signed_headers)
        #expect(signature.canonicalRequest == vector.intermediates.canonical_request)
        #expect(signature.credentialScope == vector.intermediates.credential_scope)
        #expect(signature.stringToSign == vector.intermediates.string_to_sign)
        #expect(signature.authorization == vector.expected_authorization)
    }

    @Test("X-Date is the UTC time in the SDK's format")
    func xDate() throws {
        for vector in VolcengineVectors.loaded.vectors {
            let date = Date(timeIntervalSince1970: Double(vector.timestamp))
            #expect(VolcengineSigner.xDate(date) == vector.x_date)
            #expect(VolcengineSigner.date(xDate: vector.x_date) == date)
        }
    }

    @Test("the client's JSON body is the SDK's bytes, non-ASCII escaped as json.dumps does")
    func body() throws {
        for vector in VolcengineVectors.loaded.vectors where vector.action == "DeleteSCIMServerCredential" {
            let object = try #require(
                JSONSerialization.jsonObject(with: Data(vector.body.utf8)) as? [String: String]
            )
            let id = try #require(object["CredentialId"])
            #expect(String(decoding: VolcengineSigner.jsonBody([("CredentialId", id)]), as: UTF8.self) == vector.body)
        }
        #expect(String(decoding: VolcengineSigner.jsonBody([]), as: UTF8.self) == "{}")
    }

    @Test("the emulator accepts the SDK's wire request as sent", arguments: VolcengineVectors.loaded.vectors)
    func emulatorAccepts(vector: VolcengineVectors.Vector) async throws {
        let clock = VirtualClock(start: Date(timeIntervalSince1970: Double(vector.timestamp)))
        let account = "2100000009"
        let emulator = Emulator(
            configuration: EmulatorConfiguration(
                volcengine: .init(
                    accounts: [
                        .init(
                            secretId: vector.access_key,
                            secretKey: vector.secret_key,
                            token: vector.token,
                            zones: [account]
                        )
                    ],
                    zones: [.init(id: account)]
                )
            ),
            clock: clock
        )
        // Two keys for a Delete, so that an unknown id answers "not found" rather than anything about the signature.
        if vector.action == "DeleteSCIMServerCredential" {
            emulator.seedKey(zone: account, createdAt: clock.now(), expiresAt: clock.now().addingTimeInterval(86_400))
            emulator.seedKey(zone: account, createdAt: clock.now(), expiresAt: clock.now().addingTimeInterval(86_400))
        }
        let request = HTTPRequest(
            method: "POST",
            url: try #require(URL(string: vector.url)),
            headers: vector.wire.headers.map { (name: $0[0], value: $0[1]) },
            body: Data(vector.wire.body.utf8)
        )
        guard case .response(let response) = await emulator.handle(request) else {
            Issue.record("dropped")
            return
        }
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(!text.contains("SignatureDoesNotMatch"), "\(text)")
        #expect(!text.contains("InvalidAuthorization"), "\(text)")
        #expect(!text.contains("InvalidSecretToken"), "\(text)")
        if vector.action != "DeleteSCIMServerCredential" { #expect(response.status == 200, "\(text)") }
    }
}
