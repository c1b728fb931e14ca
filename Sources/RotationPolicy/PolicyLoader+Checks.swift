import Foundation
import SCIMRotatorCore
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that guard against inputs that look fine and do harm: a region that redirects requests, a policy that
/// delivers the new key to nobody, a key written where the checker expects it elsewhere.
extension PolicyLoader {
    /// `region:` must be a region id: it becomes part of a host name (Alibaba) or a header (Tencent).
    static func checkRegion(_ region: String?, _ node: Node?, _ provider: ProviderKind?, _ reader: inout PolicyReader) {
        guard let region, !CloudRegion.isValid(region) else { return }
        let traits = (provider ?? .tencent).traits
        var message =
            "`\(region)` is not a region id (lower-case words joined by hyphens), e.g. " + traits.exampleRegions
        if !traits.serviceRegions.isEmpty {
            message += "; \(traits.serviceName) regions: \(traits.serviceRegions.joined(separator: ", "))"
        }
        reader.issue(node, "region", message)
    }

    /// A policy must deliver the new key somewhere: otherwise the identity provider never gets it, and the key it
    /// uses is disabled when the grace period ends.
    static func checkDeliver(_ node: Node?, _ specs: [DeliverySpec], _ root: Node, _ reader: inout PolicyReader) {
        let fix =
            "every new key would go to nobody, and the key the identity provider uses would be disabled after the "
            + "grace period; add a sink, e.g. `- file: {path: /var/lib/scim-rotator/out/NAME.token}`, or "
            + "`- manual: {file: ..., instructions: ...}` to hand each key to a person (`scim-rotator confirm`)"
        guard let node else {
            reader.issue(root, "deliver", "missing: " + fix)
            return
        }
        if case .sequence(let items) = node, items.isEmpty, specs.isEmpty {
            reader.issue(node, "deliver", "empty: " + fix)
        }
    }

    /// Where a key that is unknown in one mapping belongs, by the mapping's path ("" is the top level): the
    /// suggestion, as the message shows it.
    static let misplacedKeys: [String: [String: String]] = {
        var top: [String: String] = [:]
        for key in rotationKeys { top[key] = "`rotation.\(key)`" }
        for key in ["idEnv", "secretEnv", "tokenEnv"] { top[key] = "`credentials.\(key)`" }
        top["scim"] = "`verify.scim`"
        for kind in sinkKinds { top[kind] = "`deliver: - \(kind): {...}`" }
        top["webhook"] = "`notify: - webhook: {...}`"
        var rotation: [String: String] = [:]
        for key in topKeys where key != "rotation" { rotation[key] = "`\(key)` at the top level" }
        var verify: [String: String] = [:]
        for key in ["url", "attempts", "interval"] { verify[key] = "`verify.scim.\(key)`" }
        return ["": top, "rotation": rotation, "verify": verify]
    }()

    /// The file's bytes, or why they cannot be read (the system's reason: no such file, permission denied, a
    /// directory).
    static func readFile(_ path: String) -> Result<Data, PolicyError> {
        func failure(_ code: Int32) -> Result<Data, PolicyError> {
            var reason = String(cString: strerror(code))
            if code == EACCES { reason += " (this user cannot read it; check the file's owner and mode)" }
            if code == ENOENT { reason += " (check the path)" }
            return .failure(
                PolicyError([PolicyIssue(file: path, line: nil, key: "", message: "cannot read the file: \(reason)")])
            )
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure(errno) }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count < 0 { return failure(errno) }
            if count == 0 { break }
            data.append(contentsOf: buffer[0..<count])
            if data.count > 4 << 20 {
                return .failure(
                    PolicyError([
                        PolicyIssue(file: path, line: nil, key: "", message: "larger than 4 MiB: not a policy file")
                    ])
                )
            }
        }
        return .success(data)
    }

    /// Text of a policy file: UTF-8, a leading byte order mark (which some editors write) dropped.
    static func text(_ data: Data) -> String {
        withoutByteOrderMark(String(decoding: data, as: UTF8.self))
    }

    static func withoutByteOrderMark(_ text: String) -> String {
        guard text.unicodeScalars.first == "\u{FEFF}" else { return text }
        return String(text.unicodeScalars.dropFirst())
    }
}
