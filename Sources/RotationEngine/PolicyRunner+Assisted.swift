import Delivery
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Assisted rotation, for issuers without a key API (``ProviderTraits/canCreate``, ``ProviderTraits/canDelete``,
/// ``ProviderTraits/canList``: AWS IAM Identity Center). A person makes the new token in the console and hands it
/// over (`rotate --token-stdin`); from there the rotation is the usual one (verify, deliver, promote). When the
/// previous token's grace period is over a person is asked to delete it in the console and says so
/// (`confirm --old-deleted`). The journal is the list of the zone's keys: `track` registers the one in use.
extension PolicyRunner {
    var traits: ProviderTraits { provider.kind.traits }

    /// What a person does for the next key. `current`: the journal's current key, which must never be the one
    /// deleted to make room.
    func tokenInstruction(zone: [SCIMKey], current: String?) -> String {
        var text =
            "Generate a new SCIM token in \(traits.consoleName) for \(policy.zone), then run "
            + "`scim-rotator rotate \(policy.name) --token-stdin` and paste it"
        if zone.isEmpty {
            text +=
                " (if a token is in use today, register it first: `scim-rotator track \(policy.name) --expires TIME`, "
                + "so that the tool asks for its deletion once the new one is delivered)"
        } else if zone.count >= policy.keyLimit {
            let others = zone.filter { $0.id != current }.map(\.id)
            text +=
                " (the tenant holds \(zone.count) of \(policy.keyLimit) tokens, so the console refuses another until "
                + "one of \(others.joined(separator: ", ")) is deleted"
                + (current.map { "; never delete \($0), the current token" } ?? "")
                + ": `scim-rotator status \(policy.name)` says what each one is and when it may go)"
        }
        return text
    }

    /// The key a token was handed over as before, if it was: a person pasted an old token.
    public static func handedOverBefore(
        _ secret: Secret,
        policy: String,
        store: any HistoryStore
    ) async throws -> KeyRecord? {
        let fingerprint = secret.fingerprint(key: try await store.fingerprintKey())
        return try await store.keys(policy: policy).first { $0.fingerprint == fingerprint }
    }

    // MARK: started | awaitingToken → created

    /// The rotation's new key from a person's hands: without a token the rotation waits (announced once, as
    /// `rotation.waiting` with the instruction); with one it is journaled as the new key, whose id derives from its
    /// fingerprint. A token seen before is refused (a person pasted the old one).
    func handOver(_ run: inout RotationRun) async throws -> RotationOutcome? {
        guard let token = run.token else {
            let current = try await store.keys(policy: policy.name).first { $0.role == .current }?.keyId
            let instruction = tokenInstruction(zone: run.zone, current: current)
            if run.rotation.state != .awaitingToken {
                run.rotation.state = .awaitingToken
                run.rotation.waitingFor = instruction
                run.rotation.updatedAt = clock.now()
                try await journal(
                    run.rotation,
                    events: [
                        event(
                            .rotationWaiting,
                            rotation: run.rotation,
                            keyId: run.rotation.oldKeyId,
                            reason: instruction,
                            detail: ["action": "newToken"]
                        )
                    ]
                )
            }
            return .waiting(run.rotation.waitingFor ?? instruction)
        }
        let fingerprint = token.secret.fingerprint(key: try await store.fingerprintKey())
        if let seen = try await Self.handedOverBefore(token.secret, policy: policy.name, store: store) {
            return .failed(
                "this token was handed over before (key \(seen.keyId), \(seen.role.rawValue)): generate a new one in "
                    + "\(traits.consoleName); nothing was changed"
            )
        }
        let now = clock.now()
        let key = SCIMKey(
            id: HandedToken.keyId(fingerprint: fingerprint),
            status: .enabled,
            createdAt: now,
            expiresAt: token.expiresAt
        )
        var record = KeyRecord(policy: policy.name, keyId: key.id, role: .pending, firstSeen: now)
        record.observe(key, at: now)
        record.fingerprint = fingerprint
        record.rotationId = run.rotation.id
        secrets.store(token.secret, rotation: run.rotation.id)
        run.secret = token.secret
        run.rotation.state = .created
        run.rotation.newKeyId = key.id
        run.rotation.newKeyFingerprint = fingerprint
        run.rotation.waitingFor = nil
        run.rotation.updatedAt = now
        run.zone.append(key)
        try await journal(
            run.rotation,
            keys: [record],
            events: [
                event(
                    .keyCreated,
                    rotation: run.rotation,
                    keyId: key.id,
                    actor: .manual,
                    reason: "made in \(traits.consoleName) and handed over by \(token.enteredBy)",
                    detail: [
                        "fingerprint": fingerprint, "expires": HistoryTime.format(key.expiresAt),
                        "enteredBy": token.enteredBy,
                    ]
                )
            ]
        )
        try await failPoints.hit("after:created")
        return nil
    }

    // MARK: The previous token

    /// Asks a person to delete keys in the console (the issuer cannot): the intent is journaled with a
    /// `rotation.waiting` event (notification kind `action`), once per key; `confirm --old-deleted` records the deletion.
    func askDeletion(_ keyIds: [String], reason: String, actor: Actor, rotationId: String?) async throws {
        for keyId in keyIds {
            var record = try await keyRecord(for: keyId)
            guard record.intent != .delete else { continue }
            record.intent = .delete
            record.intentAt = clock.now()
            try await journal(
                keys: [record],
                events: [
                    event(
                        .rotationWaiting,
                        rotationId: rotationId,
                        keyId: keyId,
                        actor: actor,
                        reason: "\(reason): delete the SCIM token \(keyId) (created "
                            + "\(record.createdAt.map(TimeText.minute) ?? "?")) in \(traits.consoleName), "
                            + "then run `scim-rotator confirm \(policy.name) --old-deleted`",
                        detail: ["action": "deleteToken"]
                    )
                ]
            )
        }
    }

    /// `confirm --old-deleted`: the keys a person was asked to delete are gone.
    public func confirmDeleted(by person: String) async -> PassResult {
        await exclusive {
            do {
                let asked = try await store.keys(policy: policy.name).filter {
                    $0.intent == .delete && !$0.role.isGone
                }
                guard !asked.isEmpty else {
                    return PassResult(
                        policy: policy.name,
                        outcome: .failed,
                        message: "no token is waiting to be deleted (see `scim-rotator status \(policy.name)`)",
                        nextCheck: nil
                    )
                }
                for record in asked {
                    try await recordDeleted(
                        record,
                        reason: "deleted in the console by \(person) (confirm --old-deleted)",
                        actor: .manual,
                        rotationId: record.rotationId
                    )
                }
            } catch {
                return PassResult(policy: policy.name, outcome: .failed, message: "\(error)", nextCheck: nil)
            }
            return await passHoldingLock(request: nil)
        }
    }

    // MARK: Registering the key in use

    public struct TrackError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `track`: registers the token in use today (no secret) as the current key of an issuer whose keys cannot be
    /// listed, so that expiry warnings, plans and notifications work from here on.
    public func track(createdAt: Date?, expiresAt: Date, by person: String) async throws -> String {
        guard !traits.canList else {
            throw TrackError(
                description: "\(traits.serviceName) lists its keys through its API: `scim-rotator status "
                    + "\(policy.name)` already watches their expiry; track is for issuers without a key API"
            )
        }
        guard let lock else {
            return try await trackHoldingLock(createdAt: createdAt, expiresAt: expiresAt, by: person)
        }
        return try await lock.exclusive {
            try await trackHoldingLock(createdAt: createdAt, expiresAt: expiresAt, by: person)
        }
    }

    func trackHoldingLock(createdAt: Date?, expiresAt: Date, by person: String) async throws -> String {
        do {  // one scope for the body below
            let now = clock.now()
            let records = try await store.keys(policy: policy.name)
            if let current = records.first(where: { $0.role == .current }) {
                throw TrackError(
                    description: "\(policy.name) already tracks \(current.keyId) (expires "
                        + "\(current.expiresAt.map(TimeText.minute) ?? "?")); replace it with "
                        + "`scim-rotator rotate \(policy.name) --token-stdin`"
                )
            }
            let created = createdAt ?? expiresAt.addingTimeInterval(-traits.defaultKeyLifetime.timeInterval)
            let keyId = "tracked-" + String(HistoryTime.format(created).filter(\.isNumber).prefix(12))
            var record = KeyRecord(policy: policy.name, keyId: keyId, role: .current, firstSeen: now)
            record.observe(SCIMKey(id: keyId, status: .enabled, createdAt: created, expiresAt: expiresAt), at: now)
            record.promotedAt = now
            try await journal(
                keys: [record],
                events: [
                    event(
                        .keyTracked,
                        keyId: keyId,
                        actor: .manual,
                        reason: "the token in use, registered by \(person)",
                        detail: [
                            "created": HistoryTime.format(created), "expires": HistoryTime.format(expiresAt),
                            "enteredBy": person,
                        ]
                    )
                ]
            )
            return keyId
        }
    }
}
