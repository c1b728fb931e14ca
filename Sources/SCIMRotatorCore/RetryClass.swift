/// Whether a failed request may be sent again: the one classification every retry follows (the cloud clients, the
/// lost-reply check of Create, webhooks).
public enum RetryClass: Sendable, Equatable {
    /// The request was certainly not carried out (throttled, a stale signature): sending it again is safe even for
    /// an action that must not run twice.
    case notExecuted
    /// It may or may not have been carried out (no reply, a timeout, a server error, a reply that could not be
    /// read): sending it again is safe only for an action that may run twice.
    case ambiguous
    /// Another attempt would fail the same way (refused credentials or parameters, an unknown zone or key, a limit).
    case final

    /// The class of any error: a ``RetryClassifiable`` error says; anything else (cancellation, a bug) is final.
    public init(of error: any Error) {
        self = (error as? any RetryClassifiable)?.retryClass ?? .final
    }

    /// The retry predicate for a request: any failure but a final one when the request may run twice
    /// (`idempotent`), otherwise only a failure that proves it did not run.
    public static func worthRetrying(idempotent: Bool) -> @Sendable (any Error) -> Bool {
        { error in
            switch RetryClass(of: error) {
            case .notExecuted: return true
            case .ambiguous: return idempotent
            case .final: return false
            }
        }
    }

    /// The retry predicate for a request that may run twice: any failure but a final one.
    public static let retryable: @Sendable (any Error) -> Bool = worthRetrying(idempotent: true)
}

/// An error that knows its ``RetryClass``.
public protocol RetryClassifiable: Error {
    var retryClass: RetryClass { get }
    /// A pause the other side asked for before the next attempt, in seconds.
    var retryAfter: Double? { get }
}

extension RetryClassifiable {
    public var retryAfter: Double? { nil }
}

extension ProviderError: RetryClassifiable {
    public var retryClass: RetryClass {
        switch kind {
        case .throttled, .signatureExpired: return .notExecuted
        case .serverError, .network, .timeout, .unexpectedReply: return .ambiguous
        case .limitExceeded, .keyNotFound, .zoneNotFound, .identityCenterNotOpen, .authFailure, .invalidRequest,
            .lastKeyProtected, .createdWithoutSecret:
            return .final
        }
    }
}
