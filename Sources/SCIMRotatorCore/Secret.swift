import Crypto
import Foundation

/// A secret value (a SCIM bearer key, a cloud secret key, an API token).
///
/// It prints, dumps and interpolates as `<redacted>` so that it cannot end up in a log line, an error message or a
/// database row by accident. Code that must hand the value on (a delivery sink, a signer, the SCIM check) calls
/// ``reveal()`` explicitly, which keeps every use greppable.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The plain value. Only call this where the secret leaves the process on purpose.
    public func reveal() -> String { value }

    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }

    /// HMAC-SHA256 of the secret under `key`, hex: answers "was this token issued here?" without storing it.
    public func fingerprint(key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: key)
        return Data(mac).hexString
    }
}

extension String {
    /// Replaces every occurrence of each secret's value with `<redacted>`.
    public func redacting(_ secrets: [Secret]) -> String {
        var text = self
        for secret in secrets where secret.reveal().count >= 4 {
            text = text.replacingOccurrences(of: secret.reveal(), with: "<redacted>")
        }
        return text
    }
}

@usableFromInline let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension Sequence where Element == UInt8 {
    /// Lower-case hex, two digits per byte (hash outputs, fingerprints).
    public var hexString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        appendHex(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the lower-case hex digits of these bytes as ASCII, for hot loops that compare hex without a String.
    /// Inlinable, so that callers in other modules get it specialized for their byte sequence.
    @inlinable
    public func appendHex(to bytes: inout [UInt8]) {
        for byte in self {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0F)])
        }
    }
}
