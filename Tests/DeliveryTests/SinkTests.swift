import CloudEmulator
import Delivery
import Foundation
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing
import Transport

let secret = Secret("YlBKbEhkYXI2cy9xOEFjSyjPJlcOtCKFiNoHOc5EZox3ZKEVqo2CUA=")
let context = DeliveryContext(
    policy: "tencent-prod",
    provider: .tencent,
    zone: "z-vft38p2hq8tq",
    keyId: "scimcred-un1tgbnt0s9j",
    createdAt: Date(timeIntervalSince1970: 1_800_000_000),
    expiresAt: Date(timeIntervalSince1970: 1_807_776_000),
    scimURL: URL(string: "https://scim.tencentcloudsso.com/scim/v2")!
)
let local = URL(string: "http://127.0.0.1:9")!

/// Every error a sink raises names the sink and never carries the secret or an API token.
func expectDeliveryError(
    _ words: String,
    secrets: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a delivery error containing \(words)", sourceLocation: sourceLocation)
    } catch let error as DeliveryError {
        #expect(error.description.contains(words), "\(error)", sourceLocation: sourceLocation)
        for value in [secret.reveal()] + secrets {
            #expect(
                !error.description.contains(value),
                "the error leaks a secret: \(error)",
                sourceLocation: sourceLocation
            )
        }
    } catch {
        Issue.record("expected DeliveryError, got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Vault KV v2 sink")
struct VaultSinkTests {
    func sink(
        _ vault: FakeVault,
        token: String = "hvs.writer",
        timeout: Double = 5,
        namespace: String? = nil
    ) -> VaultSink {
        VaultSink(
            address: local,
            path: "scim/tencent-prod",
            namespace: namespace,
            authentication: .token(Secret(token)),
            transport: vault,
            timeout: timeout
        )
    }

    @Test("writes a new version with check-and-set and metadata, and reads it back")
    func writes() async throws {
        let vault = FakeVault()
        vault.addToken("hvs.writer")
        let first = try await sink(vault).deliver(secret, context: context)
        let second = try await sink(vault).deliver(Secret("second-key-value"), context: context)
        #expect(first.detail["version"] == "1" && second.detail["version"] == "2")
        let versions = vault.versions("scim/tencent-prod")
        #expect(versions.map { $0.data["token"] } == [secret.reveal(), "second-key-value"])
        #expect(versions[0].data["credential_id"] == "scimcred-un1tgbnt0s9j")
        #expect(vault.metadata("scim/tencent-prod")?["zone"] == "z-vft38p2hq8tq")
        #expect(
            vault.metadata("scim/tencent-prod")?.values.contains(secret.reveal()) == false,
            "metadata holds no secret"
        )
        let writes = vault.log.filter { $0.method == "POST" && $0.path.contains("/data/") }
        let options = writes.compactMap {
            (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["options"] as? [String: Int]
        }
        #expect(options == [["cas": 0], ["cas": 1]])
        #expect(vault.log.allSatisfy { $0.headers["x-vault-token"] == "hvs.writer" })
    }

    @Test("a check-and-set race is retried after reading the version again")
    func casRace() async throws {
        let vault = FakeVault()
        vault.addToken("hvs.writer")
        vault.raceNextWrites(2)
        _ = try await sink(vault).deliver(secret, context: context)
        #expect(vault.versions("scim/tencent-prod").last?.data["token"] == secret.reveal())
        vault.raceNextWrites(5)
        await expectDeliveryError("check-and-set kept failing") {
            _ = try await sink(vault).deliver(secret, context: context)
        }
    }

    @Test("403 permission denied, 5xx and a timeout fail the delivery")
    func failures() async throws {
        let vault = FakeVault()
        vault.addToken("hvs.reader", canWrite: false)
        await expectDeliveryError("HTTP 403", secrets: ["hvs.reader"]) {
            _ = try await sink(vault, token: "hvs.reader").deliver(secret, context: context)
        }
        await expectDeliveryError("HTTP 403") {
            _ = try await sink(vault, token: "hvs.nobody").deliver(secret, context: context)
        }
        vault.addToken("hvs.writer")
        vault.fail(.init(method: "POST", pathContains: "/data/", status: 503, body: #"{"errors":["Vault is sealed"]}"#))
        await expectDeliveryError("Vault is sealed") { _ = try await sink(vault).deliver(secret, context: context) }
        vault.fail(.init(method: "GET", delayMs: 500))
        await expectDeliveryError("timeout") {
            _ = try await sink(vault, timeout: 0.1).deliver(secret, context: context)
        }
    }

    @Test("AppRole login and a namespace")
    func appRole() async throws {
        let vault = FakeVault(namespace: "team-a")
        vault.addRole(roleId: "role-1", secretId: "secret-id-1", token: "hvs.approle")
        let good = VaultSink(
            address: local,
            path: "scim/x",
            namespace: "team-a",
            authentication: .appRole(roleId: Secret("role-1"), secretId: Secret("secret-id-1"), mount: "approle"),
            transport: vault
        )
        _ = try await good.deliver(secret, context: context)
        #expect(vault.log.allSatisfy { $0.headers["x-vault-namespace"] == "team-a" })
        let bad = VaultSink(
            address: local,
            path: "scim/x",
            namespace: "team-a",
            authentication: .appRole(roleId: Secret("role-1"), secretId: Secret("wrong-secret-id"), mount: "approle"),
            transport: vault
        )
        await expectDeliveryError("invalid role or secret ID", secrets: ["wrong-secret-id"]) {
            _ = try await bad.deliver(secret, context: context)
        }
    }

    @Test("over a real socket")
    func overHTTP() async throws {
        let vault = FakeVault()
        vault.addToken("hvs.writer")
        let server = EmulatorServer(emulator: vault)
        let url = try await server.start()
        let sink = VaultSink(
            address: url,
            path: "scim/x",
            authentication: .token(Secret("hvs.writer")),
            transport: AsyncHTTPClientTransport.shared
        )
        let receipt = try await sink.deliver(secret, context: context)
        await server.stop()
        #expect(receipt.detail["version"] == "1")
    }
}

@Suite("Entra ID sink")
struct EntraSinkTests {
    func sink(_ entra: FakeEntra, clientSecret: String = "client-secret-value") -> EntraSink {
        EntraSink(
            tenantId: entra.tenantId,
            servicePrincipalId: entra.servicePrincipalId,
            clientId: entra.clientId,
            clientSecret: Secret(clientSecret),
            loginEndpoint: local,
            graphEndpoint: local,
            transport: entra
        )
    }

    @Test("token, PUT the full secret set keeping other entries, validate")
    func delivers() async throws {
        let entra = FakeEntra(clientSecret: "client-secret-value") { base, token in
            base == "https://scim.tencentcloudsso.com/scim/v2" && token == secret.reveal()
        }
        let receipt = try await sink(entra).deliver(secret, context: context)
        #expect(receipt.detail["validated"] == "true")
        let stored = Dictionary(entra.storedSecrets.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(stored["SecretToken"] == secret.reveal())
        #expect(stored["BaseAddress"] == "https://scim.tencentcloudsso.com/scim/v2")
        #expect(stored["SyncNotificationSettings"] == "{\"Enabled\":false}", "other entries kept as read")
        #expect(stored["SyncAll"] == "false")
        let put = try #require(entra.log.first { $0.method == "PUT" })
        #expect(put.headers["authorization"]?.hasPrefix("Bearer ") == true)
    }

    @Test("a wrong client secret, missing permission, and a rejected validation fail the delivery")
    func failures() async throws {
        let entra = FakeEntra(clientSecret: "client-secret-value") { _, _ in false }
        await expectDeliveryError("AADSTS7000215", secrets: ["wrong-client-secret"]) {
            _ = try await sink(entra, clientSecret: "wrong-client-secret").deliver(secret, context: context)
        }
        await expectDeliveryError("couldn't validate") { _ = try await sink(entra).deliver(secret, context: context) }
        entra.permitted = false
        await expectDeliveryError("Synchronization.ReadWrite.All") {
            _ = try await sink(entra).deliver(secret, context: context)
        }
        entra.permitted = true
        entra.fail(
            .init(method: "PUT", status: 503, body: #"{"error":{"code":"ServiceUnavailable","message":"try later"}}"#)
        )
        await expectDeliveryError("HTTP 503") { _ = try await sink(entra).deliver(secret, context: context) }
    }
}

@Suite("Kubernetes Secret sink")
struct KubernetesSinkTests {
    func sink(_ api: FakeKubernetes, token: String = "sa-token") throws -> KubernetesSink {
        try KubernetesSink(
            namespace: "identity",
            name: "scim-token",
            key: "token",
            connection: .init(server: local, token: Secret(token), caPEM: nil),
            transport: api
        )
    }

    @Test("creates the Secret when missing, then patches one key with the resourceVersion it read")
    func createsAndPatches() async throws {
        let api = FakeKubernetes()
        api.addToken("sa-token")
        _ = try await sink(api).deliver(secret, context: context)
        var stored = try #require(api.secret("identity", "scim-token"))
        #expect((stored["data"] as? [String: String])?["token"] == Data(secret.reveal().utf8).base64EncodedString())
        api.seed("identity", "other", data: ["keep": "a2VlcA=="])
        let other = try KubernetesSink(
            namespace: "identity",
            name: "other",
            key: "token",
            connection: .init(server: local, token: Secret("sa-token"), caPEM: nil),
            transport: api
        )
        _ = try await other.deliver(secret, context: context)
        stored = try #require(api.secret("identity", "other"))
        #expect((stored["data"] as? [String: String])?["keep"] == "a2VlcA==", "other keys untouched")
        #expect(
            ((stored["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["scim-rotator/key-id"]
                == "scimcred-un1tgbnt0s9j"
        )
        let patch = try #require(api.log.first { $0.method == "PATCH" })
        #expect(patch.headers["content-type"] == "application/merge-patch+json")
    }

    @Test("a resourceVersion conflict is retried; a persistent one fails")
    func conflicts() async throws {
        let api = FakeKubernetes()
        api.addToken("sa-token")
        api.seed("identity", "scim-token", data: [:])
        api.raceNextPatches(2)
        let receipt = try await sink(api).deliver(secret, context: context)
        #expect(receipt.detail["attempts"] == "3")
        #expect(api.log.filter { $0.status == 409 }.count == 2)
        api.raceNextPatches(10)
        await expectDeliveryError("conflict") { _ = try await sink(api).deliver(secret, context: context) }
    }

    @Test("401, 403 (RBAC), 5xx fail the delivery")
    func failures() async throws {
        let api = FakeKubernetes()
        api.addToken("reader", canWrite: false)
        api.seed("identity", "scim-token", data: [:])
        await expectDeliveryError("HTTP 401", secrets: ["nobody"]) {
            _ = try await sink(api, token: "nobody").deliver(secret, context: context)
        }
        await expectDeliveryError("cannot patch resource") {
            _ = try await sink(api, token: "reader").deliver(secret, context: context)
        }
        api.addToken("sa-token")
        api.fail(
            .init(
                method: "GET",
                status: 503,
                body: #"{"kind":"Status","message":"etcdserver: request timed out","code":503}"#
            )
        )
        await expectDeliveryError("etcdserver") { _ = try await sink(api).deliver(secret, context: context) }
    }

    @Test("kubeconfig and in-cluster connections")
    func connections() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        try """
        apiVersion: v1
        kind: Config
        current-context: prod
        contexts:
          - name: prod
            context: {cluster: c1, user: u1, namespace: identity}
        clusters:
          - name: c1
            cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: \(Data(pem.utf8).base64EncodedString())}
        users:
          - name: u1
            user: {token: kube-token-value}
        """.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
        let connection = try KubernetesSink.fromKubeconfig(path: directory + "/config")
        #expect(connection.server.absoluteString == "https://10.0.0.1:6443")
        #expect(connection.token?.reveal() == "kube-token-value")
        #expect(connection.caPEM == pem)
        try "token-from-file\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        try pem.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        let pod = try KubernetesSink.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            directory: directory
        )
        #expect(
            pod.server.absoluteString == "https://10.96.0.1:443" && pod.token?.reveal() == "token-from-file"
                && pod.caPEM == pem
        )
        #expect(throws: KubernetesSink.ConnectionError.self) {
            try KubernetesSink.inCluster(environment: [:], directory: directory)
        }
        #expect(throws: KubernetesSink.ConnectionError.self) {
            try KubernetesSink.fromKubeconfig(path: directory + "/missing")
        }
    }
}

@Suite("Okta sink")
struct OktaSinkTests {
    func sink(_ okta: FakeOkta, app: String = "0oa1org2org", token: String = "00okta-api-token") -> OktaSink {
        OktaSink(orgURL: local, appId: app, apiToken: Secret(token), transport: okta)
    }

    @Test("an Org2Org app takes the token over the API and is ENABLED")
    func org2org() async throws {
        let okta = FakeOkta(apiToken: "00okta-api-token")
        let receipt = try await sink(okta).deliver(secret, context: context)
        #expect(receipt.detail["status"] == "ENABLED")
        #expect(okta.app("0oa1org2org")?.token == secret.reveal())
        #expect(okta.app("0oa1org2org")?.baseUrl == context.scimURL.absoluteString)
        #expect(okta.log.first?.headers["authorization"] == "SSWS 00okta-api-token")
        #expect(okta.log.first?.query == "activate=TRUE")
    }

    @Test("a custom SCIM app, a bad token, no permission, an unknown app, rate limiting fail with a hint")
    func failures() async throws {
        let okta = FakeOkta(apiToken: "00okta-api-token")
        await expectDeliveryError("manual sink") {
            _ = try await sink(okta, app: "0oa2custom").deliver(secret, context: context)
        }
        await expectDeliveryError("E0000011", secrets: ["00wrong"]) {
            _ = try await sink(okta, token: "00wrong").deliver(secret, context: context)
        }
        await expectDeliveryError("E0000007") {
            _ = try await sink(okta, app: "0oa9missing").deliver(secret, context: context)
        }
        okta.permitted = false
        await expectDeliveryError("E0000006") { _ = try await sink(okta).deliver(secret, context: context) }
        okta.permitted = true
        okta.fail(
            .init(
                status: 429,
                body:
                    #"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#
            )
        )
        await expectDeliveryError("rate limited") { _ = try await sink(okta).deliver(secret, context: context) }
    }
}

@Suite("File, exec and manual sinks")
struct LocalSinkTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sinks-\(UUID())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test("the file sink writes atomically with mode 0600 and leaves no temporary file")
    func file() async throws {
        let path = directory + "/a.token"
        _ = try await FileSink(path: path).deliver(secret, context: context)
        _ = try await FileSink(path: path).deliver(Secret("next"), context: context)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "next")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["a.token"])
        await expectDeliveryError("does not exist") {
            _ = try await FileSink(path: directory + "/missing/x").deliver(secret, context: context)
        }
    }

    @Test("the exec sink passes the secret on stdin only, with a minimal environment; failures and timeouts fail")
    func exec() async throws {
        let script = directory + "/push.sh"
        try """
        #!/bin/sh
        cat > "\(directory)/stdin"
        echo "$@" > "\(directory)/argv"
        env > "\(directory)/env"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        _ = try await ExecSink(command: [script, "--app", "okta"]).deliver(secret, context: context)
        #expect(try String(contentsOfFile: directory + "/stdin", encoding: .utf8) == secret.reveal())
        let argv = try String(contentsOfFile: directory + "/argv", encoding: .utf8)
        let env = try String(contentsOfFile: directory + "/env", encoding: .utf8)
        #expect(argv == "--app okta\n")
        #expect(!env.contains(secret.reveal()))
        #expect(env.contains("SCIM_ROTATOR_KEY_ID=scimcred-un1tgbnt0s9j"))
        #expect(!env.contains("TENCENTCLOUD") && !env.contains("ALIBABA_CLOUD"))
        await expectDeliveryError("exited with 3") {
            _ = try await ExecSink(command: ["/bin/sh", "-c", "cat >/dev/null; echo nope >&2; exit 3"]).deliver(
                secret,
                context: context
            )
        }
        await expectDeliveryError("did not finish") {
            _ = try await ExecSink(command: ["/bin/sleep", "5"], timeout: 0.2).deliver(secret, context: context)
        }
        await expectDeliveryError("cannot start") {
            _ = try await ExecSink(command: ["/nonexistent/program"]).deliver(secret, context: context)
        }
        // A program that echoes its stdin to stderr cannot leak the key through the error message.
        await expectDeliveryError("exited with 1") {
            _ = try await ExecSink(command: ["/bin/sh", "-c", "cat >&2; exit 1"]).deliver(secret, context: context)
        }
    }

    @Test("the manual sink writes the key for a person and asks for confirmation")
    func manual() async throws {
        let receipt = try await ManualSink(file: directory + "/okta.token", instructions: "Paste it into Okta.")
            .deliver(secret, context: context)
        #expect(receipt.awaitingConfirmation?.contains("scim-rotator confirm tencent-prod") == true)
        #expect(receipt.awaitingConfirmation?.contains(secret.reveal()) == false)
        #expect(try String(contentsOfFile: directory + "/okta.token", encoding: .utf8) == secret.reveal())
    }
}
