import Foundation
import SCIMRotatorCore
import Yams

/// What a running daemon loads when told to reload (SIGHUP).
public struct PolicyReload: Sendable {
    /// The policies to run: every valid file, and for each file that is invalid now, its last good version.
    public var policies: [Policy]
    /// Files that could not be used as they are now, and why. A file in `kept` runs on in its last good version.
    public var problems: [PolicyError]
    /// Files whose last good version is kept.
    public var kept: [String]
}

extension PolicyLoader {
    /// Reloads `directory` without letting one bad file stop the others: a file that is invalid now keeps its last
    /// good version from `previous` (or is left out if it never had one), and the problem is reported with its file.
    /// A file that was removed takes its policy with it. Across files the same rules hold as for a first load (unique
    /// names, one policy per zone): a file that would break them is treated as invalid.
    public static func reload(directory: String, previous: [Policy]) throws -> PolicyReload {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PolicyError([
                PolicyIssue(file: directory, line: nil, key: "", message: "the policy directory is gone")
            ])
        }
        let lastGood = Dictionary(previous.map { ($0.file, $0) }, uniquingKeysWith: { first, _ in first })
        var problems: [PolicyError] = []
        let defaults: Node?
        do {
            defaults = try loadDefaults(directory: directory)
        } catch let error as PolicyError {
            // Every policy inherits the defaults: none of them can be read anew, so all keep their last version.
            let files = policyFiles(in: directory).filter { lastGood[$0] != nil }
            return PolicyReload(policies: files.compactMap { lastGood[$0] }, problems: [error], kept: files)
        }
        var policies: [Policy] = []
        var kept: [String] = []
        var byName: [String: Policy] = [:]
        var byZone: [String: Policy] = [:]
        func conflict(_ policy: Policy) -> PolicyIssue? {
            if let other = byName[policy.name] {
                return PolicyIssue(
                    file: policy.file,
                    line: nil,
                    key: "name",
                    message: "`\(policy.name)` is also the name of \(other.file); names must be unique"
                )
            }
            if let other = byZone["\(policy.provider.rawValue)/\(policy.zone)"] {
                return PolicyIssue(
                    file: policy.file,
                    line: nil,
                    key: "zone",
                    message: "zone \(policy.zone) is also rotated by \(other.file); one policy per zone"
                )
            }
            return nil
        }
        func accept(_ policy: Policy) {
            policies.append(policy)
            byName[policy.name] = policy
            byZone["\(policy.provider.rawValue)/\(policy.zone)"] = policy
        }
        // In file order, each file loads, or falls back to its last good version, or is left out.
        for file in policyFiles(in: directory) {
            var problem: PolicyError?
            do {
                let policy = try load(file: file, defaults: defaults)
                if let issue = conflict(policy) {
                    problem = PolicyError([issue])
                } else {
                    accept(policy)
                    continue
                }
            } catch let error as PolicyError {
                problem = error
            }
            if let problem { problems.append(problem) }
            if let old = lastGood[file], conflict(old) == nil {
                accept(old)
                kept.append(file)
            }
        }
        return PolicyReload(policies: policies, problems: problems, kept: kept)
    }
}
