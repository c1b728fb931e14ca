import Foundation
import RotationPolicy
import SCIMRotatorCore
import Testing

@Suite("Policy files")
struct PolicyLoaderTests {
    static let full = """
        name: tencent-prod
        provider: tencent
        zone: z-vft38p2hq8tq
        endpoint: http://127.0.0.1:8080
        region: ap-guangzhou
        credentials: {idEnv: ORG_A_SECRET_ID, secretEnv: ORG_A_SECRET_KEY, tokenEnv: ORG_A_TOKEN}
        rotation:
          keyLifetime: 90d
          rotateBefore: 30d
          maxAge: 60d
          gracePeriod: 24h
          deleteAfter: 7d
          window: {days: [mon, tue, wed, thu], start: "09:00", end: "17:00", timezone: Asia/Shanghai}
          jitter: 15m
        deliver:
          - file: {path: /var/lib/scim-rotator/out/tencent-prod.token, mode: "0600"}
          - exec: {command: ["/usr/local/bin/push-scim-token", "--app", "okta-tencent"]}
        verify:
          scim: {url: "http://127.0.0.1:8080/scim/v2"}
        """

    /// A policy needs somewhere to deliver its keys.
    static let sink = "deliver: [{file: {path: /var/lib/scim-rotator/out/x.token}}]\n"

    @Test("the documented example parses to what it says")
    func full() throws {
        let policy = try PolicyLoader.parse(yaml: Self.full, file: "policies/x.yaml")
        #expect(policy.name == "tencent-prod")
        #expect(policy.provider == .tencent)
        #expect(policy.zone == "z-vft38p2hq8tq")
        #expect(policy.endpoint?.absoluteString == "http://127.0.0.1:8080")
        #expect(policy.region == "ap-guangzhou")
        #expect(
            policy.credentials
                == .init(idEnv: "ORG_A_SECRET_ID", secretEnv: "ORG_A_SECRET_KEY", tokenEnv: "ORG_A_TOKEN")
        )
        #expect(policy.rotation.keyLifetime == .days(90))
        #expect(policy.rotation.rotateBefore == .days(30))
        #expect(policy.rotation.maxAge == .days(60))
        #expect(policy.rotation.gracePeriod == .hours(24))
        #expect(policy.rotation.deleteAfter == .days(7))
        #expect(policy.rotation.jitter == .minutes(15))
        #expect(policy.rotation.window?.days == [.mon, .tue, .wed, .thu])
        #expect(policy.rotation.window?.start == 540 && policy.rotation.window?.end == 1_020)
        #expect(policy.rotation.window?.timeZone.identifier == "Asia/Shanghai")
        #expect(
            policy.deliver == [
                .file(path: "/var/lib/scim-rotator/out/tencent-prod.token", mode: 0o600),
                .exec(
                    command: ["/usr/local/bin/push-scim-token", "--app", "okta-tencent"],
                    timeout: TimeSpan(seconds: 60)
                ),
            ]
        )
        #expect(policy.verify.scimURL?.absoluteString == "http://127.0.0.1:8080/scim/v2")
    }

    @Test("defaults: name from the file, SDK credential names, 365d keys, 30d before, 24h grace, 7d delete")
    func defaults() throws {
        let policy = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\n\(Self.sink)",
            file: "/etc/scim/prod-a.yaml"
        )
        #expect(policy.name == "prod-a")
        #expect(policy.credentials.idEnv == "TENCENTCLOUD_SECRET_ID")
        #expect(policy.credentials.secretEnv == "TENCENTCLOUD_SECRET_KEY")
        #expect(policy.credentials.tokenEnv == "TENCENTCLOUD_SESSION_TOKEN")
        #expect(policy.effectiveKeyLifetime == .days(365))
        #expect(policy.rotation.rotateBefore == .days(30))
        #expect(policy.rotation.gracePeriod == .hours(24))
        #expect(policy.rotation.deleteAfter == .days(7))
        #expect(policy.endpoint == nil)
        #expect(policy.keyLimit == 2)
        let never = try PolicyLoader.parse(
            yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {deleteAfter: never}\n\(Self.sink)",
            file: "a.yaml"
        )
        #expect(never.rotation.deleteAfter == nil)
    }

    /// (YAML, the line, the key, words the message must contain)
    static let invalid: [(String, Int?, String, String)] = [
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  rotateBefor: 30d\n", 4, "rotation.rotateBefor",
            "did you mean `rotateBefore`?"
        ),
        ("provder: tencent\nzone: z-vft38p2hq8tq\n", 1, "provder", "did you mean `provider`?"),
        ("zone: z-vft38p2hq8tq\n", 1, "provider", "missing; add `provider: tencent`"),
        ("provider: aws\nzone: z-vft38p2hq8tq\n", 1, "provider", "`aws` is not a provider"),
        ("provider: tencent\n", 1, "zone", "missing"),
        ("provider: volcengine\nzone: acct-1\n", 2, "zone", "not a Volcano Engine account id"),
        (
            "provider: volcengine\nzone: \"2100123456\"\nrotation: {keyLifetime: 90d}\n", 3, "rotation.keyLifetime",
            "takes no lifetime"
        ),
        (
            "provider: volcengine\nzone: \"2100123456\"\nrotation: {deleteAfter: 7d}\n", 3, "rotation.deleteAfter",
            "cannot disable a key"
        ),
        ("provider: volcengine\nzone: \"2100123456\"\nkeyLimit: 1\n", 3, "keyLimit", "must be at least 2"),
        (
            "provider: aws-identity-center\nzone: a1b2c3d4e5-tenant\n", 1, "region",
            "SCIM endpoint depends on the region"
        ),
        (
            "provider: aws-identity-center\nzone: a1b2c3d4e5-tenant\nregion: us-east-1\ncredentials: {idEnv: A, secretEnv: B}\n",
            4, "credentials", "no access key is read"
        ),
        (
            "provider: aws-identity-center\nzone: a1b2c3d4e5-tenant\nregion: us-east-1\nrotation: {deleteAfter: 7d}\n",
            4, "rotation.deleteAfter", "a person is asked to delete"
        ),
        ("provider: aws-identity-center\nzone: x\nregion: us-east-1\n", 2, "zone", "SCIM tenant id"),
        ("provider: tencent\nzone: zone-1\n", 2, "zone", "not a CIC ZoneId"),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {keyLifetime: 30d, rotateBefore: 30d}\n", 3,
            "rotation.rotateBefore", "rotate forever"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {rotateBefore: 400d}\n", 3, "rotation.rotateBefore",
            "rotate forever"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {rotateBefore: 30 days}\n", 3, "rotation.rotateBefore",
            "not a duration"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  window: {start: \"09:00\", end: \"09:00\"}\n", 4,
            "rotation.window", "no hours"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  window: {days: [], start: \"09:00\", end: \"17:00\"}\n",
            4, "rotation.window.days", "never open"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  window: {days: [funday], start: \"09:00\", end: \"17:00\"}\n",
            4, "rotation.window.days", "not a weekday"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  window: {start: \"9am\", end: \"17:00\"}\n", 4,
            "rotation.window.start", "HH:MM"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  window: {start: \"09:00\", end: \"17:00\", timezone: Mars/Olympus}\n",
            4, "rotation.window.timezone", "not a time zone"
        ),
        ("provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {jitter: 20d}\n", 3, "rotation.jitter", "less than half"),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nendpoint: http://organization.tencentcloudapi.com\n", 3,
            "endpoint", "only allowed to loopback"
        ),
        ("provider: tencent\nzone: z-vft38p2hq8tq\nendpoint: not a url\n", 3, "endpoint", "not a URL"),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\ncredentials: {idEnv: A, secretEnv: \"my secret\"}\n", 3,
            "credentials.secretEnv", "not an environment variable name"
        ),
        ("provider: tencent\nzone: z-vft38p2hq8tq\ncredentials: {idEnv: A}\n", 3, "credentials", "name both"),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  - file: {path: /x, mode: \"0666\"}\n", 4,
            "deliver[0].file.mode", "lets others"
        ),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  - exec: {command: []}\n", 4,
            "deliver[0].exec.command", "missing or empty"
        ),
        ("provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  - s3: {bucket: x}\n", 4, "deliver[0].s3", "unknown key"),
        ("provider: tencent\nzone: z-vft38p2hq8tq\ndeliver: {file: {path: /x}}\n", 3, "deliver", "must be a list"),
        ("provider: tencent\nzone: z-vft38p2hq8tq\nkeyLimit: 0\n", 3, "keyLimit", "whole number"),
        ("provider: tencent\nzone: z-vft38p2hq8tq\nname: \"bad name!\"\n", 3, "name", "must start with"),
        ("provider: tencent\nzone: [z-vft38p2hq8tq\n", 3, "", "YAML syntax: did not find expected ',' or ']'"),
        ("", nil, "", "the file is empty"),
        ("provider: tencent\nprovider: alibaba\nzone: z-vft38p2hq8tq\n", 2, "provider", "appears twice"),
        ("provider: tencent\nzone: z-vft38p2hq8tq\napiTimeZone: Beijing\n", 3, "apiTimeZone", "not a time zone"),
        (
            "provider: tencent\nzone: z-vft38p2hq8tq\nrotation: {keyLifetime: 30m, rotateBefore: 10m}\n", 3,
            "rotation.keyLifetime", "between 1h and 99 years"
        ),
    ]

    @Test("every validation rule names the file, the line, the key and a fix", arguments: invalid)
    func rejected(yaml: String, line: Int?, key: String, words: String) {
        do {
            _ = try PolicyLoader.parse(yaml: yaml, file: "policies/bad.yaml")
            Issue.record("accepted: \(yaml)")
        } catch let error as PolicyError {
            let issue = error.issues.first { $0.key == key && $0.message.contains(words) }
            #expect(issue != nil, "\(error.issues)")
            #expect(issue?.line == line, "\(error.issues)")
            #expect(issue?.description.hasPrefix("policies/bad.yaml") == true)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("the unknown-key message reads as documented")
    func message() throws {
        let error = #expect(throws: PolicyError.self) {
            try PolicyLoader.parse(
                yaml: "provider: tencent\nzone: z-vft38p2hq8tq\nrotation:\n  rotateBefor: 30d\n\(Self.sink)",
                file: "policies/prod.yaml"
            )
        }
        #expect(
            error?.description
                == "policies/prod.yaml:4: rotation.rotateBefor: unknown key `rotateBefor`, did you mean `rotateBefore`?"
        )
    }

    @Test("a set: names unique, one policy per zone")
    func set() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policies-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "provider: tencent\nzone: z-aaaaaaaaaaaa\n".write(
            toFile: directory + "/a.yaml",
            atomically: true,
            encoding: .utf8
        )
        try "name: a\nprovider: tencent\nzone: z-bbbbbbbbbbbb\n".write(
            toFile: directory + "/b.yaml",
            atomically: true,
            encoding: .utf8
        )
        try "provider: tencent\nzone: z-aaaaaaaaaaaa\n".write(
            toFile: directory + "/c.yml",
            atomically: true,
            encoding: .utf8
        )
        try "rotation: {gracePeriod: 1h}\n\(Self.sink)".write(
            toFile: directory + "/_defaults.yaml",
            atomically: true,
            encoding: .utf8
        )
        let error = #expect(throws: PolicyError.self) { try PolicyLoader.loadDirectory(directory) }
        #expect(error?.issues.contains { $0.key == "name" && $0.message.contains("unique") } == true)
        #expect(error?.issues.contains { $0.key == "zone" && $0.message.contains("one policy per zone") } == true)
        #expect(throws: PolicyError.self) { try PolicyLoader.loadDirectory(directory + "/missing") }
    }

    @Test("the repository's example and demo policies are valid")
    func repositoryPolicies() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for folder in ["policies/examples", "policies/demo"] {
            let policies = try PolicyLoader.loadDirectory(root.appendingPathComponent(folder).path)
            #expect(!policies.isEmpty, "\(folder)")
        }
    }

    @Test("a fuzzed YAML never crashes and always answers with a located error or a policy")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        let pieces = [
            "provider:", " tencent", "\n", "zone:", " z-vft38p2hq8tq", "rotation:", "  ", "rotateBefore: ", "30d", "[",
            "]", "{", "}", "- ", "file:", "\"", ":", "window:", "days: [mon]", "start: \"09:00\"", "\t", "#", "&a",
            "*a", "!!int", "90x", "deliver:", "exec: {command: [x]}",
        ]
        for _ in 0..<500 {
            let yaml = (0..<Int.random(in: 0...25, using: &generator)).map { _ in
                pieces.randomElement(using: &generator)!
            }.joined()
            do {
                _ = try PolicyLoader.parse(yaml: yaml, file: "fuzz.yaml")
            } catch let error as PolicyError {
                #expect(!error.issues.isEmpty)
                #expect(error.issues.allSatisfy { $0.description.hasPrefix("fuzz.yaml") })
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
    }
}

@Suite("Rotation windows")
struct WindowTests {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    @Test("contains honours days, hours and the time zone")
    func contains() {
        let window = RotationWindow(days: [.mon, .tue, .wed, .thu], start: 540, end: 1_020, timeZone: shanghai)
        let thursday0930Shanghai = Date(timeIntervalSince1970: 1_799_285_400)  // 2027-01-07T01:30:00Z
        #expect(window.contains(thursday0930Shanghai))
        #expect(!window.contains(thursday0930Shanghai.addingTimeInterval(8 * 3_600)), "17:30")
        #expect(!window.contains(thursday0930Shanghai.addingTimeInterval(86_400)), "Friday")
        #expect(
            window.nextOpening(atOrAfter: thursday0930Shanghai.addingTimeInterval(86_400))
                == thursday0930Shanghai.addingTimeInterval(4 * 86_400 - 1_800),
            "Monday 09:00 Shanghai"
        )
    }
}
