import CSpawn
import Foundation
import SCIMRotatorCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide signal settings a long-running tool needs.
public enum SignalDisposition {
    /// SIGPIPE ignored: a write to a pipe whose reader is gone (an exec sink that exits without reading stdin, a
    /// closed `| head`) returns EPIPE to the writer instead of killing the whole process.
    public static func ignoreBrokenPipes() {
        _ = ignored
    }

    private static let ignored: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}

/// A program started through the CSpawn supervisor (see CSpawn.h): its own process group, killed with its group when
/// this process dies or gives up on it. Blocking reads run on threads of their own, never on the concurrency pool.
final class SpawnedProgram: Sendable {
    enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        case execFailed(Int32)
        case timedOut
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// What the reader threads learn.
    final class Reports: Sendable {
        /// The program's pid, which is its process group id; 0 until it is known or once it is gone.
        let group = Mutex<pid_t>(0)
        /// Nil once the program runs; the outcome when it could not be started.
        let start = Waitable<Outcome?>()
        let finished = Waitable<Outcome>()
        let stderr = Waitable<Data>()
        /// When the program started and exited, as the reader thread saw it: how long it ran does not depend on
        /// when a busy concurrency pool gets round to looking.
        let times = Mutex<(running: ContinuousClock.Instant?, exited: ContinuousClock.Instant?)>((nil, nil))

        /// How long the program ran, once it has exited.
        var ran: Duration? {
            times.withLock { times in
                guard let running = times.running, let exited = times.exited else { return nil }
                return exited - running
            }
        }
    }

    private let stdinFD: Int32
    private let lifelineFD: Int32
    private let reports = Reports()
    private let released = Mutex(false)

    init(path: String, arguments: [String], environment: [String: String]) throws {
        let argv = arguments.map { strdup($0) }
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var spawned = scim_spawned()
        let code = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envpBuffer in
                scim_spawn(path, argvBuffer.baseAddress, envpBuffer.baseAddress, &spawned)
            }
        }
        guard code == 0 else { throw StartError(description: Self.describe(errno: code)) }
        stdinFD = spawned.stdin_fd
        lifelineFD = spawned.lifeline_fd
        _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK)
        let (reportFD, stderrFD, supervisor) = (spawned.report_fd, spawned.stderr_fd, spawned.supervisor)
        let reports = self.reports
        Thread.detachNewThread {
            var outcome = Outcome.signaled(SIGKILL)
            var report = scim_report()
            while Self.readReport(reportFD, into: &report) {
                switch report.kind {
                case Int32(SCIM_REPORT_STARTED):
                    reports.group.withLock { $0 = pid_t(report.value) }
                case Int32(SCIM_REPORT_RUNNING):
                    reports.times.withLock { $0.running = .now }
                    reports.start.set(nil)
                case Int32(SCIM_REPORT_EXEC_FAILED):
                    outcome = .execFailed(report.value)
                    reports.start.set(outcome)
                case Int32(SCIM_REPORT_WAIT_STATUS):
                    reports.times.withLock { $0.exited = .now }
                    let status = report.value
                    outcome =
                        scim_wifexited(status) != 0
                        ? .exited(scim_wexitstatus(status))
                        : .signaled(scim_wifsignaled(status) != 0 ? scim_wtermsig(status) : SIGKILL)
                default:
                    break
                }
            }
            close(reportFD)
            var status: Int32 = 0
            while waitpid(supervisor, &status, 0) < 0, errno == EINTR {}
            reports.group.withLock { $0 = 0 }
            reports.start.set(outcome)
            reports.finished.set(outcome)
        }
        Thread.detachNewThread {
            var collected = Data()
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = read(stderrFD, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                collected.append(contentsOf: buffer[0..<count])
                if collected.count > 65_536 { collected.removeFirst(collected.count - 65_536) }
            }
            close(stderrFD)
            reports.stderr.set(collected)
        }
    }

    static func readReport(_ fd: Int32, into report: inout scim_report) -> Bool {
        var filled = 0
        let size = MemoryLayout<scim_report>.size
        return withUnsafeMutableBytes(of: &report) { bytes in
            guard let base = bytes.baseAddress else { return false }
            while filled < size {
                let count = read(fd, base + filled, size - filled)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return false }
                filled += count
            }
            return true
        }
    }

    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Nil once the program runs; `.execFailed` (or how its supervisor ended) when it could not be started.
    func started() async -> Outcome? {
        await reports.start.value()
    }

    /// Writes `data` to the program's stdin and closes it; the errno when that failed (EPIPE: it exited without
    /// reading; EAGAIN: it did not read while the pipe was full).
    func writeInput(_ data: Data) -> Int32? {
        defer { close(stdinFD) }
        return data.withUnsafeBytes { bytes -> Int32? in
            guard let base = bytes.baseAddress else { return nil }
            var offset = 0
            while offset < bytes.count {
                let count = write(stdinFD, base + offset, bytes.count - offset)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return errno }
                offset += count
            }
            return nil
        }
    }

    /// Waits for the program to exit; after `timeout` seconds sends SIGTERM to its process group, and SIGKILL a
    /// second later. A program that ran longer than `timeout` has timed out, even if it exited before this task
    /// woke up to stop it.
    func exit(timeout: Double) async -> Outcome {
        if let outcome = await reports.finished.value(within: timeout) {
            if let ran = reports.ran, ran > .milliseconds(Int64(timeout * 1_000)) { return .timedOut }
            return outcome
        }
        signalGroup(SIGTERM)
        if await reports.finished.value(within: 1) == nil {
            signalGroup(SIGKILL)
            _ = await reports.finished.value(within: 5)
        }
        return .timedOut
    }

    /// What the program wrote to stderr (the last 64 KiB), once its group closed it (at most 2 s after it exited).
    func errorOutput() async -> Data {
        await reports.stderr.value(within: 2) ?? Data()
    }

    private func signalGroup(_ signal: Int32) {
        let pgid = reports.group.withLock { $0 }
        if pgid > 0 { kill(-pgid, signal) }
    }

    /// Closes the lifeline: if the program is still running, its supervisor kills its process group.
    func release() {
        let first = released.withLock { released in
            defer { released = true }
            return !released
        }
        if first { close(lifelineFD) }
    }

    deinit {
        release()
    }
}

/// A value set once, awaited by any number of tasks, each with an optional time limit.
final class Waitable<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var isSet = false
        var waiters: [UUID: CheckedContinuation<Value?, Never>] = [:]
        var timers: [UUID: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Sets the value (only the first call counts) and wakes every waiter.
    func set(_ value: Value) {
        let (waiters, timers) = state.withLock { state -> ([CheckedContinuation<Value?, Never>], [Task<Void, Never>]) in
            guard !state.isSet else { return ([], []) }
            state.value = value
            state.isSet = true
            defer {
                state.waiters = [:]
                state.timers = [:]
            }
            return (Array(state.waiters.values), Array(state.timers.values))
        }
        for timer in timers { timer.cancel() }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    private func expire(_ id: UUID) {
        let waiter = state.withLock { state in
            state.timers[id] = nil
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume(returning: nil)
    }

    /// The value, however long it takes (every setter here runs to completion).
    func value() async -> Value {
        while true {
            if let value = await value(within: 3_600) { return value }
        }
    }

    /// The value, or nil after `seconds`.
    func value(within seconds: Double) async -> Value? {
        let id = UUID()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let ready = state.withLock { state -> Value?? in
                if state.isSet { return .some(state.value) }
                state.waiters[id] = continuation
                return .none
            }
            if let ready {
                continuation.resume(returning: ready)
                return
            }
            let timer = Task { [self] in
                try? await Task.sleep(nanoseconds: UInt64(max(0, min(seconds, 1e6)) * 1_000_000_000))
                expire(id)
            }
            let keep = state.withLock { state in
                guard state.waiters[id] != nil else { return false }
                state.timers[id] = timer
                return true
            }
            if !keep { timer.cancel() }
        }
    }
}
