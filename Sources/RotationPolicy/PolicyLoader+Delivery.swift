import Foundation
import SCIMRotatorCore
import Yams

/// `deliver:` and `notify:`.
extension PolicyLoader {
    static let sinkKinds = [
        "file", "exec", "vault", "entra", "kubernetes", "okta", "manual", "aws-secrets-manager", "aws-ssm-parameter",
    ]

    static func readDeliver(_ node: Node, reader: inout PolicyReader) -> [DeliverySpec] {
        guard case .sequence(let items) = node else {
            reader.issue(
                node,
                "deliver",
                "must be a list of sinks, e.g. `- file: {path: /var/lib/scim-rotator/out/NAME.token}`"
            )
            return []
        }
        var specs: [DeliverySpec] = []
        for (index, item) in items.enumerated() {
            let path = "deliver[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowed: sinkKinds) else { continue }
            guard entries.count == 1, let (kind, body) = entries.first else {
                reader.issue(
                    item,
                    path,
                    "each entry is exactly one sink: \(sinkKinds.map { "`\($0):`" }.joined(separator: ", "))"
                )
                continue
            }
            let at = "\(path).\(kind)"
            let spec: DeliverySpec?
            switch kind {
            case "file": spec = readFile(body, at, &reader)
            case "exec": spec = readExec(body, at, &reader)
            case "vault": spec = readVault(body, at, &reader)
            case "entra": spec = readEntra(body, at, &reader)
            case "kubernetes": spec = readKubernetes(body, at, &reader)
            case "okta": spec = readOkta(body, at, &reader)
            case "aws-secrets-manager": spec = readAWSSecretsManager(body, at, &reader)
            case "aws-ssm-parameter": spec = readAWSSSMParameter(body, at, &reader)
            default: spec = readManual(body, at, &reader)
            }
            if let spec { specs.append(spec) }
        }
        return specs
    }

    /// A required field: reports it missing with what it is for.
    static func required(
        _ fields: [String: Node],
        _ key: String,
        _ path: String,
        _ node: Node,
        _ what: String,
        _ reader: inout PolicyReader
    ) -> String? {
        guard fields[key] != nil else {
            reader.issue(node, "\(path).\(key)", "missing; \(what)")
            return nil
        }
        return reader.string(fields[key], "\(path).\(key)")
    }

    static func mode(_ node: Node?, _ path: String, _ reader: inout PolicyReader) -> Int {
        guard let node else { return 0o600 }
        guard let text = node.string, text.range(of: "^0?[0-7]{3}$", options: .regularExpression) != nil,
            let parsed = Int(text, radix: 8)
        else {
            reader.issue(node, path, "must be an octal mode in quotes, e.g. \"0600\"")
            return 0o600
        }
        if parsed & 0o077 & ~0o040 != 0 {
            reader.issue(
                node,
                path,
                "\(text) lets others read or write the key; use \"0600\" (or \"0640\" for a group)"
            )
        }
        return parsed
    }

    static func readFile(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard let fields = reader.mapping(body, path: path, allowed: ["path", "mode"]),
            let file = required(fields, "path", path, body, "the file the new key is written to", &reader)
        else { return nil }
        return .file(path: file, mode: mode(fields["mode"], "\(path).mode", &reader))
    }

    static func readExec(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard let fields = reader.mapping(body, path: path, allowed: ["command", "timeout"]) else { return nil }
        guard let command = reader.stringList(fields["command"], "\(path).command"), !command.isEmpty else {
            reader.issue(
                body,
                "\(path).command",
                "missing or empty; a list like [\"/usr/local/bin/push-scim-token\", \"--app\", \"okta\"] (the key arrives on stdin)"
            )
            return nil
        }
        return .exec(
            command: command,
            timeout: reader.duration(fields["timeout"], "\(path).timeout") ?? TimeSpan(seconds: 60)
        )
    }

    static func readVault(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard
            let fields = reader.mapping(
                body,
                path: path,
                allowed: ["address", "mount", "path", "namespace", "tokenEnv", "roleIdEnv", "secretIdEnv", "authMount"]
            )
        else { return nil }
        if fields["address"] == nil {
            reader.issue(body, "\(path).address", "missing; the Vault address, e.g. https://vault.example.com:8200")
        }
        let address = reader.url(fields["address"], "\(path).address")
        let secretPath = required(fields, "path", path, body, "the KV v2 secret path, e.g. scim/tencent-prod", &reader)
        let roleIdEnv = reader.environmentName(fields["roleIdEnv"], "\(path).roleIdEnv")
        let secretIdEnv = reader.environmentName(fields["secretIdEnv"], "\(path).secretIdEnv")
        if (roleIdEnv == nil) != (secretIdEnv == nil), fields["roleIdEnv"] != nil || fields["secretIdEnv"] != nil {
            reader.issue(body, path, "AppRole needs both roleIdEnv and secretIdEnv")
        }
        if fields["tokenEnv"] != nil, roleIdEnv != nil {
            reader.issue(body, path, "use either tokenEnv or AppRole (roleIdEnv/secretIdEnv), not both")
        }
        let tokenEnv =
            roleIdEnv == nil ? (reader.environmentName(fields["tokenEnv"], "\(path).tokenEnv") ?? "VAULT_TOKEN") : nil
        guard let address, let secretPath else { return nil }
        return .vault(
            VaultSpec(
                address: address,
                mount: reader.string(fields["mount"], "\(path).mount") ?? "secret",
                path: secretPath,
                namespace: reader.string(fields["namespace"], "\(path).namespace"),
                tokenEnv: tokenEnv,
                roleIdEnv: roleIdEnv,
                secretIdEnv: secretIdEnv,
                authMount: reader.string(fields["authMount"], "\(path).authMount") ?? "approle"
            )
        )
    }

    static func readEntra(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard
            let fields = reader.mapping(
                body,
                path: path,
                allowed: [
                    "tenantId", "servicePrincipalId", "clientId", "clientSecretEnv", "scimUrl", "loginEndpoint",
                    "graphEndpoint",
                ]
            )
        else { return nil }
        let tenant = required(fields, "tenantId", path, body, "the Entra tenant (directory) id", &reader)
        let principal = required(
            fields,
            "servicePrincipalId",
            path,
            body,
            "the object id of the enterprise app's service principal",
            &reader
        )
        let client = required(
            fields,
            "clientId",
            path,
            body,
            "the app registration that may call Graph (Synchronization.ReadWrite.All)",
            &reader
        )
        if fields["clientSecretEnv"] == nil {
            reader.issue(
                body,
                "\(path).clientSecretEnv",
                "missing; the environment variable holding that app's client secret"
            )
        }
        let secretEnv = reader.environmentName(fields["clientSecretEnv"], "\(path).clientSecretEnv")
        let scim = reader.url(fields["scimUrl"], "\(path).scimUrl")
        let login = reader.url(fields["loginEndpoint"], "\(path).loginEndpoint")
        let graph = reader.url(fields["graphEndpoint"], "\(path).graphEndpoint")
        guard let tenant, let principal, let client, let secretEnv else { return nil }
        return .entra(
            EntraSpec(
                tenantId: tenant,
                servicePrincipalId: principal,
                clientId: client,
                clientSecretEnv: secretEnv,
                scimURL: scim,
                loginEndpoint: login,
                graphEndpoint: graph
            )
        )
    }

    static func readKubernetes(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard
            let fields = reader.mapping(
                body,
                path: path,
                allowed: ["namespace", "name", "key", "kubeconfig", "server", "tokenEnv"]
            )
        else { return nil }
        let namespace = required(fields, "namespace", path, body, "the Secret's namespace", &reader)
        let name = required(fields, "name", path, body, "the Secret's name", &reader)
        let key = required(fields, "key", path, body, "the key inside the Secret's data, e.g. token", &reader)
        let kubeconfig = reader.string(fields["kubeconfig"], "\(path).kubeconfig")
        let server = reader.url(fields["server"], "\(path).server")
        let tokenEnv = reader.environmentName(fields["tokenEnv"], "\(path).tokenEnv")
        if kubeconfig != nil, server != nil {
            reader.issue(body, path, "use either kubeconfig or server, not both (neither: in-cluster)")
        }
        if server != nil, tokenEnv == nil {
            reader.issue(body, "\(path).tokenEnv", "with server, name the environment variable holding a bearer token")
        }
        for (value, field) in [(namespace, "namespace"), (name, "name")] {
            if let value, value.range(of: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", options: .regularExpression) == nil {
                reader.issue(
                    fields[field],
                    "\(path).\(field)",
                    "`\(value)` is not a Kubernetes name (lower-case letters, digits, - and .)"
                )
            }
        }
        guard let namespace, let name, let key else { return nil }
        return .kubernetes(
            KubernetesSpec(
                namespace: namespace,
                name: name,
                key: key,
                kubeconfig: kubeconfig,
                server: server,
                tokenEnv: tokenEnv
            )
        )
    }

    static func readOkta(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard let fields = reader.mapping(body, path: path, allowed: ["orgUrl", "appId", "apiTokenEnv", "scimUrl"])
        else { return nil }
        if fields["orgUrl"] == nil { reader.issue(body, "\(path).orgUrl", "missing; e.g. https://example.okta.com") }
        let org = reader.url(fields["orgUrl"], "\(path).orgUrl")
        let app = required(fields, "appId", path, body, "the Org2Org app's id", &reader)
        if fields["apiTokenEnv"] == nil {
            reader.issue(body, "\(path).apiTokenEnv", "missing; the environment variable holding an Okta API token")
        }
        let tokenEnv = reader.environmentName(fields["apiTokenEnv"], "\(path).apiTokenEnv")
        let scim = reader.url(fields["scimUrl"], "\(path).scimUrl")
        guard let org, let app, let tokenEnv else { return nil }
        return .okta(OktaSpec(orgURL: org, appId: app, apiTokenEnv: tokenEnv, scimURL: scim))
    }

    static func readAWSSecretsManager(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard
            let fields = reader.mapping(
                body,
                path: path,
                allowed: ["secretId", "region", "key", "endpoint", "credentials"]
            )
        else { return nil }
        let secretId = required(
            fields,
            "secretId",
            path,
            body,
            "the name or ARN of an existing secret, e.g. scim/tencent-prod (aws secretsmanager create-secret)",
            &reader
        )
        let region = awsRegion(fields, path, body, &reader)
        let key = reader.string(fields["key"], "\(path).key")
        if let key, ["credentialId", "expiresAt"].contains(key) {
            reader.issue(
                fields["key"],
                "\(path).key",
                "`\(key)` is a metadata field of the stored JSON object; name the key's field otherwise, e.g. token"
            )
        }
        if let secretId, secretId.count > 2048 {
            reader.issue(fields["secretId"], "\(path).secretId", "longer than 2048 characters; use the name or ARN")
        }
        // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>: the call goes to `region`.
        if let secretId, let region, secretId.hasPrefix("arn:") {
            let parts = secretId.split(separator: ":", maxSplits: 6, omittingEmptySubsequences: false)
            if parts.count == 7, parts[2] == "secretsmanager", parts[3] != region {
                reader.issue(
                    fields["region"],
                    "\(path).region",
                    "`\(region)` differs from the region in secretId's ARN (\(parts[3])); the secret is only found there"
                )
            }
        }
        let endpoint = reader.url(fields["endpoint"], "\(path).endpoint")
        let credentials = awsCredentials(fields["credentials"], path, &reader)
        guard let secretId, let region else { return nil }
        return .awsSecretsManager(
            AWSSecretsManagerSpec(
                secretId: secretId,
                region: region,
                key: key,
                endpoint: endpoint,
                credentials: credentials
            )
        )
    }

    static func readAWSSSMParameter(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard
            let fields = reader.mapping(
                body,
                path: path,
                allowed: ["name", "region", "kmsKeyId", "endpoint", "credentials"]
            )
        else { return nil }
        let name = required(
            fields,
            "name",
            path,
            body,
            "the parameter's name, e.g. /scim-rotator/tencent-prod/token (created when missing)",
            &reader
        )
        if let name, name.range(of: "^[A-Za-z0-9_.\\-/]{1,2048}$", options: .regularExpression) == nil {
            reader.issue(
                fields["name"],
                "\(path).name",
                "`\(name)` is not a parameter name (letters, digits, _ . - and /, e.g. /scim-rotator/prod/token)"
            )
        } else if let name, name.contains("/"), !name.hasPrefix("/") {
            reader.issue(
                fields["name"],
                "\(path).name",
                "a hierarchical parameter name starts with /, e.g. /\(name)"
            )
        }
        let region = awsRegion(fields, path, body, &reader)
        let kmsKeyId = reader.string(fields["kmsKeyId"], "\(path).kmsKeyId")
        let endpoint = reader.url(fields["endpoint"], "\(path).endpoint")
        let credentials = awsCredentials(fields["credentials"], path, &reader)
        guard let name, let region else { return nil }
        return .awsSSMParameter(
            AWSSSMParameterSpec(
                name: name,
                region: region,
                kmsKeyId: kmsKeyId,
                endpoint: endpoint,
                credentials: credentials
            )
        )
    }

    /// The AWS region (required: a sink's region is never guessed).
    static func awsRegion(
        _ fields: [String: Node],
        _ path: String,
        _ body: Node,
        _ reader: inout PolicyReader
    ) -> String? {
        guard let region = required(fields, "region", path, body, "the AWS region, e.g. us-east-1", &reader) else {
            return nil
        }
        guard CloudRegion.isValid(region) else {
            reader.issue(fields["region"], "\(path).region", "`\(region)` is not an AWS region id, e.g. us-east-1")
            return nil
        }
        return region
    }

    /// `credentials: {idEnv, secretEnv, tokenEnv}`: the variables holding the AWS access key; by default
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (when set).
    static func awsCredentials(
        _ node: Node?,
        _ path: String,
        _ reader: inout PolicyReader
    ) -> CloudCredentials.EnvironmentNames {
        let defaults = AWSSinkCredentials.defaultNames
        guard let node,
            let entries = reader.mapping(
                node,
                path: "\(path).credentials",
                allowed: ["idEnv", "secretEnv", "tokenEnv"]
            )
        else { return defaults }
        if entries["idEnv"] == nil || entries["secretEnv"] == nil {
            reader.issue(
                node,
                "\(path).credentials",
                "name both `idEnv` and `secretEnv` (the variables holding the AWS access key id and secret)"
            )
        }
        return CloudCredentials.EnvironmentNames(
            idEnv: reader.environmentName(entries["idEnv"], "\(path).credentials.idEnv") ?? defaults.idEnv,
            secretEnv: reader.environmentName(entries["secretEnv"], "\(path).credentials.secretEnv")
                ?? defaults.secretEnv,
            tokenEnv: entries["tokenEnv"] == nil
                ? nil : reader.environmentName(entries["tokenEnv"], "\(path).credentials.tokenEnv")
        )
    }

    static func readManual(_ body: Node, _ path: String, _ reader: inout PolicyReader) -> DeliverySpec? {
        guard let fields = reader.mapping(body, path: path, allowed: ["file", "mode", "instructions"]) else {
            return nil
        }
        let file = required(
            fields,
            "file",
            path,
            body,
            "where the person picks up the key (readable only by the service user)",
            &reader
        )
        let instructions =
            reader.string(fields["instructions"], "\(path).instructions")
            ?? "Paste the new SCIM key into the identity provider."
        guard let file else { return nil }
        return .manual(
            ManualSpec(file: file, mode: mode(fields["mode"], "\(path).mode", &reader), instructions: instructions)
        )
    }

    static func readNotify(_ node: Node, reader: inout PolicyReader) -> [NotifySpec] {
        guard case .sequence(let items) = node else {
            reader.issue(node, "notify", "must be a list, e.g. `- webhook: {urlEnv: SLACK_WEBHOOK_URL, format: slack}`")
            return []
        }
        var specs: [NotifySpec] = []
        for (index, item) in items.enumerated() {
            let path = "notify[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowed: ["webhook"]), let body = entries["webhook"],
                let fields = reader.mapping(
                    body,
                    path: "\(path).webhook",
                    allowed: ["url", "urlEnv", "on", "format", "authorizationEnv"]
                )
            else { continue }
            var spec = NotifySpec()
            spec.url = reader.url(fields["url"], "\(path).webhook.url")
            spec.urlEnv = reader.environmentName(fields["urlEnv"], "\(path).webhook.urlEnv")
            if (fields["url"] == nil) == (fields["urlEnv"] == nil) {
                reader.issue(
                    body,
                    "\(path).webhook",
                    "give exactly one of `url` or `urlEnv` (a variable holding the URL, for URLs that embed a secret, like Slack's)"
                )
            }
            if let kinds = reader.stringList(fields["on"], "\(path).webhook.on") {
                spec.on = []
                for kind in kinds {
                    if let parsed = NotificationKind(rawValue: kind) {
                        spec.on.insert(parsed)
                    } else {
                        var message =
                            "`\(kind)` is not a notification; use \(NotificationKind.allCases.map(\.rawValue).joined(separator: ", "))"
                        if let near = Suggestion.closest(to: kind, in: NotificationKind.allCases.map(\.rawValue)) {
                            message = "`\(kind)` is not a notification, did you mean `\(near)`?"
                        }
                        reader.issue(fields["on"], "\(path).webhook.on", message)
                    }
                }
            }
            if let format = reader.string(fields["format"], "\(path).webhook.format") {
                if let parsed = NotifySpec.Format(rawValue: format) {
                    spec.format = parsed
                } else {
                    reader.issue(
                        fields["format"],
                        "\(path).webhook.format",
                        "`\(format)` is not a format; use json or slack"
                    )
                }
            }
            spec.authorizationEnv = reader.environmentName(
                fields["authorizationEnv"],
                "\(path).webhook.authorizationEnv"
            )
            specs.append(spec)
        }
        return specs
    }

    /// `_defaults.yaml` under a policy: mappings merge (the policy wins), anything else is replaced.
    static func merge(_ defaults: Node, into policy: Node) -> Node {
        guard case .mapping(let base) = defaults, case .mapping(let over) = policy else { return policy }
        var pairs: [(Node, Node)] = []
        for (key, value) in base {
            if let overriding = over.first(where: { $0.key == key })?.value {
                pairs.append((key, merge(value, into: overriding)))
            } else {
                pairs.append((key, value))
            }
        }
        for (key, value) in over where !base.contains(where: { $0.key == key }) { pairs.append((key, value)) }
        return .mapping(Node.Mapping(pairs, over.tag, over.style, over.mark))
    }
}
