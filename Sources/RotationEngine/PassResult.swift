import Delivery
import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization

/// Set when the process is asked to stop: runners finish the step they are in (a rotation that has created its key
/// runs on to promotion, so its secret is not lost) and start nothing new.
public final class ShutdownSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func request() { flag.store(true, ordering: .relaxed) }
    public var isRequested: Bool { flag.load(ordering: .relaxed) }
}

/// What one pass over a policy did.
public struct PassResult: Sendable {
    public enum Outcome: String, Sendable, Codable {
        /// Nothing was due.
        case idle
        /// Work was done (a rotation, disable, delete, adoption) and nothing failed.
        case changed
        /// A rotation is due but waits for its window, a back-off or a person.
        case waiting
        case failed
        case blocked
        /// The current key does not work (expired, disabled, refused by SCIM) and nothing replaced it in this pass.
        case unusable
        /// Stopped early because of a shutdown request.
        case interrupted
        /// The current key expires within `warnBefore` and no replacement exists: a person has not handed one over
        /// yet (issuers without a key API).
        case expiring
    }

    public var policy: String
    public var outcome: Outcome
    public var message: String
    public var nextCheck: Date?
    public var rotations: [String]
    /// When the current key falls due (for metrics and plan).
    public var dueAt: Date?

    public var isFailure: Bool { [.failed, .blocked, .unusable, .expiring].contains(outcome) }

    public init(policy: String, outcome: Outcome, message: String, nextCheck: Date?, rotations: [String] = []) {
        self.policy = policy
        self.outcome = outcome
        self.message = message
        self.nextCheck = nextCheck
        self.rotations = rotations
    }
}
