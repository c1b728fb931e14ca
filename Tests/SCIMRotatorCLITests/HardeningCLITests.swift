import Foundation
import GRDB
@_spi(Testing) import RotationHistory
import SCIMRotatorCore
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

/// Runs blocking work (a child process, a wait) on a thread of its own, off the concurrency pool the other suites
/// share: a blocked pool thread would stall their timing.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// `CLI.run` off the pool.
func cli(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLI.Output {
    try await offPool { try CLI.run(arguments, environment: environment) }
}

func pause(_ seconds: Double) async {
    try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
}

/// A child's stderr, read until a phrase appears.
final class StderrLog: @unchecked Sendable {
    let pipe: Pipe
    private(set) var text = ""

    init(_ pipe: Pipe) {
        self.pipe = pipe
    }

    /// Reads until `phrase` appears or `seconds` pass (off the pool).
    func until(_ phrase: String, seconds: Double = 20) async -> Bool {
        (try? await offPool { self.read(until: phrase, seconds: seconds) }) ?? false
    }

    private func read(until phrase: String, seconds: Double) -> Bool {
        pipe.read(into: &text, until: { $0.contains(phrase) }, deadline: Date().addingTimeInterval(seconds))
        return text.contains(phrase)
    }
}

func writeScript(_ path: String, _ body: String) throws {
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
}

@Suite("Hardening: the process", .serialized)
struct ProcessHardeningTests {
    @Test("an exec sink that exits without reading stdin: no SIGPIPE death, its exit status decides")
    func brokenPipe() async throws {
        let emulator = try EmulatorChild()
        let check = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(UUID()).sh").path
        try writeScript(check, #"[ -z "$SCIM_ROTATOR_KEY_ID" ] && exit 5; exit 0"#)
        // gracePeriod 0s: each rotation may retire the previous key at once, so eight can run back to back.
        let work = try Workspace(
            emulator: emulator,
            rotation: "keyLifetime: 90d, rotateBefore: 30d, gracePeriod: 0s",
            extra: "  - exec: {command: [/bin/true]}\n  - exec: {command: [\(check)]}"
        )
        for run in 0..<8 {
            let output = try await cli(["rotate", "test"] + work.common, environment: emulator.environment)
            #expect(output.status == 0, "run \(run): exit \(output.status) \(output.stdout) \(output.stderr)")
        }
        try writeScript(check, "exit 5")
        let failing = try await cli(["rotate", "test"] + work.common, environment: emulator.environment)
        #expect(failing.status == 1, "\(failing.status) \(failing.stderr)")
        #expect(
            failing.stdout.contains("exited with 5") || failing.stderr.contains("exited with 5"),
            "\(failing.stdout)"
        )
    }

    @Test("kill -9 during an exec sink: the child dies with the tool and never writes a key later")
    func childDiesWithTool() async throws {
        let emulator = try EmulatorChild()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kill-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let push = directory + "/push.sh"
        // The sink waits for a go-ahead that the test gives only after scim-rotator is dead: a child that outlived
        // it would then deliver the abandoned key.
        try writeScript(
            push,
            """
            cat > \(directory)/received; echo $$ > \(directory)/pid
            while [ ! -e \(directory)/go ]; do sleep 0.1; done
            cp \(directory)/received \(directory)/consumer.token
            """
        )
        let work = try Workspace(emulator: emulator, extra: "  - exec: {command: [\(push)], timeout: 60s}")
        let (process, _, _) = CLI.process(["rotate", "test"] + work.common, environment: emulator.environment)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: directory + "/pid"), Date() < deadline { await pause(0.02) }
        await pause(0.1)
        let pid = Int32(
            (try? String(contentsOfFile: directory + "/pid", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        )
        kill(process.processIdentifier, SIGKILL)
        try await offPool { process.waitUntilExit() }
        let child = try #require(pid, "the exec sink started")
        var gone = false
        for _ in 0..<500 where !gone {
            gone = isGone(child)
            await pause(0.02)
        }
        #expect(gone, "the exec child \(child) outlived kill -9 of scim-rotator")
        _ = FileManager.default.createFile(atPath: directory + "/go", contents: nil)
        await pause(1)
        #expect(
            !FileManager.default.fileExists(atPath: directory + "/consumer.token"),
            "an abandoned key was delivered"
        )
        if !gone { kill(child, SIGKILL) }
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
    func badRegion() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        try alibabaPolicy(work, emulator, region: "cn shanghai").write(
            toFile: work.policies + "/ali.yaml",
            atomically: true,
            encoding: .utf8
        )
        for command in [["policy", "check"], ["plan"], ["status"], ["reconcile"]] {
            let output = try await cli(command + work.common, environment: emulator.bothClouds)
            #expect(output.status == 1 || output.status == 2, "\(command): \(output.status) \(output.stderr)")
            #expect(
                output.stderr.contains("ali.yaml:4: region: `cn shanghai` is not a region id"),
                "\(command): \(output.stderr)"
            )
        }
    }

    @Test("policy check warns when an Alibaba policy names no region")
    func impliedRegion() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        try "provider: alibaba\nzone: d-demo00000001\ndeliver:\n  - file: {path: \(work.path)/out/a.token}\n".write(
            toFile: work.policies + "/ali.yaml",
            atomically: true,
            encoding: .utf8
        )
        let output = try await cli(["policy", "check"] + work.common, environment: emulator.bothClouds)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(
            output.stdout.contains("warning: \(work.policies)/ali.yaml: region: not set, so cn-shanghai is assumed"),
            "\(output.stdout)"
        )
    }

    @Test(
        "SIGHUP with an invalid file: the daemon lives, the other zones run, the bad file keeps its last good version"
    )
    func reloadKeepsRunning() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let (daemon, _, err) = CLI.process(["daemon"] + work.common, environment: emulator.bothClouds)
        try daemon.run()
        let log = StderrLog(err)
        defer {
            if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
        }
        #expect(await log.until("rotation.completed"), "\(log.text)")
        // A new file with a region that used to crash the daemon at its first pass.
        try alibabaPolicy(work, emulator, region: "cn shanghai").write(
            toFile: work.policies + "/other.yaml",
            atomically: true,
            encoding: .utf8
        )
        kill(daemon.processIdentifier, SIGHUP)
        #expect(await log.until("it is not loaded"), "\(log.text)")
        #expect(log.text.contains("other.yaml"))
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
        #expect(await log.until("last good version keeps running"), "\(log.text)")
        #expect(await log.until("policies=2"), "\(log.text)")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: work.path + "/out/alibaba.token"), Date() < deadline {
            await pause(0.1)
        }
        #expect(FileManager.default.fileExists(atPath: work.path + "/out/alibaba.token"), "the new policy ran")
        #expect(daemon.isRunning)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0, "\(log.text)")
    }
}

@Suite("Hardening: the command line", .serialized)
struct ArgumentHardeningTests {
    @Test("plan --at -1d (as its help shows) plans for the past; history --since -7d reads back")
    func negativeDurations() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let plan = try await cli(["plan", "--at", "-1d"] + work.common, environment: emulator.environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("POLICY"), "\(plan.stdout)")
        let history = try await cli(["history", "--since", "-7d", "--format", "csv"] + work.common)
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("rotation.completed"))
        #expect(try await cli(["plan", "--help"]).stdout.contains("-1d"))
    }

    @Test("emulator --port out of range is refused, not silently moved", arguments: ["99999", "65536", "-1"])
    func emulatorPort(port: String) async throws {
        let output = try await cli(["emulator", "--port", port])
        #expect(output.status != 0)
        #expect(output.stderr.contains("--port"), "\(output.stderr)")
        #expect(!output.stdout.contains("\"url\""), "it must not start")
    }
}

/// Runs the CLI as an unprivileged user when this process is root (root ignores file permissions); nil when that is
/// not possible here.
func unprivileged(_ arguments: [String]) -> [String]? {
    guard getuid() == 0 else { return arguments }
    let setpriv = "/usr/bin/setpriv"
    guard FileManager.default.isExecutableFile(atPath: setpriv) else { return nil }
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments
}

func runProgram(_ arguments: [String], environment: [String: String] = [:]) throws -> CLI.Output {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLI.Output(
        status: process.terminationStatus,
        stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self)
    )
}

func fileMode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int
}

@Suite("Hardening: the files and the audit trail", .serialized)
struct AuditTrailHardeningTests {
    static func head(_ output: String) -> (seq: Int, hash: String)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("head ") }) else { return nil }
        let parts = line.split(separator: " ")
        guard parts.count == 3, let seq = Int(parts[1]) else { return nil }
        return (seq, String(parts[2]))
    }

    @Test("audit verify prints the head; --anchor finds a truncated tail and a rewritten record")
    func anchors() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let before = try await cli(["audit", "verify"] + work.common)
        #expect(before.status == 0, "\(before.stderr)")
        let anchor = try #require(Self.head(before.stdout), "\(before.stdout)")
        #expect(anchor.hash.count == 64 && anchor.hash.allSatisfy(\.isHexDigit))
        #expect(
            try await cli(["audit", "verify", "--anchor", "\(anchor.seq):\(anchor.hash)"] + work.common).status == 0
        )
        // A whole emergency rotation, then its records deleted: the chain alone still verifies.
        let emergency = try await cli(
            ["rotate", "test", "--emergency", "--reason", "leak"] + work.common,
            environment: emulator.environment
        )
        #expect(emergency.status == 0, "\(emergency.stderr)")
        let after = try #require(Self.head(try await cli(["audit", "verify"] + work.common).stdout))
        #expect(after.seq > anchor.seq)
        let store = try SQLiteHistoryStore(path: work.db)
        try store.unsafeExecute("DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq > \(anchor.seq)")
        #expect(try await cli(["audit", "verify"] + work.common).status == 0, "a chain cannot see its lost tail")
        let cut = try await cli(["audit", "verify", "--anchor", "\(after.seq):\(after.hash)"] + work.common)
        #expect(cut.status == 1)
        #expect(cut.stderr.contains("record #\(after.seq) no longer exists"), "\(cut.stderr)")
        // A record rewritten, chain hashes recomputed from there on: the anchor's hash no longer matches.
        let wrong = String(repeating: "0", count: 64)
        let mismatch = try await cli(["audit", "verify", "--anchor", "\(anchor.seq):\(wrong)"] + work.common)
        #expect(mismatch.status == 1 && mismatch.stderr.contains("does not match"), "\(mismatch.stderr)")
        let malformed = try await cli(["audit", "verify", "--anchor", "12"] + work.common)
        #expect(malformed.status != 0 && malformed.stderr.contains("SEQ:HASH"), "\(malformed.stderr)")
    }

    @Test("a damaged page fails audit verify; reconcile and rotate refuse to write to it")
    func damagedPage() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        do {
            let store = try SQLiteHistoryStore(path: work.db)
            try await store.record(
                JournalWrite(
                    events: (0..<300).map { index in
                        NewEvent(
                            policy: "other",
                            provider: .tencent,
                            zone: "z-aaaaaaaaaaaa",
                            kind: .syncEnabled,
                            actor: .manual,
                            reason: String(repeating: "x", count: 200) + "\(index)"
                        )
                    }
                ),
                at: Date()
            )
        }
        #expect(try await cli(["audit", "verify"] + work.common).status == 0)
        try SQLiteHistoryStore.unsafeConnection(path: work.db) { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: work.db)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: work.db))
        try handle.seek(toOffset: UInt64(size - 4_096))
        try handle.write(contentsOf: Data(repeating: 0xEE, count: 16))
        try handle.close()
        let damaged = BadInputTests.digest(work.db)
        let audit = try await cli(["audit", "verify"] + work.common)
        #expect(audit.status == 1, "\(audit.stdout) \(audit.stderr)")
        #expect(audit.stderr.contains("integrity check failed"), "\(audit.stderr)")
        for command in [["reconcile"], ["rotate", "test"]] {
            let output = try await cli(command + work.common, environment: emulator.environment)
            #expect(output.status == 3, "\(command): \(output.status) \(output.stderr)")
            #expect(output.stderr.contains("quick check"), "\(command): \(output.stderr)")
        }
        #expect(BadInputTests.digest(work.db) == damaged, "nothing was written")
    }

    @Test("--db pointing at another application's SQLite file: refused, and not a byte added")
    func foreignDatabase() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let foreign = work.path + "/app.db"
        let created = try await offPool {
            try runProgram([
                "/usr/bin/env", "python3", "-c",
                "import sqlite3; c = sqlite3.connect('\(foreign)'); c.execute('create table orders (id integer primary key)'); c.commit()",
            ])
        }
        try #require(created.status == 0, "\(created.stderr)")
        let before = BadInputTests.digest(foreign)
        for command in [["reconcile"], ["history"], ["audit", "verify"], ["status"]] {
            let output = try await cli(
                command + ["--policies", work.policies, "--db", foreign],
                environment: emulator.environment
            )
            #expect(output.status == 3, "\(command): \(output.status) \(output.stderr)")
            #expect(
                output.stderr.contains("another application's SQLite database (tables: orders)"),
                "\(output.stderr)"
            )
        }
        #expect(BadInputTests.digest(foreign) == before)
    }

    @Test("the database, its -wal and -shm, and the lock files are private to the service user")
    func fileModes() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let (daemon, _, err) = CLI.process(["daemon"] + work.common, environment: emulator.environment)
        try daemon.run()
        let log = StderrLog(err)
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(await log.until("rotation.completed"), "\(log.text)")
        for file in [work.db, work.db + "-wal", work.db + "-shm", work.db + ".lock", work.db + ".locks/test.lock"] {
            #expect(fileMode(file) == 0o600, "\(file): \(String(fileMode(file) ?? 0, radix: 8))")
        }
        #expect(fileMode(work.db + ".locks") == 0o700)
    }

    @Test("a symlink to the same database takes the same locks: no second daemon, no concurrent rotation")
    func symlinkedDatabase() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let link = work.path + "/link.sqlite"
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: work.db)
        let viaLink = ["--policies", work.policies, "--db", link]
        let (daemon, _, err) = CLI.process(["daemon"] + work.common, environment: emulator.environment)
        try daemon.run()
        let log = StderrLog(err)
        #expect(await log.until("scheduler started"), "\(log.text)")
        let second = try await cli(["daemon"] + viaLink, environment: emulator.environment)
        daemon.terminate()
        daemon.waitUntilExit()
        #expect(second.status == 1 && second.stderr.contains("already running"), "\(second.stderr)")
        // Another process works on the policy (its lock, by the real path): a rotation through the link waits.
        let fd = open(work.db + ".locks/test.lock", O_RDWR | O_CREAT, 0o600)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        let rotate = try await cli(
            ["rotate", "test"] + viaLink,
            environment: emulator.environment.merging(["SCIM_ROTATOR_LOCK_WAIT": "0.2"]) { _, new in new }
        )
        #expect(rotate.status == 1 && rotate.stdout.contains("another scim-rotator is working"), "\(rotate.stdout)")
    }

    @Test("a read-only copy (a backup, a snapshot) can be read: history, audit verify, status")
    func readOnlyCopy() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let snapshot = work.path + "/snapshot"
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        // A copy of a stopped database: everything checkpointed into the file (a copy without its -wal would miss
        // what only the -wal holds; the README says to copy a live one with sqlite3 .backup).
        try SQLiteHistoryStore.unsafeConnection(path: work.db) { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try FileManager.default.copyItem(atPath: work.db, toPath: snapshot + "/h.sqlite")
        chmod(snapshot + "/h.sqlite", 0o444)
        chmod(snapshot, 0o555)
        chmod(work.policies, 0o755)
        chmod(work.path, 0o755)
        defer { chmod(snapshot, 0o755) }
        let common = ["--policies", work.policies, "--db", snapshot + "/h.sqlite"]
        for command in [["history"], ["audit", "verify"], ["status"]] {
            guard let arguments = unprivileged([CLI.binary] + command + common) else { return }
            let environment = emulator.environment
            let output = try await offPool { try runProgram(arguments, environment: environment) }
            #expect(output.status == 0, "\(command): \(output.status) \(output.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: snapshot + "/h.sqlite-shm"), "nothing was created beside it")
    }

    @Test("--event key.deleted also shows keys retired (deleted) at the limit")
    func deletions() async throws {
        let emulator = try EmulatorChild()
        // gracePeriod 0s: the previous key serves no one at once, so back-to-back rotations retire it at the limit.
        let work = try Workspace(emulator: emulator, rotation: "keyLifetime: 90d, rotateBefore: 30d, gracePeriod: 0s")
        #expect(try await cli(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        for _ in 0..<2 {
            let rotate = try await cli(["rotate", "test"] + work.common, environment: emulator.environment)
            #expect(rotate.status == 0, "\(rotate.stdout) \(rotate.stderr)")
        }
        let all = try await cli(["history", "--format", "csv"] + work.common)
        try #require(all.stdout.contains("key.retired"), "\(all.stdout)")
        let deleted = try await cli(["history", "--event", "key.deleted", "--format", "csv"] + work.common)
        #expect(deleted.stdout.contains("key.retired"), "\(deleted.stdout)")
        #expect(!deleted.stdout.contains("key.created"))
        #expect(try await cli(["history", "--help"]).stdout.contains("Every deletion"))
    }

    @Test("the daemon logs the audit head periodically and exports it on /metrics")
    func daemonHead() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let (daemon, _, err) = CLI.process(
            ["daemon", "--http", "127.0.0.1:0", "--audit-head-interval", "1s"] + work.common,
            environment: emulator.environment
        )
        try daemon.run()
        let log = StderrLog(err)
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(await log.until("rotation.completed"), "\(log.text)")
        #expect(await log.until("audit head"), "\(log.text)")
        #expect(log.text.range(of: "anchor=[0-9]+:[0-9a-f]{64}", options: .regularExpression) != nil, "\(log.text)")
        let address = try #require(
            log.text.range(of: "address=127\\.0\\.0\\.1:[0-9]+", options: .regularExpression).map {
                String(log.text[$0].dropFirst("address=".count))
            }
        )
        await pause(2)
        let metrics = CLI.get("http://\(address)/metrics")
        #expect(metrics.body.contains("scim_rotator_audit_head_sequence"), "\(metrics.body)")
        #expect(
            metrics.body.range(
                of: "scim_rotator_audit_head_info\\{.*hash=\"[0-9a-f]{64}\"",
                options: .regularExpression
            ) != nil
        )
    }
}
