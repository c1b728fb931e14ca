import Foundation
import RotationPolicy
import SCIMRotatorCore
import Testing

@Suite("Delivery sinks, notifications and defaults in policies")
struct SinkPolicyTests {
    static let sinks = """
        provider: tencent
        zone: z-vft38p2hq8tq
        deliver:
          - vault: {address: "https://vault.example.com:8200", mount: kv, path: scim/prod, namespace: team-a, tokenEnv: MY_VAULT_TOKEN}
          - vault: {address: "https://vault.example.com:8200", path: scim/prod, roleIdEnv: ROLE_ID, secretIdEnv: SECRET_ID}
          - entra: {tenantId: t-1, servicePrincipalId: sp-1, clientId: c-1, clientSecretEnv: ENTRA_SECRET}
          - kubernetes: {namespace: identity, name: scim-token, key: token}
          - kubernetes: {namespace: identity, name: scim-token, key: token, kubeconfig: /etc/kube/config}
          - okta: {orgUrl: "https://example.okta.com", appId: 0oa1, apiTokenEnv: OKTA_TOKEN}
          - manual: {file: /var/lib/scim-rotator/out/okta.token, instructions: "Paste into Okta app X"}
        notify:
          - webhook: {urlEnv: SLACK_WEBHOOK_URL, format: slack, on: [failure, blocked, stuck]}
          - webhook: {url: "https://hooks.example.com/scim", authorizationEnv: HOOK_AUTH}
        """

    @Test("every sink and webhook parses")
    func parses() throws {
        let policy = try PolicyLoader.parse(yaml: Self.sinks, file: "p.yaml")
        #expect(policy.deliver.count == 7)
        guard case .vault(let vault) = policy.deliver[0], case .vault(let approle) = policy.deliver[1],
            case .entra(let entra) = policy.deliver[2], case .kubernetes(let inCluster) = policy.deliver[3],
            case .kubernetes(let kubeconfig) = policy.deliver[4], case .okta(let okta) = policy.deliver[5],
            case .manual(let manual) = policy.deliver[6]
        else {
            Issue.record("wrong sinks: \(policy.deliver)")
            return
        }
        #expect(vault.mount == "kv" && vault.namespace == "team-a" && vault.tokenEnv == "MY_VAULT_TOKEN")
        #expect(approle.roleIdEnv == "ROLE_ID" && approle.tokenEnv == nil && approle.mount == "secret")
        #expect(entra.clientSecretEnv == "ENTRA_SECRET")
        #expect(inCluster.kubeconfig == nil && inCluster.server == nil)
        #expect(kubeconfig.kubeconfig == "/etc/kube/config")
        #expect(okta.apiTokenEnv == "OKTA_TOKEN")
        #expect(manual.mode == 0o600 && manual.instructions == "Paste into Okta app X")
        #expect(policy.notify.count == 2)
        #expect(
            policy.notify[0].urlEnv == "SLACK_WEBHOOK_URL" && policy.notify[0].format == .slack
                && policy.notify[0].on == [.failure, .blocked, .stuck]
        )
        #expect(policy.notify[1].on == NotifySpec.defaultKinds && policy.notify[1].authorizationEnv == "HOOK_AUTH")
        #expect(
            Set(policy.deliver.flatMap(\.environmentNames)) == [
                "MY_VAULT_TOKEN", "ROLE_ID", "SECRET_ID", "ENTRA_SECRET", "OKTA_TOKEN",
            ]
        )
    }

    static let invalid: [(String, String, String)] = [
        ("- vault: {path: x}", "deliver[0].vault.address", "missing"),
        ("- vault: {address: \"https://v\", path: x, roleIdEnv: A}", "deliver[0].vault", "AppRole needs both"),
        (
            "- vault: {address: \"http://vault.example.com\", path: x}", "deliver[0].vault.address",
            "only allowed to loopback"
        ),
        ("- entra: {tenantId: t, servicePrincipalId: s, clientId: c}", "deliver[0].entra.clientSecretEnv", "missing"),
        (
            "- kubernetes: {namespace: Bad_NS, name: x, key: k}", "deliver[0].kubernetes.namespace",
            "not a Kubernetes name"
        ),
        (
            "- kubernetes: {namespace: a, name: x, key: k, server: \"http://127.0.0.1:1\"}",
            "deliver[0].kubernetes.tokenEnv", "bearer token"
        ),
        ("- okta: {orgUrl: \"https://o.okta.com\", appId: a}", "deliver[0].okta.apiTokenEnv", "missing"),
        ("- manual: {instructions: x}", "deliver[0].manual.file", "missing"),
        ("- sftp: {host: x}", "deliver[0].sftp", "unknown key"),
    ]

    @Test("sink mistakes are located", arguments: invalid)
    func sinkErrors(sink: String, key: String, words: String) {
        let yaml = "provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  \(sink)\n"
        do {
            _ = try PolicyLoader.parse(yaml: yaml, file: "p.yaml")
            Issue.record("accepted \(sink)")
        } catch let error as PolicyError {
            #expect(
                error.issues.contains { $0.key == key && $0.message.contains(words) && $0.line == 4 },
                "\(error.issues)"
            )
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("webhook mistakes are located")
    func notifyErrors() {
        for (webhook, words) in [
            ("{url: \"https://h\", urlEnv: X}", "exactly one of"), ("{on: [failure]}", "exactly one of"),
            ("{url: \"https://h\", on: [failur]}", "did you mean `failure`?"),
            ("{url: \"https://h\", format: xml}", "json or slack"),
        ] {
            let yaml = "provider: tencent\nzone: z-vft38p2hq8tq\nnotify:\n  - webhook: \(webhook)\n"
            let error = #expect(throws: PolicyError.self) { try PolicyLoader.parse(yaml: yaml, file: "p.yaml") }
            #expect(
                error?.issues.contains { $0.message.contains(words) && $0.line == 4 } == true,
                "\(webhook): \(error?.issues ?? [])"
            )
        }
    }

    @Test("_defaults.yaml: every policy inherits it; its own keys win; mappings merge")
    func defaults() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("defaults-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        provider: tencent
        rotation: {keyLifetime: 90d, gracePeriod: 12h}
        deliver: [{file: {path: /var/lib/scim-rotator/out/x.token}}]
        notify:
          - webhook: {urlEnv: TEAM_HOOK}
        """.write(toFile: directory + "/_defaults.yaml", atomically: true, encoding: .utf8)
        try "zone: z-aaaaaaaaaaaa\n".write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        try "zone: z-bbbbbbbbbbbb\nrotation: {gracePeriod: 2h}\n".write(
            toFile: directory + "/b.yaml",
            atomically: true,
            encoding: .utf8
        )
        let policies = try PolicyLoader.loadDirectory(directory)
        #expect(policies.map(\.name) == ["a", "b"])
        #expect(
            policies.allSatisfy {
                $0.provider == .tencent && $0.rotation.keyLifetime == .days(90)
                    && $0.notify.first?.urlEnv == "TEAM_HOOK"
            }
        )
        #expect(policies[0].rotation.gracePeriod == .hours(12))
        #expect(policies[1].rotation.gracePeriod == .hours(2))
        try "zone: z-cccccccccccc\n".write(toFile: directory + "/_defaults.yaml", atomically: true, encoding: .utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyLoader.loadDirectory(directory) }
        #expect(error?.issues.contains { $0.file.hasSuffix("_defaults.yaml") && $0.key == "zone" } == true)
    }

    @Test("warnBefore defaults to half of rotateBefore")
    func warnBefore() throws {
        let policy = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {rotateBefore: 20d}\n\(PolicyLoaderTests.sink)",
            file: "p.yaml"
        )
        #expect(policy.rotation.effectiveWarnBefore == .days(10))
        let set = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {warnBefore: 25d}\n\(PolicyLoaderTests.sink)",
            file: "p.yaml"
        )
        #expect(set.rotation.effectiveWarnBefore == .days(25))
    }
}
