import Foundation
import SCIMRotatorCore
import Testing

@Suite("Clocks")
struct ClockTests {
    @Test("a frozen virtual clock jumps on sleep without real waiting")
    func jumps() async throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = VirtualClock(start: start)
        let began = Date()
        try await clock.sleep(seconds: 365 * 86_400)
        #expect(clock.now() == start.addingTimeInterval(365 * 86_400))
        #expect(Date().timeIntervalSince(began) < 1)
    }

    @Test("arrive never moves a virtual clock backwards; set does")
    func monotonicArrive() {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = VirtualClock(start: start)
        clock.arrive(at: start.addingTimeInterval(-60))
        #expect(clock.now() == start)
        clock.set(start.addingTimeInterval(-60))
        #expect(clock.now() == start.addingTimeInterval(-60))
    }

    @Test("sleepSpeed scales the real delay")
    func scaled() {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = VirtualClock(start: start, sleepSpeed: 1_000)
        #expect(abs(clock.realDelay(until: start.addingTimeInterval(5_000)) - 5) < 0.001)
        #expect(clock.realDelay(until: start.addingTimeInterval(-5)) == 0)
    }

    @Test("a flowing clock follows real time from its anchor")
    func flowing() async throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = VirtualClock(start: start, flowRate: 1)
        try await Task.sleep(nanoseconds: 20_000_000)
        #expect(clock.now() > start)
        clock.advance(by: 86_400)
        #expect(clock.now() > start.addingTimeInterval(86_400))
    }
}
