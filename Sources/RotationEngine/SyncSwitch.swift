import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

/// Turns a zone's SCIM synchronization on or off and records the change (`sync.enabled` / `sync.disabled`), under
/// the policy's lock.
public struct SyncSwitch: Sendable {
    public let policy: Policy
    public let provider: any SCIMKeyProvider
    public let store: any HistoryStore
    public let clock: any RotatorClock
    public let lock: PolicyLock

    public init(
        policy: Policy,
        provider: any SCIMKeyProvider,
        store: any HistoryStore,
        clock: any RotatorClock,
        lock: PolicyLock
    ) {
        self.policy = policy
        self.provider = provider
        self.store = store
        self.clock = clock
        self.lock = lock
    }

    /// Sets the status; returns the one it replaced.
    public func set(_ status: SyncStatus, reason: String?) async throws -> SyncStatus {
        try await lock.exclusive {
            let before = try await provider.syncStatus()
            try await provider.setSyncStatus(status)
            try await store.record(
                JournalWrite(events: [
                    NewEvent(
                        policy: policy.name,
                        provider: policy.provider,
                        zone: policy.zone,
                        kind: status == .enabled ? .syncEnabled : .syncDisabled,
                        actor: .manual,
                        reason: reason ?? "sync \(status == .enabled ? "enable" : "disable") from the CLI",
                        detail: ["before": before.rawValue]
                    )
                ]),
                at: clock.now()
            )
            return before
        }
    }
}
