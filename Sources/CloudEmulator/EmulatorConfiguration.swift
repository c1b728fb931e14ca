import Foundation
import SCIMRotatorCore
import Yams

/// What the emulator serves at start-up: `scim-rotator emulator --config FILE` reads this from YAML or JSON.
///
/// ```yaml
/// tencent:
///   accounts:
///     - {secretId: AKIDexample..., secretKey: ..., zones: [z-vft38p2hq8tq]}
///   zones:
///     - {id: z-vft38p2hq8tq, name: prod, syncStatus: Enabled}
/// keyLimit: 2            # keys per zone, disabled ones included
/// rateLimit: 20          # requests per second per action per account (Tencent)
/// latencyMs: 0           # added to every cloud API call
/// ```
public struct EmulatorConfiguration: Sendable, Codable, Equatable {
    public struct Account: Sendable, Codable, Equatable {
        public var secretId: String?
        public var secretKey: String?
        /// Set for temporary (STS) credentials: requests must then carry this token.
        public var token: String?
        public var zones: [String]

        public init(secretId: String? = nil, secretKey: String? = nil, token: String? = nil, zones: [String]) {
            self.secretId = secretId
            self.secretKey = secretKey
            self.token = token
            self.zones = zones
        }
    }

    public struct Zone: Sendable, Codable, Equatable {
        public var id: String
        public var name: String?
        /// False: the identity center is not opened (FailedOperation.IdentityCenterNotOpen).
        public var opened: Bool?
        public var syncStatus: SyncStatus?
        public var keyLimit: Int?
        public var region: String?

        public init(
            id: String,
            name: String? = nil,
            opened: Bool? = nil,
            syncStatus: SyncStatus? = nil,
            keyLimit: Int? = nil,
            region: String? = nil
        ) {
            self.id = id
            self.name = name
            self.opened = opened
            self.syncStatus = syncStatus
            self.keyLimit = keyLimit
            self.region = region
        }
    }

    public struct Cloud: Sendable, Codable, Equatable {
        public var accounts: [Account]
        public var zones: [Zone]

        public init(accounts: [Account], zones: [Zone]) {
            self.accounts = accounts
            self.zones = zones
        }
    }

    public var tencent: Cloud?
    public var alibaba: Cloud?
    public var keyLimit: Int?
    public var rateLimit: Int?
    public var latencyMs: Int?

    public init(
        tencent: Cloud? = nil,
        alibaba: Cloud? = nil,
        keyLimit: Int? = nil,
        rateLimit: Int? = nil,
        latencyMs: Int? = nil
    ) {
        self.tencent = tencent
        self.alibaba = alibaba
        self.keyLimit = keyLimit
        self.rateLimit = rateLimit
        self.latencyMs = latencyMs
    }

    /// The demo world: one Tencent zone with one demo access key.
    public static let demo = EmulatorConfiguration(
        tencent: Cloud(
            accounts: [
                Account(
                    secretId: DemoCredentials.tencentSecretId,
                    secretKey: DemoCredentials.tencentSecretKey,
                    zones: [DemoCredentials.tencentZone]
                )
            ],
            zones: [Zone(id: DemoCredentials.tencentZone, name: "demo", syncStatus: .enabled)]
        )
    )

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a YAML or JSON configuration file.
    public static func load(path: String) throws -> EmulatorConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "\(path): cannot read the emulator configuration file")
        }
        do {
            return try YAMLDecoder().decode(EmulatorConfiguration.self, from: data)
        } catch {
            throw LoadError(description: "\(path): not a valid emulator configuration: \(error)")
        }
    }
}

/// Fixed credentials of the emulator's demo world, so that the README can show them. They open nothing real.
public enum DemoCredentials {
    public static let tencentZone = "z-demo00000001"
    public static let tencentSecretId = "AKIDemulatorDEMO00000000000000000000"
    public static let tencentSecretKey = "emulatorDEMOsecretKEY0000000000000"
}
