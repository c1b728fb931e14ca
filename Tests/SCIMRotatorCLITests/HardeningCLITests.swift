import Foundation
import RotationHistory
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether `pid` no longer runs anything (gone, or a zombie nobody reaped).
func isGone(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
        return kill(pid, 0) != 0
    }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
    return state == "Z" || state == "X"
}

/// Reads a child's stderr until `phrase` appears or `seconds` pass.
func readUntil(_ pipe: Pipe, _ phrase: String, seconds: Double = 20, log: inout String) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    let handle = pipe.fileHandleForReading
    let fd = handle.fileDescriptor
    while !log.contains(phrase), Date() < deadline {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 200) > 0 else { continue }
        let chunk = handle.availableData
        if chunk.isEmpty { break }
        log += String(decoding: chunk, as: UTF8.self)
    }
    return log.contains(phrase)
}

func writeScript(_ path: String, _ body: String) throws {
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
}

@Suite("Hardening: the process", .serialized)
struct ProcessHardeningTests {
    @Test("an exec sink that exits without reading stdin: no SIGPIPE death, its exit status decides")
    func brokenPipe() throws {
        let emulator = try EmulatorChild()
        let check = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(UUID()).sh").path
        try writeScript(check, #"[ -z "$SCIM_ROTATOR_KEY_ID" ] && exit 5; exit 0"#)
        let work = try Workspace(
            emulator: emulator,
            extra: "  - exec: {command: [/bin/true]}\n  - exec: {command: [\(check)]}"
        )
        for run in 0..<8 {
            let output = try CLI.run(["rotate", "test"] + work.common, environment: emulator.environment)
            #expect(output.status == 0, "run \(run): exit \(output.status) \(output.stdout) \(output.stderr)")
        }
        try writeScript(check, "exit 5")
        let failing = try CLI.run(["rotate", "test"] + work.common, environment: emulator.environment)
        #expect(failing.status == 1, "\(failing.status) \(failing.stderr)")
        #expect(
            failing.stdout.contains("exited with 5") || failing.stderr.contains("exited with 5"),
            "\(failing.stdout)"
        )
    }

    @Test("kill -9 during an exec sink: the child dies with the tool and never writes a key later")
    func childDiesWithTool() throws {
        let emulator = try EmulatorChild()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kill-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let push = directory + "/push.sh"
        try writeScript(
            push,
            "cat > \(directory)/received; echo $$ > \(directory)/pid; sleep 2; cp \(directory)/received \(directory)/consumer.token"
        )
        let work = try Workspace(emulator: emulator, extra: "  - exec: {command: [\(push)], timeout: 30s}")
        let (process, _, _) = CLI.process(["rotate", "test"] + work.common, environment: emulator.environment)
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: directory + "/pid"), Date() < deadline { usleep(20_000) }
        usleep(100_000)
        let pid = Int32(
            (try? String(contentsOfFile: directory + "/pid", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        )
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let child = try #require(pid, "the exec sink started")
        var gone = false
        for _ in 0..<100 where !gone {
            gone = isGone(child)
            usleep(20_000)
        }
        #expect(gone, "the exec child \(child) outlived kill -9 of scim-rotator")
        sleep(3)
        #expect(
            !FileManager.default.fileExists(atPath: directory + "/consumer.token"),
            "an abandoned key was delivered"
        )
    }
}
