import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// What the emulator does with a request: answer it, or drop the connection without a reply.
public enum EmulatorReply: Sendable {
    case response(HTTPResponse)
    case drop
}

/// A local emulator of Tencent CIC, Alibaba CloudSSO and Volcano Engine CloudIdentity SCIM key APIs, their SCIM endpoints, and an admin API.
///
/// The same object serves over HTTP (``EmulatorServer``) and in memory (``EmulatorTransport``), so tests run the
/// real request path in milliseconds.
///
/// Time: keys are created, expire and are checked against ``clock``. Request signatures are checked against the
/// real time (plus any injected skew), so that a standalone emulator whose clock was advanced by a year still accepts
/// clients that sign with their own clock; an in-process emulator that shares a virtual clock with its clients passes
/// `signaturesFollowClock: true`.
public final class Emulator: Sendable {
    public let clock: VirtualClock
    let signaturesFollowClock: Bool
    let world: Mutex<World>
    let monotonicStart = ContinuousClock.now

    /// `seed`: key ids and secrets from a seeded generator, so that a simulation reproduces exactly.
    public init(configuration: EmulatorConfiguration = .demo, clock: VirtualClock? = nil, seed: UInt64? = nil) {
        self.clock = clock ?? VirtualClock(start: Date(), flowRate: 1)
        self.signaturesFollowClock = clock != nil
        var world = World()
        world.ids.state = seed
        world.keyLimit = configuration.keyLimit ?? 2
        world.rateLimit = configuration.rateLimit ?? 20
        world.latencyMs = configuration.latencyMs ?? 0
        world.alibabaLimitCode = configuration.alibabaLimitCode ?? world.alibabaLimitCode
        world.alibabaRateLimit = configuration.alibabaRateLimit ?? world.alibabaRateLimit
        world.alibabaLimitStatus = configuration.alibabaLimitStatus ?? world.alibabaLimitStatus
        world.scimRequiresSync = configuration.scimRequiresSync ?? false
        world.volcengineLimitCode = configuration.volcengineLimitCode ?? world.volcengineLimitCode
        world.volcengineLimitStatus = configuration.volcengineLimitStatus ?? world.volcengineLimitStatus
        let now = self.clock.now()
        for provider in ProviderKind.allCases {
            guard let cloud = configuration[cloud: provider] else { continue }
            for zone in cloud.zones {
                world.addZone(
                    EmulatedZone(
                        provider: provider,
                        id: zone.id,
                        name: zone.name ?? zone.id,
                        opened: zone.opened ?? true,
                        syncStatus: zone.syncStatus ?? .enabled,
                        keyLimit: zone.keyLimit ?? world.keyLimit,
                        region: zone.region ?? Identifiers.defaultRegion(provider),
                        createdAt: now,
                        updatedAt: now
                    )
                )
            }
            for account in cloud.accounts {
                world.addAccount(
                    EmulatedAccount(
                        provider: provider,
                        accessKeyId: account.secretId ?? Identifiers.accessKeyId(provider),
                        secret: account.secretKey ?? Identifiers.accessKeySecret(),
                        token: account.token,
                        zones: account.zones
                    )
                )
            }
        }
        self.world = Mutex(world)
    }

    /// Answers one request.
    public func handle(_ request: HTTPRequest) async -> EmulatorReply {
        let path = request.url.path.isEmpty ? "/" : request.url.path
        if path.hasPrefix("/_emulator/") || path == "/_emulator" {
            return .response(handleAdmin(request, path: path))
        }
        if path.hasPrefix("/scim/v2") {
            return .response(handleSCIM(request, path: path))
        }
        if let (tenant, rest) = awsTenantPath(path) {
            return .response(handleSCIM(request, path: rest, tenant: tenant))
        }
        if path == "/" {
            if Self.isVolcengine(request) {
                return await handleVolcengine(request)
            }
            if request.header("X-TC-Action") != nil {
                return await handleTencent(request)
            }
            if request.header("x-acs-action") != nil || Self.queryParameters(request.url)["Action"] != nil {
                return await handleAlibaba(request)
            }
        }
        return .response(
            Self.json(
                status: 404,
                ["Error": "not found", "Message": "the emulator serves POST / (cloud APIs), /scim/v2 and /_emulator/"]
            )
        )
    }

    /// The time request signatures are checked against.
    var signatureNow: Date {
        let skew = world.withLock { $0.signatureSkew }
        return (signaturesFollowClock ? clock.now() : Date()).addingTimeInterval(skew)
    }

    /// Seconds since the emulator started, for rate limiting (never virtual).
    var monotonicSeconds: Double {
        let elapsed = ContinuousClock.now - monotonicStart
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Counts the request against `key` and says whether it exceeds `limit` requests in the last second.
    func overRateLimit(_ key: String, limit: Int) -> Bool {
        guard limit > 0 else { return false }
        let now = monotonicSeconds
        return world.withLock { w in
            var times = w.recentRequests[key, default: []]
            times.removeAll { $0 <= now - 1 }
            let over = times.count >= limit
            if !over { times.append(now) }
            w.recentRequests[key] = times
            w.peakPerSecond[key] = max(w.peakPerSecond[key] ?? 0, times.count)
            return over
        }
    }

    func sleep(milliseconds: Int) async {
        guard milliseconds > 0 else { return }
        try? await Task.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000)
    }

    // MARK: JSON helpers

    static func jsonData(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    static func json(status: Int, contentType: String = "application/json", _ object: Any) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: jsonData(object))
    }

    static func parseJSONObject(_ data: Data) -> [String: Any]? {
        guard !data.isEmpty else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}

extension Emulator {
    /// The one JSON line the emulator prints on start: where it listens and what it serves.
    public func startupLine(url: URL) -> String {
        let base = url.absoluteString
        var line: [String: Any] = ["url": base, "admin": base + "/_emulator"]
        world.withLock { w in
            for provider in ProviderKind.allCases {
                let zones = w.zoneOrder.filter { w.zones[$0]?.provider == provider }
                let accounts = w.accountOrder.compactMap { w.accounts[$0] }.filter { $0.provider == provider }
                guard !zones.isEmpty || !accounts.isEmpty else { continue }
                var entry: [String: Any] = [
                    "zones": zones,
                    "accounts": accounts.map {
                        ["accessKeyId": $0.accessKeyId, "accessKeySecret": $0.secret, "zones": $0.zones]
                    },
                ]
                switch provider {
                case .tencent:
                    entry["secretId"] = accounts.first?.accessKeyId ?? ""
                    entry["secretKey"] = accounts.first?.secret ?? ""
                case .alibaba:
                    entry["directories"] = zones
                    entry["accessKeyId"] = accounts.first?.accessKeyId ?? ""
                    entry["accessKeySecret"] = accounts.first?.secret ?? ""
                case .volcengine:
                    // The SDK's names: VOLCENGINE_ACCESS_KEY / VOLCENGINE_SECRET_KEY; the zone is the account id.
                    entry["account"] = zones.first ?? ""
                    entry["accessKey"] = accounts.first?.accessKeyId ?? ""
                    entry["secretKey"] = accounts.first?.secret ?? ""
                case .awsIdentityCenter:
                    // No key API: each tenant's SCIM endpoint; tokens are seeded as a person makes them.
                    entry["tenants"] = zones
                    entry["scim"] = zones.map { base + "/\($0)/scim/v2" }
                    entry.removeValue(forKey: "accounts")
                }
                line[provider.rawValue] = entry
            }
        }
        return String(decoding: Self.jsonData(line), as: UTF8.self)
    }
}

extension Emulator {
    /// Seeds a key as a console user would; returns its id and secret (tests and the demo).
    @discardableResult
    public func seedKey(
        zone: String,
        createdAt: Date,
        expiresAt: Date,
        status: KeyStatus = .enabled
    ) -> (id: String, secret: String)? {
        world.withLock { w in
            guard let provider = w.zones[zone]?.provider else { return nil }
            let key = EmulatedKey(
                id: w.newCredentialId(provider),
                secret: w.newSecret(provider),
                status: status,
                createdAt: createdAt,
                expiresAt: expiresAt
            )
            w.zones[zone]?.keys.append(key)
            return (key.id, key.secret)
        }
    }

    /// Sets a key's status as a console user would (tests and the simulation).
    public func setStatus(zone: String, key: String, to status: KeyStatus) {
        world.withLock { w in
            guard let index = w.zones[zone]?.keys.firstIndex(where: { $0.id == key }) else { return }
            w.zones[zone]?.keys[index].status = status
        }
    }

    /// Deletes a key as a console user would (tests and the simulation).
    public func deleteKey(zone: String, key: String) {
        world.withLock { w in w.zones[zone]?.keys.removeAll { $0.id == key } }
    }

    /// The ids of the zone's keys that a Create call made (the others were seeded as a console user would).
    public func keysMadeByAPI(zone: String) -> Set<String> {
        world.withLock { w in Set((w.zones[zone]?.keys ?? []).filter(\.madeByAPI).map(\.id)) }
    }

    /// The keys a zone holds now, without secrets.
    public func keys(zone: String) -> [SCIMKey] {
        world.withLock { w in
            (w.zones[zone]?.keys ?? []).map {
                SCIMKey(id: $0.id, status: $0.status, createdAt: $0.createdAt, expiresAt: $0.expiresAt)
            }
        }
    }
}

extension Emulator {
    /// The most requests seen in any one-second window, by "accessKeyId/action".
    public func peaks() -> [String: Int] {
        world.withLock { $0.peakPerSecond }
    }
}
