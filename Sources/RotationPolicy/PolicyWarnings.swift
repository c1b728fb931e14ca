import Foundation
import SCIMRotatorCore

/// Something in a valid policy that probably does not do what its author meant: `policy check` prints these.
public struct PolicyWarning: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var key: String
    public var message: String

    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)" }
}

extension PolicyLoader {
    /// Warnings about a set of valid policies, each alone and across the set.
    public static func warnings(_ policies: [Policy]) -> [PolicyWarning] {
        policies.flatMap(warnings(for:)) + sharedTargets(policies)
    }

    /// Warnings about one policy.
    public static func warnings(for policy: Policy) -> [PolicyWarning] {
        var warnings: [PolicyWarning] = []
        func warn(_ key: String, _ message: String) {
            warnings.append(PolicyWarning(file: policy.file, key: key, message: message))
        }
        let rotation = policy.rotation
        let lifetime = policy.effectiveKeyLifetime
        let lifetimeName = rotation.keyLifetime == nil ? "the key lifetime (one year)" : "keyLifetime \(lifetime)"
        if let maxAge = rotation.maxAge, maxAge > lifetime {
            warn(
                "rotation.maxAge",
                "\(maxAge) exceeds \(lifetimeName): keys expire before they are that old, so maxAge never triggers; "
                    + "make it shorter than the lifetime, or remove it"
            )
        }
        // From one promotion to the next rotation: the key's lifetime less rotateBefore, or maxAge if sooner.
        var interval = lifetime - rotation.rotateBefore
        if let maxAge = rotation.maxAge, maxAge < interval { interval = maxAge }
        if rotation.gracePeriod >= interval {
            warn(
                "rotation.gracePeriod",
                "\(rotation.gracePeriod) is not shorter than the rotation interval (\(interval): "
                    + (rotation.maxAge == interval
                        ? "maxAge" : "\(lifetimeName) less rotateBefore \(rotation.rotateBefore)")
                    + "): the previous key would still be in its grace period when the next rotation starts, and at "
                    + "the key limit that rotation must retire it early or is blocked; shorten gracePeriod"
            )
        }
        let traits = policy.provider.traits
        if let implied = traits.impliedRegion, policy.region == nil, policy.endpoint == nil {
            warn(
                "region",
                "not set, so \(implied) is assumed (the official SDK refuses to guess); set `region:` to your "
                    + "directory's region (\(traits.serviceName) regions: "
                    + "\(traits.serviceRegions.joined(separator: ", ")))"
            )
        }
        return warnings
    }

    /// Two sinks (of one policy or of two) that write the same place overwrite each other's key: the identity
    /// provider then holds only one of them, and the other zone's key stops working after its grace period.
    static func sharedTargets(_ policies: [Policy]) -> [PolicyWarning] {
        var seen: [String: (policy: Policy, index: Int)] = [:]
        var warnings: [PolicyWarning] = []
        for policy in policies {
            for (index, spec) in policy.deliver.enumerated() {
                guard let target = target(spec) else { continue }
                if let (other, otherIndex) = seen[target] {
                    let where_ =
                        other.file == policy.file
                        ? "deliver[\(otherIndex)] of this policy" : "policy \(other.name) (\(other.file))"
                    warnings.append(
                        PolicyWarning(
                            file: policy.file,
                            key: "deliver[\(index)]",
                            message:
                                "\(spec.summary) is also the target of \(where_): each rotation would overwrite the "
                                + "other's key (easy to inherit from _defaults.yaml); give each policy its own target"
                        )
                    )
                } else {
                    seen[target] = (policy, index)
                }
            }
        }
        return warnings
    }

    /// Where a sink writes, normalised so that two spellings of one place compare equal; nil for sinks that do not
    /// write a single place (exec, Entra, Okta).
    static func target(_ spec: DeliverySpec) -> String? {
        func path(_ text: String) -> String {
            let absolute =
                text.hasPrefix("/")
                ? text : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(text)
            return (absolute as NSString).standardizingPath
        }
        switch spec {
        case .file(let file, _): return "file:" + path(file)
        case .manual(let manual): return "file:" + path(manual.file)
        case .vault(let vault):
            let host = vault.address.host?.lowercased() ?? ""
            let port = vault.address.port.map(String.init) ?? ""
            let segments = "\(vault.mount)/\(vault.path)".split(separator: "/").joined(separator: "/")
            return "vault:\(host):\(port)/\(vault.namespace ?? "")/\(segments)"
        case .kubernetes(let kubernetes):
            let cluster = kubernetes.server?.absoluteString ?? kubernetes.kubeconfig.map(path) ?? "in-cluster"
            return "kubernetes:\(cluster)/\(kubernetes.namespace)/\(kubernetes.name)/\(kubernetes.key)"
        case .awsSecretsManager(let aws):
            return "aws-secrets-manager:\(aws.endpoint?.absoluteString ?? aws.region)/\(aws.secretId)"
        case .awsSSMParameter(let aws):
            return "aws-ssm-parameter:\(aws.endpoint?.absoluteString ?? aws.region)/\(aws.name)"
        case .exec, .entra, .okta: return nil
        }
    }
}
