import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// The admin API under `/_emulator/`, for tests, the demo and users' own trials. It never returns a key's secret,
/// except once, in the reply that seeds it. Documented in the README.
extension Emulator {
    func handleAdmin(_ request: HTTPRequest, path: String) -> HTTPResponse {
        let parts = path.split(separator: "/").map(String.init).dropFirst()  // drop "_emulator"
        let body = Self.parseJSONObject(request.body)
        guard let body else { return Self.adminError(400, "the request body must be a JSON object") }
        switch (request.method, Array(parts)) {
        case ("GET", ["state"]), ("GET", []):
            return Self.json(status: 200, state())
        case ("POST", ["accounts"]):
            return addAccount(body)
        case ("POST", ["zones"]):
            return addZone(body)
        case ("POST", let p) where p.count == 3 && p[0] == "zones" && p[2] == "keys":
            return seedKey(zoneId: p[1], body)
        case ("DELETE", let p) where p.count == 4 && p[0] == "zones" && p[2] == "keys":
            let removed = world.withLock { w -> Bool in
                guard let before = w.zones[p[1]]?.keys.count else { return false }
                w.zones[p[1]]?.keys.removeAll { $0.id == p[3] }
                return w.zones[p[1]]?.keys.count != before
            }
            return removed
                ? Self.json(status: 200, ["deleted": p[3]]) : Self.adminError(404, "no key \(p[3]) in zone \(p[1])")
        case ("GET", ["clock"]):
            return Self.json(status: 200, clockState())
        case ("POST", ["clock"]):
            return setClock(body)
        case ("GET", ["faults"]):
            return Self.json(status: 200, ["faults": world.withLock { $0.faults }.map(Self.faultJSON)])
        case ("POST", ["faults"]):
            return addFaults(request.body)
        case ("DELETE", ["faults"]):
            world.withLock { $0.faults.removeAll() }
            return Self.json(status: 200, ["faults": []])
        case ("GET", ["calls"]):
            return Self.json(status: 200, world.withLock { ["calls": $0.calls, "peakPerSecond": $0.peakPerSecond] })
        case ("POST", ["settings"]):
            return applySettings(body)
        default:
            return Self.adminError(
                404,
                "unknown admin route \(request.method) \(path); see README \"Emulator admin API\""
            )
        }
    }

    static func adminError(_ status: Int, _ message: String) -> HTTPResponse {
        json(status: status, ["error": message])
    }

    func clockState() -> [String: Any] {
        ["now": Self.iso(clock.now()), "flowRate": clock.flowRate]
    }

    /// The emulated world without secrets: keys carry a SHA-256 fingerprint of their secret instead.
    public func state() -> [String: Any] {
        let now = clock.now()
        return world.withLock { w in
            [
                "now": Self.iso(now),
                "zones": w.zoneOrder.compactMap { w.zones[$0] }.map { zone -> [String: Any] in
                    [
                        "provider": zone.provider.rawValue, "id": zone.id, "name": zone.name, "opened": zone.opened,
                        "syncStatus": zone.syncStatus.rawValue, "keyLimit": zone.keyLimit, "region": zone.region,
                        "users": zone.users.count,
                        "keys": zone.keys.map { key -> [String: Any] in
                            var entry: [String: Any] = [
                                "id": key.id, "status": key.status.rawValue, "createdAt": Self.iso(key.createdAt),
                                "expiresAt": Self.iso(key.expiresAt), "fingerprint": key.fingerprint,
                                "scimRequests": key.scimRequests,
                                "usable": key.status == .enabled && key.expiresAt > now,
                            ]
                            if let used = key.lastUsedAt { entry["lastUsedAt"] = Self.iso(used) }
                            return entry
                        },
                    ]
                },
                "accounts": w.accountOrder.compactMap { w.accounts[$0] }.map { account -> [String: Any] in
                    ["provider": account.provider.rawValue, "accessKeyId": account.accessKeyId, "zones": account.zones]
                },
                "faults": w.faults.map(Self.faultJSON),
                "calls": w.calls,
                "settings": [
                    "keyLimit": w.keyLimit, "rateLimit": w.rateLimit, "latencyMs": w.latencyMs,
                    "signatureSkewSeconds": w.signatureSkew, "alibabaRateLimit": w.alibabaRateLimit,
                    "alibabaLimitCode": w.alibabaLimitCode, "alibabaLimitStatus": w.alibabaLimitStatus,
                    "volcengineLimitCode": w.volcengineLimitCode, "volcengineLimitStatus": w.volcengineLimitStatus,
                    "scimRequiresSync": w.scimRequiresSync,
                ],
            ]
        }
    }

    static func faultJSON(_ fault: Fault) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(fault),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }

    static func provider(_ body: [String: Any]) -> ProviderKind? {
        ProviderKind(rawValue: body["provider"] as? String ?? "tencent")
    }

    func addAccount(_ body: [String: Any]) -> HTTPResponse {
        guard let provider = Self.provider(body) else {
            return Self.adminError(400, "provider must be tencent, alibaba or volcengine")
        }
        let account = EmulatedAccount(
            provider: provider,
            accessKeyId: body["secretId"] as? String ?? body["accessKeyId"] as? String
                ?? Identifiers.accessKeyId(provider),
            secret: body["secretKey"] as? String ?? body["accessKeySecret"] as? String ?? Identifiers.accessKeySecret(),
            token: body["token"] as? String,
            zones: body["zones"] as? [String] ?? []
        )
        world.withLock { $0.addAccount(account) }
        var reply: [String: Any] = [
            "provider": provider.rawValue, "accessKeyId": account.accessKeyId, "accessKeySecret": account.secret,
            "zones": account.zones,
        ]
        if provider == .tencent {
            reply["secretId"] = account.accessKeyId
            reply["secretKey"] = account.secret
        }
        return Self.json(status: 201, reply)
    }

    func addZone(_ body: [String: Any]) -> HTTPResponse {
        guard let provider = Self.provider(body) else {
            return Self.adminError(400, "provider must be tencent, alibaba or volcengine")
        }
        let now = clock.now()
        var syncStatus = SyncStatus.enabled
        if let text = body["syncStatus"] as? String {
            guard let parsed = SyncStatus(rawValue: text) else {
                return Self.adminError(400, "syncStatus must be Enabled or Disabled")
            }
            syncStatus = parsed
        }
        return world.withLock { w in
            let id = body["id"] as? String ?? Identifiers.zoneId(provider)
            let zone = EmulatedZone(
                provider: provider,
                id: id,
                name: body["name"] as? String ?? id,
                opened: body["opened"] as? Bool ?? true,
                syncStatus: syncStatus,
                keyLimit: body["keyLimit"] as? Int ?? w.keyLimit,
                region: body["region"] as? String ?? Identifiers.defaultRegion(provider),
                createdAt: now,
                updatedAt: now
            )
            w.addZone(zone)
            let owner = body["account"] as? String ?? w.accountOrder.first { w.accounts[$0]?.provider == provider }
            if let owner, w.accounts[owner] != nil, w.accounts[owner]?.zones.contains(id) == false {
                w.accounts[owner]?.zones.append(id)
            }
            return Self.json(
                status: 201,
                ["provider": provider.rawValue, "id": id, "account": owner as Any? ?? NSNull()]
            )
        }
    }

    func seedKey(zoneId: String, _ body: [String: Any]) -> HTTPResponse {
        let now = clock.now()
        func date(_ name: String) -> Date?? {
            guard let text = body[name] as? String else { return .some(nil) }
            return (try? Date(text, strategy: Date.ISO8601FormatStyle())).map { .some($0) } ?? nil
        }
        guard let createdAt = date("createdAt"), let expiresAt = date("expiresAt") else {
            return Self.adminError(400, "createdAt and expiresAt must be ISO 8601 times like 2026-01-31T08:00:00Z")
        }
        var status = KeyStatus.enabled
        if let text = body["status"] as? String {
            guard let parsed = KeyStatus(rawValue: text) else {
                return Self.adminError(400, "status must be Enabled or Disabled")
            }
            status = parsed
        }
        return world.withLock { w in
            guard let zone = w.zones[zoneId] else { return Self.adminError(404, "no zone \(zoneId)") }
            let created = createdAt ?? now
            let key = EmulatedKey(
                id: body["id"] as? String ?? w.newCredentialId(zone.provider),
                secret: body["secret"] as? String ?? w.newSecret(zone.provider),
                status: status,
                createdAt: created,
                expiresAt: expiresAt ?? created.addingTimeInterval(365 * 86_400)
            )
            w.zones[zoneId]?.keys.append(key)
            return Self.json(
                status: 201,
                [
                    "id": key.id, "secret": key.secret, "fingerprint": key.fingerprint,
                    "createdAt": Self.iso(key.createdAt),
                    "expiresAt": Self.iso(key.expiresAt), "status": key.status.rawValue,
                ]
            )
        }
    }

    func setClock(_ body: [String: Any]) -> HTTPResponse {
        if let text = body["set"] as? String {
            guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
                return Self.adminError(400, "set must be an ISO 8601 time like 2027-01-31T08:00:00Z")
            }
            clock.set(date)
        }
        if let text = body["advance"] as? String {
            guard let span = TimeSpan(parsing: text) else {
                return Self.adminError(400, "advance must be a duration like 90d, 36h or 1h30m")
            }
            clock.advance(by: span.timeInterval)
        } else if let seconds = body["advanceSeconds"] as? Double {
            clock.advance(by: seconds)
        }
        if let rate = body["flowRate"] as? Double {
            clock.configure(flowRate: rate)
        }
        return Self.json(status: 200, clockState())
    }

    func addFaults(_ data: Data) -> HTTPResponse {
        let decoder = JSONDecoder()
        let faults: [Fault]
        if let list = try? decoder.decode([Fault].self, from: data) {
            faults = list
        } else {
            do {
                faults = [try decoder.decode(Fault.self, from: data)]
            } catch {
                return Self.adminError(400, "not a fault: \(error)")
            }
        }
        let added = world.withLock { w in
            faults.map { fault -> Fault in
                var fault = fault
                fault.id = w.nextFaultId
                w.nextFaultId += 1
                w.faults.append(fault)
                return fault
            }
        }
        return Self.json(status: 201, ["faults": added.map(Self.faultJSON)])
    }

    func applySettings(_ body: [String: Any]) -> HTTPResponse {
        world.withLock { w in
            if let value = body["latencyMs"] as? Int { w.latencyMs = max(0, value) }
            if let value = body["rateLimit"] as? Int { w.rateLimit = value }
            if let value = body["alibabaRateLimit"] as? Int { w.alibabaRateLimit = value }
            if let value = body["keyLimit"] as? Int { w.keyLimit = value }
            if let value = body["signatureSkewSeconds"] as? Double { w.signatureSkew = value }
            if let value = body["alibabaLimitCode"] as? String { w.alibabaLimitCode = value }
            if let value = body["alibabaLimitStatus"] as? Int { w.alibabaLimitStatus = value }
            if let value = body["volcengineLimitCode"] as? String { w.volcengineLimitCode = value }
            if let value = body["volcengineLimitStatus"] as? Int { w.volcengineLimitStatus = value }
            if let value = body["scimRequiresSync"] as? Bool { w.scimRequiresSync = value }
        }
        return Self.json(status: 200, state()["settings"] ?? [:])
    }
}
