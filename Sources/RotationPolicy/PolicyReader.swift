import Foundation
import SCIMRotatorCore
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Walks a composed YAML tree, collecting located issues instead of stopping at the first one.
struct PolicyReader {
    let file: String
    var issues: [PolicyIssue] = []

    init(file: String) {
        self.file = file
    }

    mutating func issue(_ node: Node?, _ key: String, _ message: String) {
        issues.append(PolicyIssue(file: file, line: node?.mark?.line, key: key, message: message))
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The entries of a mapping; unknown keys are reported with the nearest allowed one.
    mutating func mapping(_ node: Node, path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            issue(node, path, "must be a mapping of \(allowed.map { "`\($0)`" }.joined(separator: ", "))")
            return nil
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                issue(keyNode, path, "keys must be plain words")
                continue
            }
            if entries[key] != nil {
                issue(keyNode, Self.join(path, key), "appears twice; keep one")
                continue
            }
            if !allowed.contains(key) {
                var message = "unknown key `\(key)`"
                if let home = PolicyLoader.misplacedKeys[path]?[key] {
                    message += " \(path.isEmpty ? "at the top level" : "under `\(path)`"), did you mean \(home)?"
                } else if let suggestion = Suggestion.closest(to: key, in: allowed) {
                    message += ", did you mean `\(suggestion)`?"
                } else {
                    message += "; allowed here: \(allowed.map { "`\($0)`" }.joined(separator: ", "))"
                }
                issue(keyNode, Self.join(path, key), message)
                continue
            }
            entries[key] = value
        }
        return entries
    }

    mutating func string(_ node: Node?, _ path: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            issue(node, path, "must be a non-empty text value, not \(Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ node: Node?, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard let text = node.string, let value = Int(text), range.contains(value) else {
            issue(
                node,
                path,
                "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(Self.describe(node))"
            )
            return nil
        }
        return value
    }

    /// A duration; `allowZero` where 0s means something (a grace period of none, no jitter, delete at once).
    mutating func duration(_ node: Node?, _ path: String, allowZero: Bool = false) -> TimeSpan? {
        guard let node else { return nil }
        guard let text = node.string, let span = TimeSpan(parsing: text) else {
            let got = node.string.map { "`\($0)`" } ?? Self.describe(node)
            issue(node, path, "\(got) is not a duration; write e.g. 90d, 36h, 15m or 1h30m")
            return nil
        }
        guard span.seconds > 0 || (allowZero && span.seconds == 0) else {
            issue(node, path, "must be longer than 0s")
            return nil
        }
        return span
    }

    /// What a value is, for messages about a wrong type: `a list [1, 2]`, `a mapping {a: 1}`, `` `text` ``.
    static func describe(_ node: Node) -> String {
        func render(_ node: Node, depth: Int) -> String {
            guard depth < 3 else { return "..." }
            switch node {
            case .scalar(let scalar): return scalar.string
            case .sequence(let items):
                return "[" + items.prefix(5).map { render($0, depth: depth + 1) }.joined(separator: ", ")
                    + (items.count > 5 ? ", ..." : "") + "]"
            case .mapping(let pairs):
                return "{"
                    + pairs.prefix(5).map {
                        "\(render($0.key, depth: depth + 1)): \(render($0.value, depth: depth + 1))"
                    }
                    .joined(separator: ", ") + (pairs.count > 5 ? ", ..." : "") + "}"
            case .alias: return "*alias"
            }
        }
        var text = render(node, depth: 0)
        if text.count > 60 { text = String(text.prefix(57)) + "..." }
        switch node {
        case .scalar(let scalar) where scalar.string.isEmpty: return "an empty value"
        case .scalar: return "`\(text)`"
        case .sequence: return "a list `\(text)`"
        case .mapping: return "a mapping `\(text)`"
        case .alias: return "an alias"
        }
    }

    mutating func stringList(_ node: Node?, _ path: String) -> [String]? {
        guard let node else { return nil }
        guard case .sequence(let sequence) = node else {
            issue(node, path, "must be a list, e.g. [a, b]")
            return nil
        }
        var values: [String] = []
        for (index, item) in sequence.enumerated() {
            guard let value = string(item, "\(path)[\(index)]") else { return nil }
            values.append(value)
        }
        return values
    }

    /// An http(s) URL; plain http only to loopback (TLS verification is always on elsewhere).
    mutating func url(_ node: Node?, _ path: String) -> URL? {
        guard let text = string(node, path) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty
        else {
            issue(node, path, "`\(text)` is not a URL like https://host or http://127.0.0.1:8080")
            return nil
        }
        switch scheme {
        case "https": return url
        case "http" where Self.isLoopback(host): return url
        case "http":
            issue(node, path, "plain http is only allowed to loopback (127.0.0.1, ::1, localhost); use https://\(host)")
            return nil
        default:
            issue(node, path, "scheme must be https (or http to loopback), not \(scheme)")
            return nil
        }
    }

    /// Loopback by address: `localhost`, an IPv4 address in 127.0.0.0/8, or ::1. A name that merely starts with
    /// "127." (`127.0.0.1.nip.io`, `127.attacker.example`) resolves wherever its owner likes, so it is not.
    static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return bytes == Array(repeating: 0, count: 15) + [1]
        }
        return false
    }

    mutating func environmentName(_ node: Node?, _ path: String) -> String? {
        guard let name = string(node, path) else { return nil }
        guard name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
            issue(
                node,
                path,
                "`\(name)` is not an environment variable name (letters, digits, _); "
                    + "policies name variables, never values"
            )
            return nil
        }
        return name
    }
}
