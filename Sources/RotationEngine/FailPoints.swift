import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named points in the executor where the crash suite can stop the process. Inert unless configured, e.g.
/// `SCIM_ROTATOR_FAILPOINTS=after:create=crash` (the process SIGKILLs itself right after CreateSCIMCredential returns
/// and before the journal records the key).
///
/// Actions: `crash` (SIGKILL self; in tests, a ``SimulatedCrash`` that skips every cleanup), `pause` (hang, for a
/// `kill -9` from outside), `error` (an ordinary failure of that step).
public struct FailPoints: Sendable {
    public enum Action: String, Sendable {
        case crash
        case pause
        case error
    }

    /// The points, in the order a rotation passes them. `before:sink` is after a sink's attempt is journaled and
    /// before the sink runs; `after:sink` after it succeeded and before the journal records it (the crash of a
    /// process whose exec child already pushed the key); `after:deliver` after the last sink is journaled.
    public static let names = [
        "before:create", "after:create", "after:created", "after:verify", "before:sink", "after:sink",
        "after:deliver", "after:delivered", "after:promote", "after:retire", "after:disable", "after:delete",
        "after:abandon",
    ]

    let actions: [String: Action]
    /// Tests crash by throwing instead of killing the test runner.
    let crashByThrowing: Bool
    /// The simulation's crash "between any two journal writes": the process dies right after this many more
    /// journal commits (shared by every runner that carries these fail points).
    let journalCountdown: JournalCountdown?

    public init(_ actions: [String: Action] = [:], crashByThrowing: Bool = false, crashAfterJournalWrites: Int? = nil) {
        self.actions = actions
        self.crashByThrowing = crashByThrowing
        self.journalCountdown = crashAfterJournalWrites.map(JournalCountdown.init)
    }

    /// Counts journal commits down to a simulated crash.
    final class JournalCountdown: Sendable {
        private let remaining: Mutex<Int>
        init(_ count: Int) { remaining = Mutex(count) }
        /// True once, when the count reaches zero.
        func tick() -> Bool {
            remaining.withLock { count in
                count -= 1
                return count == 0
            }
        }
    }

    /// After every journal commit: the simulation's crash between two writes.
    func journaled() throws {
        if let journalCountdown, journalCountdown.tick() { throw SimulatedCrash(point: "journal write") }
    }

    public static let none = FailPoints()

    /// Parses `after:create=crash,after:verify=error`; unknown names or actions are an error.
    public static func parse(_ text: String) throws -> FailPoints {
        var actions: [String: Action] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, names.contains(parts[0]), let action = Action(rawValue: parts[1]) else {
                throw FailPointError(
                    description:
                        "SCIM_ROTATOR_FAILPOINTS: `\(item)` is not NAME=crash|pause|error with NAME one of \(names.joined(separator: ", "))"
                )
            }
            actions[parts[0]] = action
        }
        return FailPoints(actions)
    }

    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> FailPoints {
        guard let text = environment["SCIM_ROTATOR_FAILPOINTS"], !text.isEmpty else { return .none }
        return try parse(text)
    }

    public struct FailPointError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Passes the point `name`.
    func hit(_ name: String) async throws {
        guard let action = actions[name] else { return }
        switch action {
        case .crash:
            if crashByThrowing { throw SimulatedCrash(point: name) }
            kill(getpid(), SIGKILL)
        case .pause:
            FileHandle.standardError.write(Data("scim-rotator: paused at fail point \(name) (pid \(getpid()))\n".utf8))
            while true { try? await Task.sleep(nanoseconds: 3_600_000_000_000) }
        case .error:
            throw FailPointError(description: "fail point \(name)")
        }
    }
}

/// A crash simulated in-process: nothing after the fail point runs, nothing is cleaned up or journaled.
public struct SimulatedCrash: Error, Sendable {
    public var point: String
    public init(point: String) { self.point = point }
}
