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

extension EmulatorChild {
    /// Both clouds' access keys, as the policies' default variables name them.
    var bothClouds: [String: String] {
        let alibaba = info["alibaba"] as? [String: Any] ?? [:]
        return environment.merging([
            "ALIBABA_CLOUD_ACCESS_KEY_ID": alibaba["accessKeyId"] as? String ?? "",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": alibaba["accessKeySecret"] as? String ?? "",
        ]) { _, new in new }
    }
}

@Suite("Hardening: policy values that used to crash", .serialized)
struct PolicyValueCLITests {
    func alibabaPolicy(_ work: Workspace, _ emulator: EmulatorChild, region: String?) -> String {
        """
        provider: alibaba
        zone: d-demo00000001
        endpoint: \(emulator.url)
        \(region.map { "region: \"\($0)\"" } ?? "")
        deliver:
          - file: {path: \(work.path)/out/alibaba.token}
        """
    }

    @Test(
        "region: \"cn shanghai\" is refused by policy check, plan, status and reconcile, with the fix; nothing crashes"
    )
    func badRegion() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        try alibabaPolicy(work, emulator, region: "cn shanghai").write(
            toFile: work.policies + "/ali.yaml",
            atomically: true,
            encoding: .utf8
        )
        for command in [["policy", "check"], ["plan"], ["status"], ["reconcile"]] {
            let output = try CLI.run(command + work.common, environment: emulator.bothClouds)
            #expect(output.status == 1 || output.status == 2, "\(command): \(output.status) \(output.stderr)")
            #expect(
                output.stderr.contains("ali.yaml:4: region: `cn shanghai` is not a region id"),
                "\(command): \(output.stderr)"
            )
        }
    }

    @Test("policy check warns when an Alibaba policy names no region")
    func impliedRegion() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        try "provider: alibaba\nzone: d-demo00000001\ndeliver:\n  - file: {path: \(work.path)/out/a.token}\n".write(
            toFile: work.policies + "/ali.yaml",
            atomically: true,
            encoding: .utf8
        )
        let output = try CLI.run(["policy", "check"] + work.common, environment: emulator.bothClouds)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(
            output.stdout.contains("warning: \(work.policies)/ali.yaml: region: not set, so cn-shanghai is assumed"),
            "\(output.stdout)"
        )
    }

    @Test(
        "SIGHUP with an invalid file: the daemon lives, the other zones run, the bad file keeps its last good version"
    )
    func reloadKeepsRunning() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let (daemon, _, err) = CLI.process(["daemon"] + work.common, environment: emulator.bothClouds)
        try daemon.run()
        defer {
            if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
        }
        var log = ""
        #expect(readUntil(err, "rotation.completed", log: &log), "\(log)")
        // A new file with a region that used to crash the daemon at its first pass.
        try alibabaPolicy(work, emulator, region: "cn shanghai").write(
            toFile: work.policies + "/other.yaml",
            atomically: true,
            encoding: .utf8
        )
        kill(daemon.processIdentifier, SIGHUP)
        #expect(readUntil(err, "it is not loaded", log: &log), "\(log)")
        #expect(log.contains("other.yaml"))
        // The running policy breaks, and a new valid one appears: the first keeps its last good version.
        try "provider: tencent\nzone: z-demo00000001\nregion: \"x y\"\n".write(
            toFile: work.policies + "/test.yaml",
            atomically: true,
            encoding: .utf8
        )
        try alibabaPolicy(work, emulator, region: "cn-shanghai").write(
            toFile: work.policies + "/fine.yaml",
            atomically: true,
            encoding: .utf8
        )
        kill(daemon.processIdentifier, SIGHUP)
        #expect(readUntil(err, "last good version keeps running", log: &log), "\(log)")
        #expect(readUntil(err, "policies=2", log: &log), "\(log)")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: work.path + "/out/alibaba.token"), Date() < deadline {
            usleep(100_000)
        }
        #expect(FileManager.default.fileExists(atPath: work.path + "/out/alibaba.token"), "the new policy ran")
        #expect(daemon.isRunning)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0, "\(log)")
    }
}

@Suite("Hardening: the command line", .serialized)
struct ArgumentHardeningTests {
    @Test("plan --at -1d (as its help shows) plans for the past; history --since -7d reads back")
    func negativeDurations() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let plan = try CLI.run(["plan", "--at", "-1d"] + work.common, environment: emulator.environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("POLICY"), "\(plan.stdout)")
        let history = try CLI.run(["history", "--since", "-7d", "--format", "csv"] + work.common)
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("rotation.completed"))
        #expect(try CLI.run(["plan", "--help"]).stdout.contains("-1d"))
    }

    @Test("emulator --port out of range is refused, not silently moved", arguments: ["99999", "65536", "-1"])
    func emulatorPort(port: String) throws {
        let output = try CLI.run(["emulator", "--port", port])
        #expect(output.status != 0)
        #expect(output.stderr.contains("--port"), "\(output.stderr)")
        #expect(!output.stdout.contains("\"url\""), "it must not start")
    }
}
