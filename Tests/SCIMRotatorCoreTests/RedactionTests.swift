import Foundation
import SCIMRotatorCore
import Testing

@Suite("Redaction: every form a secret is echoed back in")
struct RedactionTests {
    static let secret = Secret("YlBK+bEh/kYar6s=q8Ac Kj\"é~x")

    static var forms: [(String, String)] {
        let value = secret.reveal()
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        let percent = value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        let json = String(decoding: (try? JSONEncoder().encode([value])) ?? Data(), as: UTF8.self)
        let pythonJSON =
            #"YlBK+bEh\/kYar6s=q8Ac Kj\"\u00e9~x"#
        let base64 = Data(value.utf8).base64EncodedString()
        let basic = Data("admin:\(value)".utf8).base64EncodedString()
        let basic2 = Data("ab:\(value):z".utf8).base64EncodedString()
        return [
            ("verbatim", value), ("percent-encoded", percent),
            ("percent-encoded, lower-case hex", percent.lowercased()),
            ("form-encoded", percent.replacingOccurrences(of: "%20", with: "+")),
            ("JSON (Swift)", json), ("JSON (Python ensure_ascii)", pythonJSON),
            ("base64", base64),
            ("base64url", base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")),
            ("inside a Basic header", "Authorization: Basic \(basic)"), ("inside base64 at another offset", basic2),
        ]
    }

    @Test("each form is removed", arguments: forms)
    func form(name: String, text: String) {
        let value = Self.secret.reveal()
        let cleaned = "before \(text) after".redacting([Self.secret])
        #expect(cleaned.contains("<redacted>"), "\(name): \(cleaned)")
        // No run of 8 characters of the form survives.
        let core = text.replacingOccurrences(of: "Authorization: Basic ", with: "")
        let window = 12
        if core.count > window + 4 {
            let middle = String(core.dropFirst(4).prefix(window))
            #expect(!cleaned.contains(middle), "\(name): \(cleaned)")
        }
        #expect(!cleaned.contains(value))
    }

    @Test("ordinary text is left alone")
    func untouched() {
        let text = "exited with 3: permission denied for app 0oa1 (HTTP 403)"
        #expect(text.redacting([Self.secret]) == text)
    }
}
