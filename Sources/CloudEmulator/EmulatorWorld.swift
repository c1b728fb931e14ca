import Crypto
import Foundation
import SCIMRotatorCore

/// A SCIM key as the emulated cloud stores it, secret included (it never leaves except in the Create reply).
struct EmulatedKey: Sendable {
    var id: String
    var secret: String
    var status: KeyStatus
    var createdAt: Date
    var expiresAt: Date
    var type = "BearerToken"
    var lastUsedAt: Date?
    var scimRequests = 0
    /// Made by a CreateSCIMCredential call (not seeded as a console user would).
    var madeByAPI = false

    /// What the admin API shows instead of the secret.
    var fingerprint: String { "sha256:" + SHA256.hash(data: Data(secret.utf8)).hexString }
}

/// A Tencent CIC zone, an Alibaba CloudSSO directory or a Volcano Engine account's CloudIdentity instance.
struct EmulatedZone: Sendable {
    var provider: ProviderKind
    var id: String
    var name: String
    var opened: Bool
    var syncStatus: SyncStatus
    var keyLimit: Int
    var region: String
    var createdAt: Date
    var updatedAt: Date
    var keys: [EmulatedKey] = []
    var users: [[String: String]] = []
}

/// An access key of one emulated organization account.
struct EmulatedAccount: Sendable {
    var provider: ProviderKind
    var accessKeyId: String
    var secret: String
    var token: String?
    var zones: [String]
}

/// Everything the emulated clouds hold. Mutated only under the emulator's lock.
struct World: Sendable {
    var zones: [String: EmulatedZone] = [:]
    var zoneOrder: [String] = []
    var accounts: [String: EmulatedAccount] = [:]
    var accountOrder: [String] = []
    var faults: [Fault] = []
    var nextFaultId = 1
    var keyLimit = 2
    var rateLimit = 20
    var alibabaRateLimit = 100
    var alibabaLimitCode = "LimitExceeded.SCIMCredential"
    var alibabaLimitStatus = 400
    var latencyMs = 0
    /// Volcano: the (undocumented) code and HTTP status the key-count limit answers with.
    var volcengineLimitCode = "SCIMServerCredentialLimitExceeded"
    var volcengineLimitStatus = 400
    /// SCIM calls are refused (403) while the zone's SCIM synchronization is disabled: CloudSSO documents that
    /// nothing can be synchronized then. Off by default (Tencent documents nothing either way).
    var scimRequiresSync = false
    /// Seconds added to the clock that request signatures are checked against (clock-skew faults).
    var signatureSkew: Double = 0
    /// Recent request times per "accessKeyId/action", for rate limiting (monotonic seconds).
    var recentRequests: [String: [Double]] = [:]
    /// Calls answered, by "provider action code" ("OK" for success).
    var calls: [String: Int] = [:]
    /// The most requests seen in any one-second window, by "accessKeyId/action" (how close clients run to the limit).
    var peakPerSecond: [String: Int] = [:]
    /// Nonces seen (Alibaba replay protection), with the time they expire.
    var nonces: [String: Double] = [:]
    /// Key ids and secrets: random, or seeded (``Emulator/init(configuration:clock:seed:)``).
    var ids = IdentifierSource()

    mutating func addZone(_ zone: EmulatedZone) {
        if zones[zone.id] == nil { zoneOrder.append(zone.id) }
        zones[zone.id] = zone
    }

    mutating func addAccount(_ account: EmulatedAccount) {
        if accounts[account.accessKeyId] == nil { accountOrder.append(account.accessKeyId) }
        accounts[account.accessKeyId] = account
    }

    /// The zone and index of the key whose secret is `secret`.
    func key(bySecret secret: String) -> (zone: String, index: Int)? {
        for zoneId in zoneOrder {
            if let index = zones[zoneId]?.keys.firstIndex(where: { $0.secret == secret }) { return (zoneId, index) }
        }
        return nil
    }

    mutating func record(_ provider: ProviderKind, _ action: String, _ code: String) {
        calls["\(provider.rawValue) \(action) \(code)", default: 0] += 1
    }
}

/// Where the emulator's identifiers and secrets come from: the system's random source, or a seeded generator
/// (SplitMix64) so that a simulation run reproduces exactly.
struct IdentifierSource: RandomNumberGenerator, Sendable {
    var state: UInt64?

    mutating func next() -> UInt64 {
        guard var state else {
            var system = SystemRandomNumberGenerator()
            return system.next()
        }
        state &+= 0x9E37_79B9_7F4A_7C15
        self.state = state
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension World {
    /// `scimcred-` + 12 characters (Tencent) or 24 (Alibaba), as in the documentation examples.
    mutating func newCredentialId(_ provider: ProviderKind) -> String {
        Identifiers.credentialId(provider, using: &ids)
    }

    mutating func newSecret(_ provider: ProviderKind) -> String {
        Identifiers.secret(provider, using: &ids)
    }
}

/// Random identifiers and secrets in the clouds' formats.
enum Identifiers {
    static let lowerAlnum = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    static let base62 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func random(
        _ count: Int,
        from alphabet: [Character] = lowerAlnum,
        using generator: inout some RandomNumberGenerator
    ) -> String {
        String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    static func random(_ count: Int, from alphabet: [Character] = lowerAlnum) -> String {
        var generator = SystemRandomNumberGenerator()
        return random(count, from: alphabet, using: &generator)
    }

    /// `scimcred-` + 12 characters (Tencent) or 24 (Alibaba); a numeric string (Volcano), as in the documentation
    /// examples.
    static func credentialId(_ provider: ProviderKind, using generator: inout some RandomNumberGenerator) -> String {
        switch provider {
        case .tencent: return "scimcred-" + random(12, using: &generator)
        case .alibaba: return "scimcred-" + random(24, using: &generator)
        case .volcengine: return "3" + random(9, from: Array("0123456789"), using: &generator)
        case .awsIdentityCenter:
            let hex = random(32, from: Array("0123456789abcdef"), using: &generator)
            return [8, 4, 4, 4, 12].reduce(into: (parts: [String](), rest: Substring(hex))) { state, length in
                state.parts.append(String(state.rest.prefix(length)))
                state.rest = state.rest.dropFirst(length)
            }.parts.joined(separator: "-")
        }
    }

    static func credentialId(_ provider: ProviderKind) -> String {
        var generator = SystemRandomNumberGenerator()
        return credentialId(provider, using: &generator)
    }

    /// Tencent secrets look like base64 ending in `=`; Alibaba's like 32 URL-safe characters; Volcano's like a JWT.
    static func secret(_ provider: ProviderKind, using generator: inout some RandomNumberGenerator) -> String {
        switch provider {
        case .tencent:
            let bytes = (0..<47).map { _ in UInt8.random(in: 0...255, using: &generator) }
            return Data(bytes).base64EncodedString()
        case .alibaba:
            return random(32, from: base62, using: &generator)
        case .volcengine:
            return "eyJhbGciOiJIUzI1NiJ9." + random(40, from: base62, using: &generator) + "."
                + random(43, from: base62 + ["-", "_"], using: &generator)
        case .awsIdentityCenter:
            return random(120, from: base62 + ["+", "/"], using: &generator) + "="
        }
    }

    static func secret(_ provider: ProviderKind) -> String {
        var generator = SystemRandomNumberGenerator()
        return secret(provider, using: &generator)
    }

    static func zoneId(_ provider: ProviderKind) -> String {
        switch provider {
        case .tencent: return "z-" + random(12)
        case .alibaba: return "d-" + random(12)
        case .volcengine: return "21" + random(8, from: Array("0123456789"))
        case .awsIdentityCenter: return random(10) + "-" + random(8)
        }
    }

    static func accessKeyId(_ provider: ProviderKind) -> String {
        switch provider {
        case .tencent: return "AKID" + random(32, from: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
        case .alibaba: return "LTAI5t" + random(18, from: base62)
        case .volcengine: return "AKLT" + random(40, from: base62)
        case .awsIdentityCenter: return "AKIA" + random(16, from: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
        }
    }

    /// The region a zone is in when its configuration names none.
    static func defaultRegion(_ provider: ProviderKind) -> String {
        switch provider {
        case .tencent: return "ap-guangzhou"
        case .alibaba: return "cn-shanghai"
        case .volcengine: return "cn-beijing"
        case .awsIdentityCenter: return "us-east-1"
        }
    }

    static func accessKeySecret() -> String {
        random(32, from: base62)
    }

    static func requestId() -> String { UUID().uuidString.lowercased() }
}
