import Crypto
import Foundation
import SCIMRotatorCore
import Testing

@Suite("Secrets never print")
struct SecretTests {
    let secret = Secret("YlBKbEhkYXI2cy9xOEFjSyjPJlcOtCKFiNoHOc5EZox3ZKEVqo2CUA=")

    @Test("description, interpolation, debug and dump are redacted")
    func redacted() {
        let plain = secret.reveal()
        #expect(!"\(secret)".contains(plain))
        #expect(!String(describing: secret).contains(plain))
        #expect(!String(reflecting: secret).contains(plain))
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains(plain))
        struct Holder { var token: Secret }
        var holderDump = ""
        dump(Holder(token: secret), to: &holderDump)
        #expect(!holderDump.contains(plain))
        #expect(!"\(Holder(token: secret))".contains(plain))
    }

    @Test("redacting removes every occurrence from a text")
    func redacting() {
        let text = "reply: {\"CredentialSecret\": \"\(secret.reveal())\"} again \(secret.reveal())"
        let cleaned = text.redacting([secret])
        #expect(!cleaned.contains(secret.reveal()))
        #expect(cleaned.contains("<redacted>"))
    }

    @Test("fingerprints are keyed HMACs: same key same value, other key other value")
    func fingerprint() {
        let key = SymmetricKey(size: .bits256)
        #expect(secret.fingerprint(key: key) == secret.fingerprint(key: key))
        #expect(secret.fingerprint(key: key) != secret.fingerprint(key: SymmetricKey(size: .bits256)))
        #expect(secret.fingerprint(key: key).count == 64)
        #expect(!secret.fingerprint(key: key).contains(secret.reveal()))
    }
}
