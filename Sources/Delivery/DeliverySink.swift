import Foundation
import SCIMRotatorCore

/// What a sink knows about the key it delivers, besides the secret.
public struct DeliveryContext: Sendable {
    public var policy: String
    public var provider: ProviderKind
    public var zone: String
    public var keyId: String
    public var createdAt: Date
    public var expiresAt: Date
    /// The SCIM base URL identity providers push to with this key.
    public var scimURL: URL

    public init(
        policy: String,
        provider: ProviderKind,
        zone: String,
        keyId: String,
        createdAt: Date,
        expiresAt: Date,
        scimURL: URL
    ) {
        self.policy = policy
        self.provider = provider
        self.zone = zone
        self.keyId = keyId
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.scimURL = scimURL
    }
}

/// A sink failed: nothing is promoted, the old key stays enabled, a retry is scheduled.
public struct DeliveryError: Error, Sendable, CustomStringConvertible {
    public var sink: String
    public var message: String

    public init(sink: String, message: String) {
        self.sink = sink
        self.message = message
    }

    public var description: String { "\(sink): \(message)" }
}

/// What a sink reports after it delivered: details for the history (never the secret), and whether a person still
/// has to act before the key may be promoted (the `manual` sink).
public struct DeliveryReceipt: Sendable, Equatable {
    public var detail: [String: String]
    /// Set when the key was handed to a person, who confirms with `scim-rotator confirm POLICY`.
    public var awaitingConfirmation: String?

    public init(detail: [String: String] = [:], awaitingConfirmation: String? = nil) {
        self.detail = detail
        self.awaitingConfirmation = awaitingConfirmation
    }

    public static let done = DeliveryReceipt()
}

/// A destination for a new key (a file, a program, a secret store, an identity provider's API).
public protocol DeliverySink: Sendable {
    /// A description without secrets, recorded in history: `file /var/lib/...`, `exec /usr/local/bin/push`.
    var summary: String { get }
    /// Names the destination in the journal, which records the key each destination holds: stable across runs,
    /// distinct between two sinks of a policy. Defaults to ``summary``.
    var identity: String { get }
    @discardableResult func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt
}

extension DeliverySink {
    public var identity: String { summary }
}

/// A destination whose stored secret can be read back (a file, Vault KV, a Kubernetes Secret). Rotations deliver
/// to these first: after a crash or a failed sink, the new key's secret is recovered from one that holds it
/// (checked against the journaled fingerprint), so the remaining sinks get the same key instead of a new one; the
/// current key's SCIM check reads it from here too.
public protocol ReadableSink: DeliverySink {
    /// The secret the destination holds now; nil when it holds none.
    func read(context: DeliveryContext) async throws -> Secret?
}
