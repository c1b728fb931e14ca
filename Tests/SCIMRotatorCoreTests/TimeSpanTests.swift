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
}
