import Foundation
import RotationPolicy
import SCIMRotatorCore
import Testing

/// Inputs that looked fine and did harm, and the checks `policy check` lacked.
@Suite("Policy files: hostile and mistaken inputs")
struct PolicyHardeningTests {
    static let sink = "deliver: [{file: {path: /var/lib/scim-rotator/out/x.token}}]\n"

    func issues(_ yaml: String, file: String = "policies/p.yaml") -> [PolicyIssue] {
        do {
            _ = try PolicyLoader.parse(yaml: yaml, file: file)
            return []
        } catch let error as PolicyError {
            return error.issues
        } catch {
            return [PolicyIssue(file: file, line: nil, key: "?", message: "\(error)")]
        }
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("policies-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(
        "region: only a region id; a space, a host or a fragment is refused with an example",
        arguments: [
            ("tencent", "z-vft38p2hq8tq", "cn shanghai"), ("alibaba", "d-00fc2p61abcd", "cn shanghai"),
            ("alibaba", "d-00fc2p61abcd", "attacker.example.com/x#"),
            ("tencent", "z-vft38p2hq8tq", "ap-guangzhou\\r\\nX: 1"),
            ("alibaba", "d-00fc2p61abcd", "CN-SHANGHAI"), ("alibaba", "d-00fc2p61abcd", "shanghai"),
        ]
    )
    func badRegion(provider: String, zone: String, region: String) {
        let found = issues("provider: \(provider)\nzone: \(zone)\nregion: \"\(region)\"\n\(Self.sink)")
        let issue = found.first { $0.key == "region" }
        #expect(issue?.line == 3, "\(found)")
        #expect(issue?.message.contains("not a region id") == true)
        #expect(issue?.message.contains(provider == "alibaba" ? "cn-shanghai" : "ap-guangzhou") == true)
    }

    @Test(
        "region: the clouds' own region ids are accepted",
        arguments: [
            ("tencent", "ap-guangzhou"), ("tencent", "na-siliconvalley"), ("tencent", "eu-frankfurt"),
            ("tencent", "ap-shanghai-fsi"), ("alibaba", "cn-shanghai"), ("alibaba", "ap-southeast-1"),
            ("alibaba", "cn-hangzhou-finance"),
        ]
    )
    func goodRegion(provider: String, region: String) throws {
        let zone = provider == "tencent" ? "z-vft38p2hq8tq" : "d-00fc2p61abcd"
        let policy = try PolicyLoader.parse(
            yaml: "provider: \(provider)\nzone: \(zone)\nregion: \(region)\n\(Self.sink)",
            file: "p.yaml"
        )
        #expect(policy.region == region)
    }

    static let lookalikes = [
        "http://127.attacker.example", "http://127.0.0.1.nip.io:8080", "http://127.0.0.1.attacker.example/scim/v2",
        "http://localhost.attacker.example", "http://0x7f.1", "http://[::ffff:8.8.8.8]",
    ]

    @Test("plain http only to loopback addresses: endpoint, Vault address and verify.scim.url", arguments: lookalikes)
    func notLoopback(url: String) {
        let endpoint = issues("provider: tencent\nzone: z-vft38p2hq8tq\nendpoint: \(url)\n\(Self.sink)")
        #expect(
            endpoint.contains { $0.key == "endpoint" && $0.message.contains("only allowed to loopback") },
            "\(endpoint)"
        )
        let vault = issues(
            "provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  - vault: {address: \"\(url)\", path: scim/prod}\n"
        )
        #expect(vault.contains { $0.key == "deliver[0].vault.address" && $0.message.contains("loopback") }, "\(vault)")
        let verify = issues(
            "provider: tencent\nzone: z-vft38p2hq8tq\nverify:\n  scim: {url: \"\(url)\"}\n\(Self.sink)"
        )
        #expect(verify.contains { $0.key == "verify.scim.url" && $0.message.contains("loopback") }, "\(verify)")
    }

    @Test(
        "loopback addresses keep working over plain http",
        arguments: [
            "http://127.0.0.1:8080", "http://127.9.9.9", "http://[::1]:8080", "http://localhost:1",
            "http://LOCALHOST:8080",
        ]
    )
    func loopback(url: String) throws {
        let policy = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nendpoint: \(url)\n\(Self.sink)",
            file: "p.yaml"
        )
        #expect(policy.endpoint != nil)
    }

    @Test("a policy that delivers to nobody is refused, pointing at manual", arguments: ["", "deliver: []\n"])
    func noDelivery(deliver: String) {
        let found = issues("provider: tencent\nzone: z-vft38p2hq8tq\n\(deliver)")
        let issue = found.first { $0.key == "deliver" }
        #expect(issue != nil, "\(found)")
        #expect(issue?.message.contains("manual") == true)
        #expect(issue?.message.contains("nobody") == true)
        #expect(issue?.line == (deliver.isEmpty ? 1 : 3))
    }

    @Test("0s is meaningful for gracePeriod, jitter and deleteAfter; other durations stay positive")
    func zeroDurations() throws {
        let policy = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {gracePeriod: 0s, jitter: 0s, deleteAfter: 0s}\n"
                + Self.sink,
            file: "p.yaml"
        )
        #expect(policy.rotation.gracePeriod.seconds == 0)
        #expect(policy.rotation.jitter?.seconds == 0)
        #expect(policy.rotation.deleteAfter?.seconds == 0)
        for key in ["rotateBefore", "maxAge", "keyLifetime", "minBackoff", "warnBefore"] {
            let found = issues("provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {\(key): 0s}\n\(Self.sink)")
            #expect(found.contains { $0.key == "rotation.\(key)" }, "\(key): \(found)")
        }
    }

    @Test(
        "a key in the wrong place names where it belongs",
        arguments: [
            ("provider: tencent\nzone: z-vft38p2hq8tq\nrotateBefore: 30d\n", "rotateBefore", "rotation.rotateBefore"),
            ("provider: tencent\nzone: z-vft38p2hq8tq\ngracePeriod: 1h\n", "gracePeriod", "rotation.gracePeriod"),
            ("provider: tencent\nzone: z-vft38p2hq8tq\nfile: {path: /x}\n", "file", "deliver: - file:"),
            ("provider: tencent\nzone: z-vft38p2hq8tq\nidEnv: A\n", "idEnv", "credentials.idEnv"),
            (
                "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {deliver: []}\n", "rotation.deliver",
                "deliver` at the top level"
            ),
        ]
    )
    func misplaced(yaml: String, key: String, suggestion: String) {
        let found = issues(yaml + Self.sink)
        #expect(found.contains { $0.key == key && $0.message.contains("did you mean `\(suggestion)") }, "\(found)")
    }

    @Test("a value of the wrong type says what it got")
    func wrongType() {
        let list = issues("provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {rotateBefore: [1, 2]}\n\(Self.sink)")
        #expect(
            list.contains {
                $0.key == "rotation.rotateBefore" && $0.message.contains("a list `[1, 2]` is not a duration")
            },
            "\(list)"
        )
        let mapping = issues("provider: tencent\nzone: z-vft38p2hq8tq\nkeyLimit: {a: 1}\n\(Self.sink)")
        #expect(mapping.contains { $0.key == "keyLimit" && $0.message.contains("a mapping `{a: 1}`") }, "\(mapping)")
        let text = issues("provider: [tencent]\nzone: z-vft38p2hq8tq\n\(Self.sink)")
        #expect(text.contains { $0.key == "provider" && $0.message.contains("a list `[tencent]`") }, "\(text)")
    }

    @Test("a UTF-8 byte order mark is accepted, in a policy and in _defaults.yaml")
    func byteOrderMark() throws {
        let directory = try temporaryDirectory()
        let bom = Data([0xEF, 0xBB, 0xBF])
        try (bom + Data("provider: tencent\nzone: z-vft38p2hq8tq\n\(Self.sink)".utf8))
            .write(to: URL(fileURLWithPath: directory + "/a.yaml"))
        try (bom + Data("rotation: {gracePeriod: 2h}\n".utf8))
            .write(to: URL(fileURLWithPath: directory + "/_defaults.yaml"))
        let policies = try PolicyLoader.loadDirectory(directory)
        #expect(policies.first?.rotation.gracePeriod == .hours(2))
    }

    @Test("a file that cannot be read says why")
    func unreadable() throws {
        let directory = try temporaryDirectory()
        let missing = #expect(throws: PolicyError.self) { try PolicyLoader.load(file: directory + "/none.yaml") }
        #expect(missing?.description.contains("cannot read the file: No such file or directory") == true)
        try FileManager.default.createDirectory(atPath: directory + "/dir.yaml", withIntermediateDirectories: true)
        let folder = #expect(throws: PolicyError.self) { try PolicyLoader.load(file: directory + "/dir.yaml") }
        #expect(folder?.description.contains("Is a directory") == true, "\(String(describing: folder))")
    }

    @Test("warnings: maxAge beyond the lifetime, a grace period as long as the interval, an implied Alibaba region")
    func warnings() throws {
        let clean = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {keyLifetime: 90d, maxAge: 60d}\n\(Self.sink)",
            file: "a.yaml"
        )
        #expect(PolicyLoader.warnings([clean]).isEmpty)
        let long = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {keyLifetime: 90d, maxAge: 120d}\n\(Self.sink)",
            file: "b.yaml"
        )
        #expect(
            PolicyLoader.warnings([long]).contains {
                $0.key == "rotation.maxAge" && $0.message.contains("never triggers")
            }
        )
        let grace = try PolicyLoader.parse(
            yaml:
                "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {keyLifetime: 40d, rotateBefore: 10d, gracePeriod: 30d}\n"
                + Self.sink,
            file: "c.yaml"
        )
        let graceWarnings = PolicyLoader.warnings([grace])
        #expect(
            graceWarnings.contains {
                $0.key == "rotation.gracePeriod" && $0.message.contains("rotation interval (30d")
            },
            "\(graceWarnings)"
        )
        let alibaba = try PolicyLoader.parse(
            yaml: "provider: alibaba\nzone: d-00fc2p61abcd\n\(Self.sink)",
            file: "d.yaml"
        )
        #expect(
            PolicyLoader.warnings([alibaba]).contains {
                $0.key == "region" && $0.message.contains("cn-shanghai is assumed")
                    && $0.message.contains("ap-southeast-1")
            }
        )
        let named = try PolicyLoader.parse(
            yaml: "provider: alibaba\nzone: d-00fc2p61abcd\nregion: ap-southeast-1\n\(Self.sink)",
            file: "e.yaml"
        )
        #expect(PolicyLoader.warnings([named]).isEmpty)
    }

    @Test("warnings: two policies delivering to the same file, Vault path or Kubernetes key (via _defaults.yaml)")
    func sharedTargets() throws {
        let directory = try temporaryDirectory()
        try """
        provider: tencent
        deliver:
          - file: {path: /var/lib/scim-rotator/out/shared.token}
          - vault: {address: "https://vault.example.com:8200", path: scim/shared}
          - kubernetes: {namespace: identity, name: scim-token, key: token}
        """.write(toFile: directory + "/_defaults.yaml", atomically: true, encoding: .utf8)
        try "zone: z-aaaaaaaaaaaa\n".write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        try "zone: z-bbbbbbbbbbbb\n".write(toFile: directory + "/b.yaml", atomically: true, encoding: .utf8)
        try """
        zone: z-cccccccccccc
        deliver:
          - file: {path: /var/lib/scim-rotator/out/c.token}
          - vault: {address: "https://vault.example.com:8200", path: scim/c}
          - kubernetes: {namespace: identity, name: scim-token, key: c}
        """.write(toFile: directory + "/c.yaml", atomically: true, encoding: .utf8)
        let warnings = PolicyLoader.warnings(try PolicyLoader.loadDirectory(directory))
        let shared = warnings.filter {
            $0.file.hasSuffix("b.yaml") && $0.message.contains("also the target of policy a")
        }
        #expect(shared.map(\.key) == ["deliver[0]", "deliver[1]", "deliver[2]"], "\(warnings)")
        #expect(!warnings.contains { $0.file.hasSuffix("c.yaml") }, "\(warnings)")
        #expect(shared.first?.message.contains("_defaults.yaml") == true)
    }

    @Test("reload: an invalid file keeps its last good version, a new valid file loads, a new invalid one is reported")
    func reload() throws {
        let directory = try temporaryDirectory()
        let good = "provider: tencent\nzone: z-aaaaaaaaaaaa\n\(Self.sink)"
        try good.write(toFile: directory + "/a.yaml", atomically: true, encoding: .utf8)
        let first = try PolicyLoader.loadDirectory(directory)
        try "provider: tencent\nzone: z-aaaaaaaaaaaa\nregion: \"cn shanghai\"\n\(Self.sink)".write(
            toFile: directory + "/a.yaml",
            atomically: true,
            encoding: .utf8
        )
        try "provider: tencent\nzone: z-bbbbbbbbbbbb\n\(Self.sink)".write(
            toFile: directory + "/b.yaml",
            atomically: true,
            encoding: .utf8
        )
        try "provider: tencent\nzone: z-cccccccccccc\nregion: \"x y\"\n\(Self.sink)".write(
            toFile: directory + "/c.yaml",
            atomically: true,
            encoding: .utf8
        )
        let reload = try PolicyLoader.reload(directory: directory, previous: first)
        #expect(reload.policies.map(\.name) == ["a", "b"])
        #expect(reload.policies.first?.region == nil, "a runs in its last good version")
        #expect(reload.kept == [directory + "/a.yaml"])
        #expect(
            reload.problems.flatMap(\.issues).map { ($0.file as NSString).lastPathComponent } == ["a.yaml", "c.yaml"]
        )
        // A duplicated zone is a problem of the later file; the earlier keeps running.
        try "provider: tencent\nzone: z-bbbbbbbbbbbb\n\(Self.sink)".write(
            toFile: directory + "/c.yaml",
            atomically: true,
            encoding: .utf8
        )
        let again = try PolicyLoader.reload(directory: directory, previous: reload.policies)
        #expect(again.policies.map(\.name) == ["a", "b"])
        #expect(again.problems.flatMap(\.issues).contains { $0.file.hasSuffix("c.yaml") && $0.key == "zone" })
    }
}
