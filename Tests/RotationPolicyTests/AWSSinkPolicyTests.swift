import Foundation
import RotationPolicy
import SCIMRotatorCore
import Testing

@Suite("AWS sinks in policies")
struct AWSSinkPolicyTests {
    static let sinks = """
        provider: tencent
        zone: z-vft38p2hq8tq
        deliver:
          - aws-secrets-manager: {secretId: scim/tencent-prod, region: eu-west-1, key: token}
          - aws-secrets-manager:
              secretId: "arn:aws:secretsmanager:us-east-1:123456789012:secret:scim/x-AbCdEf"
              region: us-east-1
              endpoint: "https://vpce-1.secretsmanager.us-east-1.vpce.amazonaws.com"
              credentials: {idEnv: SINK_AWS_ID, secretEnv: SINK_AWS_SECRET, tokenEnv: SINK_AWS_TOKEN}
          - aws-ssm-parameter: {name: /scim-rotator/tencent-prod/token, region: ap-southeast-1, kmsKeyId: alias/scim}
          - aws-ssm-parameter: {name: scim-token, region: us-east-1, endpoint: "http://127.0.0.1:5000"}
        """

    @Test("both AWS sinks parse, with defaults for credentials, key and kmsKeyId")
    func parses() throws {
        let policy = try PolicyLoader.parse(yaml: Self.sinks, file: "p.yaml")
        #expect(policy.deliver.count == 4)
        guard case .awsSecretsManager(let plain) = policy.deliver[0],
            case .awsSecretsManager(let explicit) = policy.deliver[1],
            case .awsSSMParameter(let kms) = policy.deliver[2], case .awsSSMParameter(let local) = policy.deliver[3]
        else {
            Issue.record("wrong sinks: \(policy.deliver)")
            return
        }
        #expect(plain == AWSSecretsManagerSpec(secretId: "scim/tencent-prod", region: "eu-west-1", key: "token"))
        #expect(plain.credentials == AWSSinkCredentials.defaultNames)
        #expect(plain.credentials.tokenEnv == "AWS_SESSION_TOKEN")
        #expect(explicit.key == nil)
        #expect(explicit.endpoint?.host == "vpce-1.secretsmanager.us-east-1.vpce.amazonaws.com")
        #expect(
            explicit.credentials
                == .init(idEnv: "SINK_AWS_ID", secretEnv: "SINK_AWS_SECRET", tokenEnv: "SINK_AWS_TOKEN")
        )
        #expect(kms.kmsKeyId == "alias/scim" && kms.region == "ap-southeast-1" && kms.endpoint == nil)
        #expect(local.endpoint?.port == 5000 && local.kmsKeyId == nil)
        #expect(policy.deliver[0].summary == "aws-secrets-manager eu-west-1 scim/tencent-prod")
        #expect(policy.deliver[2].summary == "aws-ssm-parameter ap-southeast-1 /scim-rotator/tencent-prod/token")
        #expect(
            Set(policy.deliver.flatMap(\.environmentNames)) == [
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SINK_AWS_ID", "SINK_AWS_SECRET",
            ]
        )
    }

    static let invalid: [(String, String, String)] = [
        ("- aws-secrets-manager: {region: us-east-1}", "deliver[0].aws-secrets-manager.secretId", "missing"),
        ("- aws-secrets-manager: {secretId: s}", "deliver[0].aws-secrets-manager.region", "missing"),
        (
            "- aws-secrets-manager: {secretId: s, region: \"US East\"}", "deliver[0].aws-secrets-manager.region",
            "not an AWS region"
        ),
        (
            "- aws-secrets-manager: {secretId: s, region: us-east-1, key: expiresAt}",
            "deliver[0].aws-secrets-manager.key", "metadata field"
        ),
        (
            "- aws-secrets-manager: {secretId: s, region: us-east-1, endpoint: \"http://vpce.example.com\"}",
            "deliver[0].aws-secrets-manager.endpoint", "only allowed to loopback"
        ),
        (
            "- aws-secrets-manager: {secretId: s, region: us-east-1, credentials: {idEnv: A}}",
            "deliver[0].aws-secrets-manager.credentials", "name both"
        ),
        (
            "- aws-secrets-manager: {secretId: s, region: us-east-1, credentials: {idEnv: A, secretEnv: \"x y\"}}",
            "deliver[0].aws-secrets-manager.credentials.secretEnv", "not an environment variable name"
        ),
        (
            "- aws-secrets-manager: {secretId: s, region: us-east-1, versionStage: x}",
            "deliver[0].aws-secrets-manager.versionStage", "unknown key"
        ),
        (
            "- aws-secrets-manager: {secretId: \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf\", region: us-east-1}",
            "deliver[0].aws-secrets-manager.region", "differs from the region in secretId's ARN (eu-west-1)"
        ),
        ("- aws-ssm-parameter: {region: us-east-1}", "deliver[0].aws-ssm-parameter.name", "missing"),
        (
            "- aws-ssm-parameter: {name: scim/token, region: us-east-1}", "deliver[0].aws-ssm-parameter.name",
            "starts with /"
        ),
        (
            "- aws-ssm-parameter: {name: \"/a b\", region: us-east-1}", "deliver[0].aws-ssm-parameter.name",
            "not a parameter name"
        ),
        ("- aws-ssm-parameter: {name: /a}", "deliver[0].aws-ssm-parameter.region", "missing"),
    ]

    @Test("AWS sink mistakes are located", arguments: invalid)
    func sinkErrors(sink: String, key: String, words: String) {
        let yaml = "provider: tencent\nzone: z-vft38p2hq8tq\ndeliver:\n  \(sink)\n"
        do {
            _ = try PolicyLoader.parse(yaml: yaml, file: "p.yaml")
            Issue.record("expected an error at \(key)")
        } catch let error as PolicyError {
            #expect(
                error.issues.contains { $0.key == key && $0.message.contains(words) },
                "\(error.issues.map { "\($0.key): \($0.message)" })"
            )
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("two policies writing the same secret or parameter are warned about")
    func duplicateTargets() throws {
        func policy(_ zone: String, _ name: String) throws -> Policy {
            try PolicyLoader.parse(
                yaml: """
                    provider: tencent
                    name: \(name)
                    zone: \(zone)
                    deliver:
                      - aws-secrets-manager: {secretId: scim/shared, region: us-east-1}
                      - aws-ssm-parameter: {name: /scim/shared, region: us-east-1}
                    """,
                file: "\(name).yaml"
            )
        }
        let warnings = PolicyLoader.warnings([try policy("z-vft38p2hq8tq", "a"), try policy("z-abcdefghijkl", "b")])
            .map(\.description)
        #expect(warnings.filter { $0.contains("aws-secrets-manager us-east-1 scim/shared") }.count == 1, "\(warnings)")
        #expect(warnings.filter { $0.contains("aws-ssm-parameter us-east-1 /scim/shared") }.count == 1, "\(warnings)")
    }
}
