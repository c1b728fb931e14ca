/// A cloud call that did not succeed, as a typed value that the rotation can reason about.
///
/// `code` and `requestId` are the cloud's own, so that an operator can quote them to support. `body` is only set for
/// replies the client could not understand, and has every known secret replaced by `<redacted>`.
public struct ProviderError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The zone already holds as many keys as the cloud allows.
        case limitExceeded
        /// The key id is unknown to the cloud (deleted, or never existed).
        case keyNotFound
        /// The zone/directory id is unknown to this account.
        case zoneNotFound
        /// The identity center (CIC/CloudSSO) is not opened for this account.
        case identityCenterNotOpen
        /// The cloud answered with a rate-limit error.
        case throttled
        /// The access key, signature, token or permission was refused.
        case authFailure
        /// The request timestamp is too far from the cloud's clock (check this machine's clock).
        case signatureExpired
        /// The cloud said something went wrong on its side (InternalError, 5xx, ServiceUnavailable...).
        case serverError
        /// No reply: connection refused, dropped, DNS, TLS.
        case network
        /// No reply within the client timeout.
        case timeout
        /// A reply the client could not read: bad JSON, wrong content type, missing fields.
        case unexpectedReply
        /// The cloud refused a parameter (a bug here or an API change).
        case invalidRequest
        /// The cloud refuses to delete a zone's last key (Volcano Engine `SCIMTokenDeletionConflict`).
        case lastKeyProtected
        /// CreateSCIMCredential lost its reply but did create a key, whose secret is therefore unknown.
        case createdWithoutSecret
    }

    public var kind: Kind
    public var action: String
    public var code: String?
    public var message: String
    public var requestId: String?
    public var httpStatus: Int?
    public var body: String?
    /// For `createdWithoutSecret`: the id of the key the lost call created.
    public var keyId: String?
    /// A delay the cloud asked for before retrying (Alibaba `x-acs-retry-after`), in seconds.
    public var retryAfter: Double?

    public init(
        _ kind: Kind,
        action: String,
        code: String? = nil,
        message: String,
        requestId: String? = nil,
        httpStatus: Int? = nil,
        body: String? = nil,
        keyId: String? = nil,
        retryAfter: Double? = nil
    ) {
        self.kind = kind
        self.action = action
        self.code = code
        self.message = message
        self.requestId = requestId
        self.httpStatus = httpStatus
        self.body = body
        self.keyId = keyId
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "\(action): \(kind.rawValue)"
        if let code { text += " [\(code)]" }
        text += ": \(message)"
        if let requestId { text += " (RequestId \(requestId))" }
        if let keyId { text += " (key \(keyId))" }
        if let body { text += "; reply: \(body.prefix(500))" }
        return text
    }
}
