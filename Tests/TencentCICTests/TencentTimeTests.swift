import Foundation
import TencentCIC
import Testing

@Suite("CIC's zone-less times")
struct TencentTimeTests {
    @Test("read in Beijing time by default")
    func beijing() throws {
        let date = try #require(TencentTime.parse("2024-05-31 15:04:53"))
        #expect(date == Date(timeIntervalSince1970: 1_717_139_093))  // 2024-05-31T07:04:53Z
        #expect(TencentTime.format(date) == "2024-05-31 15:04:53")
    }

    @Test("a configured zone shifts the reading")
    func configured() throws {
        let utc = try #require(TencentTime.parse("2024-05-31 15:04:53", in: TimeZone(secondsFromGMT: 0)!))
        let beijing = try #require(TencentTime.parse("2024-05-31 15:04:53"))
        #expect(utc.timeIntervalSince(beijing) == 8 * 3_600)
    }

    @Test(
        "malformed times are rejected",
        arguments: ["2024-05-31T15:04:53", "2024-13-01 00:00:00", "24-05-31 15:04:53", "", "2024-05-31 25:00:00"]
    )
    func malformed(text: String) {
        #expect(TencentTime.parse(text) == nil)
    }

    @Test("round-trips across years and leap days")
    func roundTrip() {
        for seconds in stride(from: 0.0, to: 4_102_444_800, by: 86_400 * 37.3) {
            let date = Date(timeIntervalSince1970: seconds.rounded(.down))
            #expect(TencentTime.parse(TencentTime.format(date)) == date)
        }
    }
}
