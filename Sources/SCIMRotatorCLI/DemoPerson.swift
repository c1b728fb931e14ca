internal import CloudEmulator
internal import Foundation
internal import RotationEngine
internal import RotationHistory
internal import RotationPolicy
internal import SCIMRotatorCore

/// The person behind the demo's issuers without a key API (AWS IAM Identity Center): asked for a new token
/// (`rotation.waiting`, action `newToken`), they generate one in the console (the emulator) and hand it over, as
/// `rotate --token-stdin` does; asked to delete the previous one (`deleteToken`), they delete every token but the one
/// they handed over last in the console and say so, as `confirm --old-deleted` does.
actor DemoPerson {
    let emulator: CloudEmulator.Emulator
    let clock: any RotatorClock
    let policies: [String: Policy]
    var wiring: Wiring?
    var pending: [Task<Void, Never>] = []
    /// The console's id of the token each policy's person handed over last: the one never deleted.
    var handedOver: [String: String] = [:]

    init(emulator: CloudEmulator.Emulator, clock: any RotatorClock, policies: [Policy]) {
        self.emulator = emulator
        self.clock = clock
        self.policies = Dictionary(
            policies.filter { !$0.provider.traits.canCreate }.map { ($0.name, $0) },
            uniquingKeysWith: { a, _ in a }
        )
    }

    func start(_ wiring: Wiring) { self.wiring = wiring }

    /// Called with every event (inside the pass that recorded it): the person acts afterwards, in a task of their
    /// own, which waits for that pass to release the policy's lock.
    nonisolated func notice(_ event: HistoryEvent) {
        guard event.kind == .rotationWaiting, let action = event.details["action"] else { return }
        Task { await self.schedule(action, policy: event.policy) }
    }

    func schedule(_ action: String, policy name: String) {
        pending.append(Task { await self.act(action, policy: name) })
    }

    /// Waits for what the person is doing.
    func finish() async {
        while !pending.isEmpty {
            let tasks = pending
            pending = []
            for task in tasks { await task.value }
        }
    }

    func act(_ action: String, policy name: String) async {
        guard let wiring, let policy = policies[name] else { return }
        let now = clock.now()
        switch action {
        case "newToken":
            let expires = now.addingTimeInterval(policy.provider.traits.defaultKeyLifetime.timeInterval)
            guard let made = emulator.seedKey(zone: policy.zone, createdAt: now, expiresAt: expires) else { return }
            handedOver[name] = made.id
            let token = HandedToken(secret: Secret(made.secret), expiresAt: expires, enteredBy: "the demo's person")
            _ = await wiring.pass(
                policy,
                request: RotationRequest(trigger: .manual, reason: "a new token from the console", token: token)
            )
        case "deleteToken":
            // Every token but the one handed over last (the current one) is the old one.
            guard let current = handedOver[name] else { return }
            for token in emulator.keys(zone: policy.zone) where token.id != current {
                emulator.deleteKey(zone: policy.zone, key: token.id)
            }
            _ = await wiring.confirmDeleted(policy, by: "the demo's person")
        default:
            return
        }
    }
}
