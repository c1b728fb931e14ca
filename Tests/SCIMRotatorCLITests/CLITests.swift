import Foundation
@_spi(Testing) import RotationHistory
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The scim-rotator command line, end to end", .serialized)
struct CLITests {
    @Test(
        "every command's --help teaches its options",
        arguments: [
            (["--help"], "emulator"), (["daemon", "--help"], "SIGHUP"), (["reconcile", "--help"], "Exit status"),
            (["rotate", "--help"], "--emergency"), (["plan", "--help"], "--at"), (["status", "--help"], "--format"),
            (["history", "--help"], "--event"), (["audit", "verify", "--help"], "hash chain"),
            (["policy", "check", "--help"], "rotateBefore"), (["sync", "--help"], "enable"),
            (["demo", "--help"], "--speed"),
            (["emulator", "--help"], "--port"), (["track", "--help"], "--expires"),
            (["rotate", "--help"], "--token-stdin"),
        ]
    )
    func help(arguments: [String], phrase: String) throws {
        let output = try CLI.run(arguments)
        #expect(output.status == 0)
        #expect(output.stdout.contains(phrase), "\(arguments): \(output.stdout)")
        #expect(
            output.stdout.contains("--policies") || arguments.first == "emulator" || arguments.first == "demo"
                || arguments == ["--help"] || arguments == ["sync", "--help"]
        )
    }

    @Test("reconcile, status, history, audit verify against an emulator; an edited row fails the audit")
    func fullCycle() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let reconcile = try CLI.run(["reconcile"] + work.common, environment: emulator.environment)
        #expect(reconcile.status == 0, "\(reconcile.stderr)")
        let token = try String(contentsOfFile: work.token, encoding: .utf8)
        #expect(try emulator.scimStatus(token: token) == 200)
        #expect(!reconcile.stdout.contains(token) && !reconcile.stderr.contains(token))
        let status = try CLI.run(["status", "--format", "json"] + work.common, environment: emulator.environment)
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"role\" : \"current\""))
        let history = try CLI.run(["history", "--format", "csv"] + work.common)
        #expect(history.stdout.split(separator: "\n").count == 7, "\(history.stdout)")
        #expect(!history.stdout.contains(token))
        #expect(try CLI.run(["audit", "verify"] + work.common).status == 0)
        let store = try SQLiteHistoryStore(path: work.db)
        try store.unsafeExecute("DROP TRIGGER events_no_update; UPDATE events SET reason = 'edited' WHERE seq = 2")
        let audit = try CLI.run(["audit", "verify"] + work.common)
        #expect(audit.status == 1)
        #expect(audit.stderr.contains("record #2"))
    }

    @Test("invalid policies stop everything with the file, line and fix")
    func invalidPolicy() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator, extra: "  rotateBefor: 10d")
        try "provider: tencent\nzone: z-demo00000001\nrotation:\n  rotateBefor: 10d\n".write(
            toFile: work.policies + "/test.yaml",
            atomically: true,
            encoding: .utf8
        )
        let check = try CLI.run(["policy", "check"] + work.common)
        #expect(check.status == 1)
        #expect(
            check.stderr.contains(
                "test.yaml:4: rotation.rotateBefor: unknown key `rotateBefor`, did you mean `rotateBefore`?"
            )
        )
        let reconcile = try CLI.run(["reconcile"] + work.common, environment: emulator.environment)
        #expect(reconcile.status == 2)
        #expect(!FileManager.default.fileExists(atPath: work.db), "nothing ran")
    }

    @Test("a missing access key names the variable, and reconcile fails")
    func missingCredentials() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let output = try CLI.run(
            ["reconcile"] + work.common,
            environment: ["TENCENTCLOUD_SECRET_ID": "", "TENCENTCLOUD_SECRET_KEY": ""]
        )
        #expect(output.status == 1)
        #expect(output.stdout.contains("TENCENTCLOUD_SECRET_ID"))
    }

    @Test(
        "kill -9 in the create→deliver gap, then reconcile: the orphan is abandoned, never a third key",
        arguments: ["after:create=crash", "after:created=pause", "after:verify=pause"]
    )
    func killNine(failPoint: String) throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator, rotation: "keyLifetime: 90d, rotateBefore: 30d, gracePeriod: 1s")
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        // A second key: the zone is at the limit; once the grace period is over, the previous key serves no one.
        #expect(try CLI.run(["rotate", "test"] + work.common, environment: emulator.environment).status == 0)
        usleep(1_200_000)
        var environment = emulator.environment
        environment["SCIM_ROTATOR_FAILPOINTS"] = failPoint
        let (process, _, err) = CLI.process(["rotate", "test"] + work.common, environment: environment)
        try process.run()
        if failPoint.hasSuffix("pause") {
            var seen = ""
            err.read(
                into: &seen,
                until: { $0.contains("paused at fail point") },
                deadline: Date().addingTimeInterval(20)
            )
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
        #expect(try emulator.zoneKeys().count <= 2)
        let again = try CLI.run(["reconcile"] + work.common, environment: emulator.environment)
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        let keys = try emulator.zoneKeys()
        #expect(keys.count <= 2)
        let token = try String(contentsOfFile: work.token, encoding: .utf8)
        #expect(try emulator.scimStatus(token: token) == 200, "the delivered key works")
        let history = try CLI.run(["history", "--format", "csv", "--event", "key.abandoned"] + work.common)
        #expect(history.stdout.contains("key.abandoned"))
        #expect(try CLI.run(["audit", "verify"] + work.common).status == 0)
    }

    @Test("a second daemon on the same database refuses to start; SIGHUP reloads; SIGTERM exits 0")
    func daemons() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let (first, _, firstErr) = CLI.process(["daemon"] + work.common, environment: emulator.environment)
        try first.run()
        var log = ""
        let deadline = Date().addingTimeInterval(20)
        firstErr.read(into: &log, until: { $0.contains("rotation.completed") }, deadline: deadline)
        #expect(log.contains("rotation.completed"))
        let second = try CLI.run(["daemon"] + work.common, environment: emulator.environment)
        #expect(second.status == 1)
        #expect(second.stderr.contains("already running"))
        kill(first.processIdentifier, SIGHUP)
        firstErr.read(into: &log, until: { $0.contains("policies reloaded") }, deadline: deadline)
        #expect(log.contains("policies reloaded"))
        first.terminate()
        first.waitUntilExit()
        #expect(first.terminationReason == .exit && first.terminationStatus == 0)
    }

    @Test("the demo runs a simulated year for every cloud without a failure and leaves an intact history")
    func demo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let output = try CLI.run(
            ["demo", "--speed", "0", "--quiet", "--policies", root.appendingPathComponent("policies/demo").path],
            directory: directory
        )
        #expect(output.status == 0, "\(output.stdout) \(output.stderr)")
        #expect(output.stdout.contains("hash chain intact"))
        #expect(output.stdout.contains("tencent-demo") && output.stdout.contains("alibaba-demo"))
        let completed = try CLI.run([
            "history", "--db", directory + "/demo.sqlite", "--event", "rotation.completed", "--format", "csv",
        ])
        #expect(completed.stdout.split(separator: "\n").count >= 10)
        // The AWS tenant's person handed over a token whenever asked, and deleted the previous one.
        let aws = try CLI.run([
            "history", "--db", directory + "/demo.sqlite", "--policy", "aws-demo", "--format", "csv",
        ])
        #expect(aws.stdout.contains("rotation.waiting") && aws.stdout.contains("confirm --old-deleted"))
        #expect(aws.stdout.split(separator: "\n").filter { $0.contains("rotation.completed") }.count >= 4)
    }

    @Test("rotate --emergency needs a reason; --delete-old needs --emergency")
    func rotateArguments() throws {
        #expect(try CLI.run(["rotate", "x", "--emergency"]).stderr.contains("--emergency needs --reason"))
        #expect(
            try CLI.run(["rotate", "x", "--delete-old"]).stderr.contains("--delete-old only goes with --emergency")
        )
    }
}

@Suite("Manual delivery from the command line", .serialized)
struct ConfirmCLITests {
    @Test("rotate hands the key to a person and waits; status says so; confirm promotes")
    func confirm() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let before = try String(contentsOfFile: work.token, encoding: .utf8)
        try """
        provider: tencent
        zone: z-demo00000001
        endpoint: \(emulator.url)
        rotation: {keyLifetime: 90d, rotateBefore: 30d}
        deliver:
          - manual: {file: \(work.path)/out/manual.token, instructions: "Paste it into the IdP."}
        """.write(toFile: work.policies + "/test.yaml", atomically: true, encoding: .utf8)
        let rotate = try CLI.run(["rotate", "test"] + work.common, environment: emulator.environment)
        #expect(rotate.status == 0, "\(rotate.stdout) \(rotate.stderr)")
        #expect(rotate.stdout.contains("waiting"))
        let status = try CLI.run(["status"] + work.common, environment: emulator.environment)
        #expect(status.stdout.contains("scim-rotator confirm test"))
        let handed = try String(contentsOfFile: work.path + "/out/manual.token", encoding: .utf8)
        #expect(handed != before)
        #expect(try emulator.scimStatus(token: before) == 200, "the old key still works")
        let confirm = try CLI.run(
            ["confirm", "test", "--reason", "pasted by alice"] + work.common,
            environment: emulator.environment
        )
        #expect(confirm.status == 0, "\(confirm.stdout) \(confirm.stderr)")
        let history = try CLI.run(
            ["history", "--event", "key.confirmed", "--event", "key.promoted", "--format", "csv"] + work.common
        )
        #expect(history.stdout.contains("pasted by alice") && history.stdout.contains("key.promoted"))
        #expect(
            try CLI.run(["confirm", "test"] + work.common, environment: emulator.environment).status == 1,
            "nothing waits any more"
        )
    }
}

@Suite("Operations from the command line", .serialized)
struct OperationsCLITests {
    @Test("--version prints the version")
    func version() throws {
        let output = try CLI.run(["--version"])
        #expect(output.status == 0)
        #expect(
            output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).range(
                of: #"^\d+\.\d+\.\d+"#,
                options: .regularExpression
            ) != nil
        )
    }

    @Test("daemon --http serves /healthz, /readyz and /metrics; --log-format json writes JSON lines")
    func daemonHTTP() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        var environment = emulator.environment
        environment["SCIM_ROTATOR_LOG_FORMAT"] = "json"
        let (daemon, _, err) = CLI.process(["daemon", "--http", "127.0.0.1:0"] + work.common, environment: environment)
        try daemon.run()
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        var log = ""
        let deadline = Date().addingTimeInterval(20)
        err.read(
            into: &log,
            until: { $0.contains("rotation.completed") && $0.contains("\"address\"") },
            deadline: deadline
        )
        let lines = log.split(separator: "\n")
        #expect(
            !lines.isEmpty && lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil },
            "\(log)"
        )
        let address = try #require(log.firstMatch(of: /"address":"127\.0\.0\.1:(\d+)"/).map { String($0.1) })
        for (path, words) in [
            ("/healthz", "\"ok\":true"), ("/readyz", "\"database\":true"), ("/metrics", "scim_rotator_rotations_total"),
        ] {
            var reply = CLI.get("http://127.0.0.1:\(address)\(path)")
            let until = Date().addingTimeInterval(5)
            while reply.status != 200, Date() < until {  // the first tick lands just after the first rotation
                usleep(50_000)
                reply = CLI.get("http://127.0.0.1:\(address)\(path)")
            }
            #expect(reply.status == 200, "\(path): \(reply.status) \(reply.body)")
            #expect(reply.body.contains(words), "\(path): \(reply.body)")
        }
    }
}
