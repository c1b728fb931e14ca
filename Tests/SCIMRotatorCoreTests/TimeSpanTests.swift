import SCIMRotatorCore
import Testing

@Suite("Durations as operators write them")
struct TimeSpanTests {
    @Test(
        "accepted spellings",
        arguments: [
            ("90d", 90 * 86_400), ("36h", 36 * 3_600), ("15m", 900), ("1h30m", 5_400), ("2w", 1_209_600),
            ("45s", 45), ("1d12h", 129_600), ("0s", 0),
        ] as [(String, Int64)]
    )
    func accepted(text: String, seconds: Int64) {
        #expect(TimeSpan(parsing: text)?.seconds == seconds)
    }

    @Test(
        "rejected spellings",
        arguments: ["", "90", "d", "1m1h", "-1d", "1.5d", "1 d", "1D", "10y", "h1", "1hh", "9999999999999d"]
    )
    func rejected(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test("description round-trips and is the shortest spelling")
    func description() {
        for text in ["90d", "1h30m", "1d12h", "45s", "0s"] {
            #expect(TimeSpan(parsing: text)?.description == text)
        }
        #expect(TimeSpan(parsing: "2w")?.description == "14d")
        #expect(TimeSpan(parsing: "90m")?.description == "1h30m")
    }

    @Test("a fuzzed duration never crashes; whatever parses round-trips")
    func fuzz() {
        let alphabet = Array("0123456789wdhms-. x+")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let text = String(
                (0..<Int.random(in: 0...14, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            )
            guard let span = TimeSpan(parsing: text) else { continue }
            #expect(span.seconds >= 0)
            #expect(TimeSpan(parsing: span.description)?.seconds == span.seconds, "\(text)")
        }
    }
}
