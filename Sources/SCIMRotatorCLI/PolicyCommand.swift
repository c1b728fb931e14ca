import ArgumentParser
import Foundation
import Logging
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

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
                    rotateBefore < keyLifetime, zone id formats, windows, sinks, URLs (https, or http to loopback), \
                    and across files: unique names, one policy per zone. It also warns when the environment \
                    variables a policy names for its access key are not set here. Exit status 1 when any file is \
                    invalid.
                    """
            )

            @OptionGroup var common: CommonOptions

            @Argument(help: "Policy files (default: every *.yaml in --policies).")
            var files: [String] = []

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
                for policy in policies {
                    let names = [policy.credentials.idEnv, policy.credentials.secretEnv]
                    for name in names where (common.environment[name] ?? "").isEmpty {
                        Console.line(
                            "warning: \(policy.name): environment variable \(name) is not set here (the access key for zone \(policy.zone))"
                        )
                    }
                }
                Console.line("\(policies.count) policies ok")
            }
        }
    }
}
