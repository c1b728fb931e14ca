import Foundation
import SCIMRotatorCore
import Transport

/// Proves a new key works before anyone gets it: an authenticated `GET {scim}/Users?count=1` must answer 200.
///
/// `ServiceProviderConfig` is not used: both clouds serve it without authentication, so it proves nothing.
/// A fresh key may need a moment to propagate, so a refusal is retried a few times on the injected clock.
public struct SCIMVerifier: Sendable {
    let transport: any HTTPTransport
    let clock: any RotatorClock
    public let attempts: Int
    public let interval: Double
    public let timeout: Double

    public init(
        transport: any HTTPTransport,
        clock: any RotatorClock,
        attempts: Int = 5,
        interval: Double = 2,
        timeout: Double = 15
    ) {
        self.transport = transport
        self.clock = clock
        self.attempts = max(1, attempts)
        self.interval = interval
        self.timeout = timeout
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var url: String
        public var attempts: Int
        public var last: String
        public var description: String {
            "the new key was refused by \(url) on all \(attempts) attempts (last: \(last)); it is never handed to anyone"
        }
    }

    /// Returns the number of attempts it took.
    @discardableResult
    public func verify(_ secret: Secret, scimBaseURL: URL) async throws -> Int {
        let url = try Self.usersURL(scimBaseURL)
        var last = ""
        for attempt in 1...attempts {
            do {
                let status = try await status(of: secret, url: url)
                if status == 200 { return attempt }
                last = "HTTP \(status)"
            } catch {
                last = "\(error)".redacting([secret])
            }
            if attempt < attempts { try await clock.sleep(seconds: interval * Double(attempt)) }
        }
        throw Failure(url: url.absoluteString, attempts: attempts, last: last)
    }

    /// One authenticated request with a key in use (the current key's periodic check): the HTTP status.
    public func check(_ secret: Secret, scimBaseURL: URL) async throws -> Int {
        try await status(of: secret, url: try Self.usersURL(scimBaseURL))
    }

    static func usersURL(_ scimBaseURL: URL) throws -> URL {
        var components = URLComponents(url: scimBaseURL.appendingPathComponent("Users"), resolvingAgainstBaseURL: false)
        components?.queryItems = [URLQueryItem(name: "count", value: "1")]
        guard let url = components?.url else {
            throw Failure(url: scimBaseURL.absoluteString, attempts: 0, last: "not a URL")
        }
        return url
    }

    func status(of secret: Secret, url: URL) async throws -> Int {
        let request = HTTPRequest(
            method: "GET",
            url: url,
            headers: [("Authorization", "Bearer \(secret.reveal())"), ("Accept", "application/scim+json")],
            timeout: timeout
        )
        return try await transport.send(request).status
    }
}
