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
    /// Replaces every occurrence of each secret with `<redacted>`: verbatim, and in the forms a program or a service
    /// echoes it back in: URL-encoded (percent-encoded with either hex case, or form-encoded), JSON-escaped (`\/`,
    /// `\uXXXX`), and base64 (standard or URL-safe, alone or inside a longer base64 text such as a Basic
    /// `Authorization` header).
    public func redacting(_ secrets: [Secret]) -> String {
        var text = self
        for secret in secrets where secret.reveal().count >= 4 {
            for form in Redaction.forms(of: secret.reveal()) where text.contains(form) {
                text = text.replacingOccurrences(of: form, with: "<redacted>")
            }
            for form in Redaction.caseInsensitiveForms(of: secret.reveal()) {
                text = text.replacingOccurrences(of: form, with: "<redacted>", options: .caseInsensitive)
            }
        }
        return text
    }
}

/// The encodings of a secret that `redacting(_:)` removes.
enum Redaction {
    /// Exact forms, longest first (so that a longer form is removed before a shorter one inside it).
    static func forms(of value: String) -> [String] {
        var forms: Set<String> = [value]
        forms.formUnion(json(value))
        forms.formUnion(base64(value))
        return forms.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    /// Percent-encoded forms: `%2F` and `%2f` alike.
    static func caseInsensitiveForms(of value: String) -> [String] {
        var forms: Set<String> = []
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        for allowed in [unreserved, CharacterSet.alphanumerics, .urlQueryAllowed, .urlPathAllowed] {
            if let encoded = value.addingPercentEncoding(withAllowedCharacters: allowed), encoded != value {
                forms.insert(encoded)
                // application/x-www-form-urlencoded writes a space as +.
                forms.insert(encoded.replacingOccurrences(of: "%20", with: "+"))
            }
        }
        return forms.sorted { $0.count > $1.count }
    }

    /// The inside of a JSON string: `\/` or `/`, and non-ASCII as `\uXXXX` or raw.
    static func json(_ value: String) -> [String] {
        var forms: [String] = []
        for options: JSONSerialization.WritingOptions in [[], [.withoutEscapingSlashes]] {
            if let data = try? JSONSerialization.data(withJSONObject: [value], options: options) {
                let array = String(decoding: data, as: UTF8.self)
                forms.append(String(array.dropFirst(2).dropLast(2)))
            }
        }
        var ascii = ""
        for unit in value.utf16 {
            switch unit {
            case 0x22: ascii += "\\\""
            case 0x5C: ascii += "\\\\"
            case 0x2F: ascii += "\\/"
            case 0x20..<0x7F: ascii.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: ascii += "\\u" + String(format: "%04x", unit)
            }
        }
        forms.append(ascii)
        forms.append(ascii.replacingOccurrences(of: "\\/", with: "/"))
        return forms
    }

    /// Base64 of the secret at each of the three byte alignments inside a longer base64 text: the characters that
    /// encode only the secret's own bits (a few at the edges depend on the neighbouring bytes and are left), in the
    /// standard and the URL-safe alphabet.
    static func base64(_ value: String) -> [String] {
        let bytes = Array(value.utf8)
        var forms: [String] = []
        for offset in 0..<3 {
            let encoded = Array(Data(Array(repeating: 0, count: offset) + bytes).base64EncodedString().utf8)
            let first = (8 * offset + 5) / 6
            let end = min(encoded.count, (8 * (offset + bytes.count)) / 6)
            guard end - first >= 8 else { continue }
            let core = String(decoding: encoded[first..<end], as: UTF8.self)
            forms.append(core)
            forms.append(core.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        }
        let whole = Data(bytes).base64EncodedString()
        forms.append(whole)
        forms.append(whole.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        return forms
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
