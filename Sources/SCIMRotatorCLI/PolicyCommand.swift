internal import ArgumentParser
internal import Delivery
internal import Foundation
internal import RotationPolicy
internal import SCIMRotatorCore

extension SCIMRotator {
    struct PolicyGroup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Work with policy files.",
            subcommands: [Check.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "check",
                abstract: "Validate policy files without running anything.",
                discussion: """
                    Checks every rule that can be checked offline: keys (with suggestions for typos), durations, \
                    rotateBefore < keyLifetime, zone id and region formats, windows, sinks (at least one: use \
                    `manual` to hand keys to a person), URLs (https, or http to loopback addresses: 127.0.0.0/8, ::1, \
                    localhost), and across files: unique names, one policy per zone.

                    It warns (exit status still 0) when maxAge exceeds the key lifetime, when gracePeriod is not \
                    shorter than the rotation interval, when two policies deliver to the same file, Vault path, \
                    Kubernetes key, AWS secret or SSM parameter (easy to inherit from _defaults.yaml), when an \
                    Alibaba policy names no region (cn-shanghai is assumed), and when the environment variables a \
                    policy names are not set here.

                    Exit status 1 when any file is invalid.
                    """
            )

            @OptionGroup var common: CommonOptions

            @Argument(help: "Policy files (default: every *.yaml in --policies).")
            var files: [String] = []

            /// What this machine lacks for a policy: unset variables, missing files and directories.
            static func environmentWarnings(_ policy: Policy, environment: [String: String]) -> [String] {
                var warnings: [String] = []
                func variable(_ name: String?, _ what: String) {
                    guard let name, (environment[name] ?? "").isEmpty else { return }
                    warnings.append("environment variable \(name) is not set here (\(what))")
                }
                if policy.provider.traits.canList {  // an issuer without a key API reads no access key
                    variable(policy.credentials.idEnv, "the access key id for zone \(policy.zone)")
                    variable(policy.credentials.secretEnv, "the access key secret for zone \(policy.zone)")
                }
                func directory(of path: String, _ what: String) {
                    let parent = (path as NSString).deletingLastPathComponent
                    var isDirectory: ObjCBool = false
                    if !parent.isEmpty,
                        !FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory)
                            || !isDirectory.boolValue
                    {
                        warnings.append("the directory \(parent) for \(what) does not exist here")
                    }
                }
                for spec in policy.deliver {
                    for name in spec.environmentNames { variable(name, spec.summary) }
                    switch spec {
                    case .file(let path, _): directory(of: path, spec.summary)
                    case .manual(let manual): directory(of: manual.file, spec.summary)
                    case .exec(let command, _):
                        if let program = command.first, !FileManager.default.isExecutableFile(atPath: program) {
                            warnings.append("\(program) is not an executable file here (\(spec.summary))")
                        }
                    case .kubernetes(let kubernetes):
                        if let file = kubernetes.kubeconfig, !FileManager.default.isReadableFile(atPath: file) {
                            warnings.append("kubeconfig \(file) is not readable here (\(spec.summary))")
                        } else if kubernetes.kubeconfig == nil, kubernetes.server == nil,
                            !FileManager.default.isReadableFile(
                                atPath: KubernetesSink.serviceAccountDirectory + "/token"
                            )
                        {
                            warnings.append(
                                "no in-cluster service account token here (\(spec.summary)); fine if it runs in a pod"
                            )
                        }
                    default: break
                    }
                }
                for notify in policy.notify {
                    variable(notify.urlEnv, "a webhook URL")
                    variable(notify.authorizationEnv, "a webhook's Authorization header")
                }
                return warnings
            }

            func run() throws {
                let policies: [Policy]
                do {
                    policies =
                        files.isEmpty
                        ? try PolicyLoader.loadDirectory(common.policiesDirectory) : try PolicyLoader.loadFiles(files)
                } catch let error as PolicyError {
                    throw CLIError("\(error.issues.count) problem(s):\n\(error)", exitCode: 1)
                }
                if policies.isEmpty {
                    throw CLIError("no policy files (*.yaml) in \(common.policiesDirectory)", exitCode: 1)
                }
                var table = TextTable(["POLICY", "PROVIDER", "ZONE", "FILE"])
                for policy in policies { table.add([policy.name, policy.provider.rawValue, policy.zone, policy.file]) }
                Console.line(table.render())
                for warning in PolicyLoader.warnings(policies) { Console.line("warning: \(warning)") }
                for policy in policies {
                    for warning in Self.environmentWarnings(policy, environment: common.environment) {
                        Console.line("warning: \(policy.name): \(warning)")
                    }
                }
                Console.line("\(policies.count) policies ok")
            }
        }
    }
}
