import Foundation
import SCIMRotatorCore

/// One cloud's API on the wire: how a request is signed, how a reply's envelope is read, how the cloud's error codes
/// map to ``ProviderError``. Pure: no I/O, no clock, no retries; ``SignedAPI`` does those the same way for every cloud.
public protocol CloudDialect: Sendable {
    /// An action's parameters as the cloud takes them (a JSON body, a query string).
    associatedtype Parameters: Sendable

    /// The cloud, for metrics.
    var provider: ProviderKind { get }
    /// Reply fields that carry a secret (`CredentialSecret`): their values never reach an error message.
    static var secretFields: [String] { get }

    /// The request for one attempt at `action`, signed with `credentials` at `now`.
    func request(action: String, parameters: Parameters, credentials: CloudCredentials, now: Date) -> HTTPRequest

    /// The reply's payload and request id, or the cloud's error as a ``ProviderError``. `body` is the reply bounded
    /// and redacted, for the messages of replies that cannot be read.
    func decode<T: Decodable>(
        _ type: T.Type,
        action: String,
        response: HTTPResponse,
        body: () -> String
    ) throws -> (T, requestId: String?)
}

extension CloudDialect {
    /// The reply body for an error message: bounded, with the values of ``secretFields`` and every known secret
    /// removed. Cut after redacting, so that a secret on the cut cannot survive in part.
    public static func redactedBody(_ body: Data, secrets: [Secret]) -> String {
        var text = String(decoding: body.prefix(65_536), as: UTF8.self)
        for field in secretFields {
            let quoted = "\"" + NSRegularExpression.escapedPattern(for: field) + "\""
            text = text.replacingOccurrences(
                of: quoted + #"\s*:\s*"[^"]*""#,
                with: "\"\(field)\":\"<redacted>\"",
                options: .regularExpression
            )
        }
        return String(text.redacting(secrets).prefix(4_096))
    }

    /// A decoding failure in words: the missing field, or the field with the wrong type.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        default: return "\(error)"
        }
    }
}

/// The one call skeleton of every signed cloud API: wait for a rate-limit slot, sign inside it, send, decode, count
/// the outcome, map transport failures, and retry what ``RetryClass`` allows.
///
/// Every attempt is signed afresh (a new timestamp and nonce): the transport never resends a request. A request holds
/// its slot of the per-account, per-action ``RateLimiter`` until its reply comes back.
public struct SignedAPI<Dialect: CloudDialect>: Sendable {
    public let dialect: Dialect
    public let credentials: CloudCredentials
    let transport: any HTTPTransport
    let clock: any RotatorClock
    let rateLimiter: RateLimiter
    let retry: RetryPolicy
    /// Pauses between retries; tests pass a no-op.
    let pause: @Sendable (Double) async throws -> Void

    public init(
        dialect: Dialect,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock,
        rateLimiter: RateLimiter,
        retry: RetryPolicy,
        pause: (@Sendable (Double) async throws -> Void)? = nil
    ) {
        self.dialect = dialect
        self.credentials = credentials
        self.transport = transport
        self.clock = clock
        self.rateLimiter = rateLimiter
        self.retry = retry
        self.pause = pause ?? RetryPolicy.sleep
    }

    /// Sends `action`, retrying what is safe to retry: with `idempotent: false` only failures that prove the request
    /// was not carried out (throttling, a stale signature); an ambiguous failure is thrown.
    public func call<T: Decodable>(
        _ action: String,
        _ parameters: Dialect.Parameters,
        idempotent: Bool = true
    ) async throws -> (T, requestId: String?) {
        try await retry.run(pause: pause, shouldRetry: RetryClass.worthRetrying(idempotent: idempotent)) {
            try await attempt(action, parameters)
        }
    }

    private func attempt<T: Decodable>(
        _ action: String,
        _ parameters: Dialect.Parameters
    ) async throws -> (T, requestId: String?) {
        let start = ContinuousClock.now
        let provider = dialect.provider.rawValue
        do {
            let response = try await rateLimiter.limited("\(credentials.accessKeyId)/\(action)") {
                // Signed once the slot is free, so that waiting for it never makes a signature stale.
                try await transport.send(
                    dialect.request(action: action, parameters: parameters, credentials: credentials, now: clock.now())
                )
            }
            let decoded = try dialect.decode(T.self, action: action, response: response) {
                Dialect.redactedBody(response.body, secrets: [credentials.secret])
            }
            CloudRequestMetrics.record(provider: provider, action: action, code: "OK", since: start)
            return decoded
        } catch let error as TransportError {
            CloudRequestMetrics.record(provider: provider, action: action, code: error.kind.rawValue, since: start)
            throw ProviderError(error.kind == .timeout ? .timeout : .network, action: action, message: error.message)
        } catch let error as ProviderError {
            CloudRequestMetrics.record(
                provider: provider,
                action: action,
                code: error.code ?? error.kind.rawValue,
                since: start
            )
            throw error
        }
    }
}
