import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// A fault the emulator injects into the next matching cloud API calls (admin API `POST /_emulator/faults`).
///
/// ```json
/// {"provider": "tencent", "action": "CreateSCIMCredential", "times": 1,
///  "error": "InternalError", "message": "...", "httpStatus": 503, "delayMs": 2000,
///  "drop": "before" | "after", "garble": true, "contentType": "text/html",
///  "consoleAddKey": true, "consoleDeleteKey": "scimcred-..." | "newest" | "oldest"}
/// ```
/// - `error`: answer with this error code instead of running the action (Tencent: HTTP 200 envelope; Alibaba: the
///   given `httpStatus`, default 400 for client codes and 503 for server codes).
/// - `httpStatus` without `error` (Tencent): answer with that HTTP status and an HTML body, as a gateway would.
/// - `delayMs`: wait before answering (longer than the client timeout makes a timeout).
/// - `drop`: close the connection without a reply, `before` running the action or `after` it (a lost reply).
/// - `garble`: run the action, answer with broken JSON. `contentType`: run it, answer with that Content-Type.
/// - `consoleAddKey` / `consoleDeleteKey`: before running the action, change the zone as a console user would.
/// - `retryAfterMs` (Alibaba): sent as the `x-acs-retry-after` header with the error.
/// - `consoleDeleteKeyAfter`: after running the action, a console user deletes a key (`newest`, `oldest`, an id).
/// - `replyBody` / `replyBytes`: run the action, answer 200 with this exact body / a JSON body this large.
struct Fault: Sendable, Codable {
    var id: Int?
    var provider: ProviderKind?
    var action: String?
    var times: Int?
    var error: String?
    var message: String?
    var httpStatus: Int?
    var delayMs: Int?
    var drop: DropMoment?
    var garble: Bool?
    var contentType: String?
    var consoleAddKey: Bool?
    var consoleDeleteKey: String?
    /// Alibaba: sent as `x-acs-retry-after` (milliseconds) with the error.
    var retryAfterMs: Int?
    /// After running the action, a console user deletes a key ("newest", "oldest" or an id): a key deleted
    /// mid-rotation.
    var consoleDeleteKeyAfter: String?
    /// Run the action, answer HTTP 200 with exactly this body (missing fields, wrong types).
    var replyBody: String?
    /// Run the action, answer HTTP 200 with a JSON body of this many bytes.
    var replyBytes: Int?

    enum DropMoment: String, Sendable, Codable {
        case before
        case after
    }

    func matches(provider: ProviderKind, action: String) -> Bool {
        (self.provider == nil || self.provider == provider) && (self.action == nil || self.action == action)
    }
}

extension World {
    /// Takes the first fault that matches, counting it down.
    mutating func takeFault(provider: ProviderKind, action: String) -> Fault? {
        guard let index = faults.firstIndex(where: { $0.matches(provider: provider, action: action) }) else {
            return nil
        }
        let fault = faults[index]
        let remaining = (fault.times ?? 1) - 1
        if remaining <= 0 {
            faults.remove(at: index)
        } else {
            faults[index].times = remaining
        }
        return fault
    }

    /// Applies a fault's effects that follow the action.
    mutating func applyAfterEffects(_ fault: Fault, zoneId: String?, now: Date) {
        guard let target = fault.consoleDeleteKeyAfter else { return }
        var after = Fault()
        after.consoleDeleteKey = target
        applyConsoleEffects(after, zoneId: zoneId, now: now)
    }

    /// The reply a fault substitutes for a successful one, if any.
    static func substitute(_ fault: Fault?) -> HTTPResponse? {
        if let body = fault?.replyBody {
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: Data(body.utf8))
        }
        if let bytes = fault?.replyBytes {
            let filler = String(repeating: "a", count: max(0, bytes - 40))
            return HTTPResponse(
                status: 200,
                headers: ["Content-Type": "application/json"],
                body: Data("{\"Response\": {\"Filler\": \"\(filler)\"}}".utf8)
            )
        }
        return nil
    }

    /// Applies a fault's console side effects to `zoneId`.
    mutating func applyConsoleEffects(_ fault: Fault, zoneId: String?, now: Date) {
        guard let zoneId, var zone = zones[zoneId] else { return }
        if fault.consoleAddKey == true {
            zone.keys.append(
                EmulatedKey(
                    id: self.newCredentialId(zone.provider),
                    secret: self.newSecret(zone.provider),
                    status: .enabled,
                    createdAt: now,
                    expiresAt: now.addingTimeInterval(365 * 86_400)
                )
            )
        }
        if let target = fault.consoleDeleteKey, !zone.keys.isEmpty {
            switch target {
            case "newest":
                if let index = zone.keys.indices.max(by: { zone.keys[$0].createdAt < zone.keys[$1].createdAt }) {
                    zone.keys.remove(at: index)
                }
            case "oldest":
                if let index = zone.keys.indices.min(by: { zone.keys[$0].createdAt < zone.keys[$1].createdAt }) {
                    zone.keys.remove(at: index)
                }
            default:
                zone.keys.removeAll { $0.id == target }
            }
        }
        zones[zoneId] = zone
    }
}

/// How one cloud's API answers, as ``Emulator/underFault(_:fail:run:)`` needs it to play a fault.
struct CloudAnswers {
    var provider: ProviderKind
    var action: String
    /// The zone the call is about, for console effects.
    var zoneId: String?
    /// An injected error code, answered (and counted) the way the cloud answers its errors.
    var error: (_ code: String, _ fault: Fault) -> EmulatorReply
    /// The body of an injected bare HTTP status: a gateway's HTML page.
    var gatewayPage: (_ status: Int) -> String
    /// A reply cut short.
    var garbled: String
    /// The action's reply; `contentType` is a fault's wrong Content-Type, if any.
    var success: (_ fields: [String: Any], _ contentType: String?) -> EmulatorReply
}

extension Emulator {
    /// Runs one API action (already authenticated and validated) under the next fault that matches it, the same way
    /// for every cloud: latency and delay, a drop before or after the action, an injected error or HTTP status,
    /// console effects around it, and a substituted, garbled or mistyped reply. `run` is the action itself; `fail`
    /// answers its errors.
    func underFault<Failure: Error>(
        _ answers: CloudAnswers,
        fail: (Failure) -> EmulatorReply,
        run: () -> Result<[String: Any], Failure>
    ) async -> EmulatorReply {
        let (provider, action) = (answers.provider, answers.action)
        let fault = world.withLock { $0.takeFault(provider: provider, action: action) }
        await sleep(milliseconds: world.withLock { $0.latencyMs } + (fault?.delayMs ?? 0))
        if let fault {
            if fault.drop == .before {
                world.withLock { $0.record(provider, action, "dropped") }
                return .drop
            }
            if let code = fault.error { return answers.error(code, fault) }
            if let status = fault.httpStatus {
                world.withLock { $0.record(provider, action, "HTTP\(status)") }
                return .response(
                    HTTPResponse(
                        status: status,
                        headers: ["Content-Type": "text/html"],
                        body: Data(answers.gatewayPage(status).utf8)
                    )
                )
            }
            let now = clock.now()
            world.withLock { $0.applyConsoleEffects(fault, zoneId: answers.zoneId, now: now) }
        }
        switch run() {
        case .failure(let error):
            return fail(error)
        case .success(let fields):
            world.withLock { $0.record(provider, action, "OK") }
            if let fault {
                let now = clock.now()
                world.withLock { $0.applyAfterEffects(fault, zoneId: answers.zoneId, now: now) }
            }
            if fault?.drop == .after { return .drop }
            if let substitute = World.substitute(fault) { return .response(substitute) }
            if fault?.garble == true {
                return .response(
                    HTTPResponse(
                        status: 200,
                        headers: ["Content-Type": "application/json"],
                        body: Data(answers.garbled.utf8)
                    )
                )
            }
            return answers.success(fields, fault?.contentType)
        }
    }
}
