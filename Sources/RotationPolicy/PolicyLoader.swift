import Foundation
import SCIMRotatorCore
import Yams

/// Reads and validates policy files. Every rule that can be checked before anything runs is checked here.
public enum PolicyLoader {
    static let topKeys = [
        "name", "provider", "zone", "endpoint", "region", "credentials", "apiTimeZone", "keyLimit", "rotation",
        "deliver", "verify", "notify",
    ]
    /// Keys `_defaults.yaml` may set for every policy.
    static var defaultsKeys: [String] { topKeys.filter { $0 != "name" && $0 != "zone" } }
    public static let defaultsFileName = "_defaults.yaml"
    static let rotationKeys = [
        "keyLifetime", "rotateBefore", "maxAge", "gracePeriod", "deleteAfter", "window", "jitter", "minBackoff",
        "maxBackoff", "stuckAfter", "warnBefore",
    ]

    /// Reads one policy file, under the defaults of its directory's `_defaults.yaml` if there is one.
    public static func load(file: String, defaults: Node? = nil) throws -> Policy {
        try parse(yaml: text(readFile(file).get()), file: file, defaults: defaults)
    }

    /// Reads `_defaults.yaml` in `directory`: the keys every policy there inherits (a policy's own keys win;
    /// mappings merge, lists are replaced). Nil when there is none.
    public static func loadDefaults(directory: String) throws -> Node? {
        let file = (directory as NSString).appendingPathComponent(defaultsFileName)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let yaml = text(try readFile(file).get())
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw PolicyError([syntaxIssue(error, yaml: yaml, file: file)])
        }
        guard let node else { return nil }
        var reader = PolicyReader(file: file)
        guard reader.mapping(node, path: "", allowed: defaultsKeys) != nil else { throw PolicyError(reader.issues) }
        if !reader.issues.isEmpty { throw PolicyError(reader.issues) }
        return node
    }

    /// Reads every `*.yaml`/`*.yml` directly in `directory` (not subdirectories; names starting with `_` or `.` are
    /// skipped), and checks the set: unique names, one policy per zone.
    public static func loadDirectory(_ directory: String) throws -> [Policy] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PolicyError([
                PolicyIssue(
                    file: directory,
                    line: nil,
                    key: "",
                    message: "no such policy directory; pass --policies DIR or set SCIM_ROTATOR_POLICIES"
                )
            ])
        }
        return try loadFiles(policyFiles(in: directory))
    }

    /// The policy files directly in `directory`, sorted.
    static func policyFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter {
            ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix("_") && !$0.hasPrefix(".")
        }
        .sorted().map { (directory as NSString).appendingPathComponent($0) }
    }

    /// Reads the given files as one set (each under its own directory's `_defaults.yaml`).
    public static func loadFiles(_ files: [String]) throws -> [Policy] {
        var policies: [Policy] = []
        var issues: [PolicyIssue] = []
        var defaultsByDirectory: [String: Result<Node?, PolicyError>] = [:]
        for file in files {
            let parent = (file as NSString).deletingLastPathComponent
            let directory = parent.isEmpty ? "." : parent
            if defaultsByDirectory[directory] == nil {
                let loaded = Result { try loadDefaults(directory: directory) }.mapError {
                    $0 as? PolicyError ?? PolicyError([])
                }
                defaultsByDirectory[directory] = loaded
                if case .failure(let error) = loaded { issues += error.issues }
            }
            guard case .success(let defaults)? = defaultsByDirectory[directory] else { continue }
            do {
                policies.append(try load(file: file, defaults: defaults))
            } catch let error as PolicyError {
                issues += error.issues
            }
        }
        var byName: [String: Policy] = [:]
        var byZone: [String: Policy] = [:]
        for policy in policies {
            if let other = byName[policy.name] {
                issues.append(
                    PolicyIssue(
                        file: policy.file,
                        line: nil,
                        key: "name",
                        message: "`\(policy.name)` is also the name of \(other.file); names must be unique"
                    )
                )
            }
            byName[policy.name] = policy
            let zoneKey = "\(policy.provider.rawValue)/\(policy.zone)"
            if let other = byZone[zoneKey] {
                issues.append(
                    PolicyIssue(
                        file: policy.file,
                        line: nil,
                        key: "zone",
                        message: "zone \(policy.zone) is also rotated by \(other.file); one policy per zone, or they "
                            + "would retire each other's keys"
                    )
                )
            }
            byZone[zoneKey] = policy
        }
        guard issues.isEmpty else { throw PolicyError(issues) }
        return policies
    }

    /// Parses and validates one policy document.
    public static func parse(yaml: String, file: String, defaults: Node? = nil) throws -> Policy {
        var reader = PolicyReader(file: file)
        var root: Node?
        let yaml = withoutByteOrderMark(yaml)
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw PolicyError([syntaxIssue(error, yaml: yaml, file: file)])
        }
        if let defaults, let own = root { root = merge(defaults, into: own) }
        guard let root, let top = reader.mapping(root, path: "", allowed: topKeys) else {
            if root == nil {
                reader.issue(nil, "", "the file is empty; a policy needs at least `provider:` and `zone:`")
            }
            throw PolicyError(reader.issues)
        }
        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = reader.string(top["name"], "name") ?? defaultName
        if name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*$", options: .regularExpression) == nil {
            reader.issue(
                top["name"],
                "name",
                "`\(name)` must start with a letter or digit and use only letters, digits, . _ -"
            )
        }

        var provider: ProviderKind?
        if let text = reader.string(top["provider"], "provider") {
            provider = ProviderKind(rawValue: text)
            if provider == nil {
                reader.issue(top["provider"], "provider", "`\(text)` is not a provider; use \(anyOf { "`\($0)`" })")
            }
        } else if top["provider"] == nil {
            reader.issue(root, "provider", "missing; add \(anyOf { "`provider: \($0)`" })")
        }

        var zone = ""
        if let text = reader.string(top["zone"], "zone") {
            zone = text
            if let traits = provider?.traits, !traits.isValidZone(text) {
                reader.issue(top["zone"], "zone", "`\(text)` is not \(traits.zoneHint), e.g. \(traits.exampleZone)")
            }
        } else if top["zone"] == nil {
            reader.issue(
                root,
                "zone",
                "missing; add the \(provider?.traits.zoneNoun ?? anyZoneNoun) to rotate, e.g. `zone: \((provider ?? .tencent).traits.exampleZone)`"
            )
        }

        let endpoint = reader.url(top["endpoint"], "endpoint")
        let region = reader.string(top["region"], "region")
        checkRegion(region, top["region"], provider, &reader)
        if let traits = provider?.traits, traits.requiresRegion, top["region"] == nil {
            reader.issue(
                root,
                "region",
                "missing; \(traits.serviceName)'s SCIM endpoint depends on the region, e.g. `region: us-east-1` "
                    + "(one of \(traits.exampleRegions))"
            )
        }
        for key in ["endpoint", "credentials"] where top[key] != nil {
            if let fix = provider?.traits.inapplicablePolicyKeys[key] { reader.issue(top[key], key, fix) }
        }
        var credentials: CloudCredentials.EnvironmentNames?
        if let node = top["credentials"],
            let entries = reader.mapping(node, path: "credentials", allowed: ["idEnv", "secretEnv", "tokenEnv"])
        {
            let defaults = (provider ?? .tencent).traits.defaultCredentials
            credentials = CloudCredentials.EnvironmentNames(
                idEnv: reader.environmentName(entries["idEnv"], "credentials.idEnv") ?? defaults.idEnv,
                secretEnv: reader.environmentName(entries["secretEnv"], "credentials.secretEnv") ?? defaults.secretEnv,
                tokenEnv: entries["tokenEnv"] == nil
                    ? nil : reader.environmentName(entries["tokenEnv"], "credentials.tokenEnv")
            )
            if entries["idEnv"] == nil || entries["secretEnv"] == nil {
                reader.issue(
                    node,
                    "credentials",
                    "name both `idEnv` and `secretEnv` (the variables holding this zone's access key)"
                )
            }
        }

        var apiTimeZone: TimeZone?
        if let text = reader.string(top["apiTimeZone"], "apiTimeZone") {
            apiTimeZone = parseTimeZone(text)
            if apiTimeZone == nil {
                reader.issue(
                    top["apiTimeZone"],
                    "apiTimeZone",
                    "`\(text)` is not a time zone; write +08:00 or an IANA name like Asia/Shanghai"
                )
            }
            if let fix = provider?.traits.inapplicablePolicyKeys["apiTimeZone"] {
                reader.issue(top["apiTimeZone"], "apiTimeZone", fix)
            }
        }
        let keyLimit =
            reader.integer(top["keyLimit"], "keyLimit", range: 1...10)
            ?? (provider ?? .tencent).traits.documentedKeyLimit
        if let traits = provider?.traits, !traits.canDisable, keyLimit < 2 {
            reader.issue(
                top["keyLimit"],
                "keyLimit",
                "must be at least 2: \(traits.serviceName) cannot disable a key and refuses to delete its last one, so "
                    + "a rotation needs room for a second key"
            )
        }

        var rotation = RotationSettings()
        if let node = top["rotation"], let entries = reader.mapping(node, path: "rotation", allowed: rotationKeys) {
            rotation = readRotation(entries, node: node, provider: provider, reader: &reader)
        }
        var deliver: [DeliverySpec] = []
        if let node = top["deliver"] {
            deliver = readDeliver(node, reader: &reader)
        }
        checkDeliver(top["deliver"], deliver, root, &reader)
        var notify: [NotifySpec] = []
        if let node = top["notify"] { notify = readNotify(node, reader: &reader) }
        var verify = VerifySpec()
        if let node = top["verify"], let entries = reader.mapping(node, path: "verify", allowed: ["scim", "current"]) {
            if let scim = entries["scim"],
                let fields = reader.mapping(scim, path: "verify.scim", allowed: ["url", "attempts", "interval"])
            {
                verify.scimURL = reader.url(fields["url"], "verify.scim.url")
                verify.attempts =
                    reader.integer(fields["attempts"], "verify.scim.attempts", range: 1...20) ?? verify.attempts
                verify.interval = reader.duration(fields["interval"], "verify.scim.interval") ?? verify.interval
            }
            if let current = entries["current"] {
                if current.string == "never" {
                    verify.current = nil
                } else {
                    verify.current = reader.duration(current, "verify.current") ?? verify.current
                }
            }
        }

        guard reader.issues.isEmpty, let provider else { throw PolicyError(reader.issues) }
        return Policy(
            name: name,
            file: file,
            provider: provider,
            zone: zone,
            endpoint: endpoint,
            region: region,
            credentials: credentials,
            apiTimeZone: apiTimeZone,
            keyLimit: keyLimit,
            rotation: rotation,
            deliver: deliver,
            verify: verify,
            notify: notify
        )
    }

    /// Every provider, each written by `spelling`, as a choice: "`tencent` or `alibaba`".
    static func anyOf(_ spelling: (String) -> String) -> String {
        let all = ProviderKind.allCases.map { spelling($0.rawValue) }
        return all.count < 2 ? all.joined() : all.dropLast().joined(separator: ", ") + " or " + all[all.count - 1]
    }

    /// Every cloud's name for a zone, for a policy that names no provider: "ZoneId / DirectoryId".
    static var anyZoneNoun: String { ProviderKind.allCases.map(\.traits.zoneNoun).joined(separator: " / ") }

    static func parseTimeZone(_ text: String) -> TimeZone? {
        if let match = text.firstMatch(of: /^([+-])(\d{2}):(\d{2})$/), let hours = Int(match.2),
            let minutes = Int(match.3),
            hours <= 14, minutes < 60
        {
            return TimeZone(secondsFromGMT: (match.1 == "-" ? -1 : 1) * (hours * 3_600 + minutes * 60))
        }
        return text.contains("/") || text == "UTC" ? TimeZone(identifier: text) : nil
    }

    /// A YAML syntax error as a located issue: the line the parser stopped at, and what it expected.
    static func syntaxIssue(_ error: YamlError, yaml: String, file: String) -> PolicyIssue {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML syntax: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            return PolicyIssue(file: file, line: mark.line, key: "", message: message)
        case .duplicatedKeysInMapping(let duplicates, _):
            let key = duplicates.sorted().first ?? ""
            let pattern = "^\\s*(- )?\(NSRegularExpression.escapedPattern(for: key))\\s*:"
            let lines = yaml.components(separatedBy: "\n").enumerated().filter {
                $0.element.range(of: pattern, options: .regularExpression) != nil
            }
            return PolicyIssue(
                file: file,
                line: lines.dropFirst().first.map { $0.offset + 1 },
                key: key,
                message: "appears twice; keep one"
            )
        default:
            return PolicyIssue(file: file, line: nil, key: "", message: "YAML: \(error)")
        }
    }
}
