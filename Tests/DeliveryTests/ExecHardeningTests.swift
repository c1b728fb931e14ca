import Delivery
import Foundation
import SCIMRotatorCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether `pid` is gone (a zombie nobody reaped counts as gone: it runs nothing).
func processIsGone(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
        return kill(pid, 0) != 0
    }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
    return state == "Z" || state == "X"
}

func waitUntil(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return condition()
}

@Suite("Exec sink: pipes, process groups, lifetimes", .serialized)
struct ExecHardeningTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("exec-\(UUID())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func script(_ name: String, _ body: String) throws -> String {
        let path = directory + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test("a program that exits without reading stdin neither kills the process nor hides its exit status")
    func brokenPipe() async throws {
        // Before SIGPIPE was ignored, most of these killed the whole (test) process with exit 141.
        for _ in 0..<30 {
            _ = try await ExecSink(command: ["/bin/true"]).deliver(secret, context: context)
        }
        let checks = try script("check.sh", #"[ -n "$NOT_SET" ] || exit 4"#)
        for _ in 0..<10 {
            await expectDeliveryError("exited with 4") {
                _ = try await ExecSink(command: [checks]).deliver(secret, context: context)
            }
        }
    }

    @Test("at the timeout the whole process group is stopped, not only the program")
    func timeoutKillsGroup() async throws {
        let pidFile = directory + "/background.pid"
        let program = try script("wait.sh", "cat >/dev/null; sleep 30 & echo $! > \(pidFile); wait")
        let started = Date()
        await expectDeliveryError("did not finish within") {
            _ = try await ExecSink(command: [program], timeout: 0.5).deliver(secret, context: context)
        }
        // Well under the 30 s the background sleep would keep the group alive (bounds are loose: busy machines).
        #expect(Date().timeIntervalSince(started) < 20)
        let pid = try #require(
            Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        )
        #expect(await waitUntil(3) { processIsGone(pid) }, "the background sleep \(pid) outlived the timeout")
    }

    @Test("a program that ignores SIGTERM is killed a second later")
    func ignoresTerm() async throws {
        let program = try script("stubborn.sh", "trap '' TERM; cat >/dev/null; while :; do sleep 1; done")
        let started = Date()
        await expectDeliveryError("did not finish within") {
            _ = try await ExecSink(command: [program], timeout: 0.3).deliver(secret, context: context)
        }
        #expect(Date().timeIntervalSince(started) < 20, "it runs forever unless killed")
    }

    @Test("what a program leaves running when it exits is stopped: nothing writes a key later")
    func leftovers() async throws {
        let marker = directory + "/late"
        let program = try script("detach.sh", "cat >/dev/null; (sleep 1; echo late > \(marker)) & exit 0")
        _ = try await ExecSink(command: [program]).deliver(secret, context: context)
        try await Task.sleep(nanoseconds: 3_000_000_000)
        #expect(
            !FileManager.default.fileExists(atPath: marker),
            "a background job of the program wrote after it exited"
        )
    }

    @Test("the program gets default signal handling and its own process group")
    func signalsAndGroup() async throws {
        let out = directory + "/status"
        // SigIgn is the mask of ignored signals: 0 means SIGPIPE (ignored here) is back to its default.
        let program = try script(
            "status.sh",
            "cat >/dev/null; grep SigIgn /proc/$$/status > \(out); cut -d' ' -f5 /proc/$$/stat >> \(out); echo $$ >> \(out)"
        )
        _ = try await ExecSink(command: [program]).deliver(secret, context: context)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        // Bits 1-31 are the standard signals (SIGPIPE, SIGTERM, SIGINT, SIGHUP...); glibc keeps its own above.
        let ignored = lines.first.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
        #expect(ignored.map { $0 & 0x7fff_ffff } == 0, "\(lines)")
        try #require(lines.count == 3, "\(lines)")
        #expect(lines[1] == lines[2], "the program leads its own process group")
        #expect(lines[1] != String(getpgrp()))
    }

    @Test("stderr echoing the key URL-encoded, JSON-escaped or in base64 never reaches the error message")
    func encodedEcho() async throws {
        let python = "/usr/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python))
        let program = try script(
            "echo.sh",
            """
            exec \(python) -c 'import sys, json, base64, urllib.parse
            s = sys.stdin.read()
            print("rejected:", urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s), json.dumps({"token": s}),
                  base64.b64encode(s.encode()).decode(), base64.b64encode(("user:" + s).encode()).decode(), file=sys.stderr)
            sys.exit(2)'
            """
        )
        let value = secret.reveal()
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        let encoded = [
            value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value,
            value.replacingOccurrences(of: "/", with: "\\/"),
            Data(value.utf8).base64EncodedString(),
            String(Data("user:\(value)".utf8).base64EncodedString().dropFirst(8).prefix(40)),
        ]
        await expectDeliveryError("exited with 2", secrets: encoded) {
            _ = try await ExecSink(command: [program]).deliver(secret, context: context)
        }
    }

    @Test("cannot start: a missing program or one that is not executable")
    func cannotStart() async throws {
        await expectDeliveryError("No such file or directory") {
            _ = try await ExecSink(command: ["/nonexistent/program"]).deliver(secret, context: context)
        }
        let plain = directory + "/plain.txt"
        try "not a program".write(toFile: plain, atomically: true, encoding: .utf8)
        await expectDeliveryError("Permission denied") {
            _ = try await ExecSink(command: [plain]).deliver(secret, context: context)
        }
    }
}

@Suite("Kubernetes in-cluster settings from the environment")
struct KubernetesEnvironmentTests {
    @Test(
        "a malformed KUBERNETES_SERVICE_HOST or PORT is an error, not a crash",
        arguments: [("10.0.0.1", "x443"), ("10.0.0.1", "99999"), ("evil.example/x#", "443"), ("a b", "443")]
    )
    func malformed(host: String, port: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        #expect(throws: KubernetesSink.ConnectionError.self) {
            _ = try KubernetesSink.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port],
                directory: directory
            )
        }
    }
}
