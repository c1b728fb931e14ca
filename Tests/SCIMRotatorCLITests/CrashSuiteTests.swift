import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real processes: `scim-rotator` crashes at every fail point in turn (it SIGKILLs itself, or hangs and is killed
/// with `kill -9`), is restarted, and the invariants are checked on the emulator's state and the history.
@Suite("Crash suite: reconcile killed at every fail point", .serialized)
struct CrashSuiteTests {
    struct Scenario: Sendable, CustomTestStringConvertible {
        var point: String
        var action: String  // crash | pause
        var testDescription: String { "\(point)=\(action)" }
    }

    static let scenarios: [Scenario] = [
        .init(point: "before:create", action: "crash"), .init(point: "after:create", action: "crash"),
        .init(point: "after:created", action: "crash"), .init(point: "after:verify", action: "pause"),
        .init(point: "before:sink", action: "crash"), .init(point: "after:sink", action: "crash"),
        .init(point: "after:deliver", action: "pause"), .init(point: "after:delivered", action: "crash"),
        .init(point: "after:promote", action: "crash"), .init(point: "after:retire", action: "crash"),
        .init(point: "after:abandon", action: "crash"), .init(point: "after:disable", action: "crash"),
        .init(point: "after:delete", action: "pause"),
    ]

    @Test("every fail point", arguments: scenarios)
    func crash(_ scenario: Scenario) throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let failFlag = work.path + "/fail-delivery"
        let script = work.path + "/push.sh"
        // An exec sink (the identity provider's push) that fails while a flag file exists.
        try "#!/bin/sh\ncat > /dev/null\n[ ! -e \"\(failFlag)\" ]\n".write(
            toFile: script,
            atomically: true,
            encoding: .utf8
        )
        chmod(script, 0o755)
        try """
        provider: tencent
        zone: z-demo00000001
        endpoint: \(emulator.url)
        rotation: {keyLifetime: 90d, rotateBefore: 30d, gracePeriod: 1s, deleteAfter: 1s, minBackoff: 1s}
        deliver:
          - file: {path: \(work.token)}
          - exec: {command: ["\(script)"]}
        """.write(toFile: work.policies + "/test.yaml", atomically: true, encoding: .utf8)
        let env = emulator.environment
        #expect(try CLI.run(["reconcile"] + work.common, environment: env).status == 0)

        // Reach the point: what runs with the fail point armed.
        var armed = ["rotate", "test"] + work.common
        switch scenario.point {
        case "after:abandon":
            #expect(try CLI.run(["rotate", "test"] + work.common, environment: env).status == 0)  // at the limit
            usleep(1_200_000)  // the grace period ends: the previous key serves no one
            // A first attempt dies after creating its key; the armed reconcile abandons that key (its secret died).
            var dying = env
            dying["SCIM_ROTATOR_FAILPOINTS"] = "after:created=crash"
            #expect(try CLI.run(["rotate", "test"] + work.common, environment: dying).status != 0)
            armed = ["reconcile"] + work.common
        case "after:disable":
            #expect(try CLI.run(["rotate", "test"] + work.common, environment: env).status == 0)
            usleep(1_200_000)  // the grace period ends
            armed = ["reconcile"] + work.common
        case "after:delete":
            #expect(try CLI.run(["rotate", "test"] + work.common, environment: env).status == 0)
            usleep(1_200_000)
            #expect(try CLI.run(["reconcile"] + work.common, environment: env).status == 0)  // disables the old key
            usleep(1_200_000)  // deleteAfter ends
            armed = ["reconcile"] + work.common
        default:
            #expect(try CLI.run(["rotate", "test"] + work.common, environment: env).status == 0)  // at the limit
            usleep(1_200_000)  // the grace period ends: the previous key serves no one and may be retired
        }
        var armedEnv = env
        armedEnv["SCIM_ROTATOR_FAILPOINTS"] = "\(scenario.point)=\(scenario.action)"
        let (process, _, err) = CLI.process(armed, environment: armedEnv)
        try process.run()
        if scenario.action == "pause" {
            var seen = ""
            let deadline = Date().addingTimeInterval(20)
            err.read(into: &seen, until: { $0.contains("paused at fail point") }, deadline: deadline)
            #expect(seen.contains("paused at fail point \(scenario.point)"), "\(seen)")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        #expect(
            process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL,
            "\(scenario): the process was killed"
        )
        #expect(try emulator.zoneKeys().count <= 2, "\(scenario): never more keys than the limit")

        // Restart until it settles (a failed delivery backs off for a second).
        try? FileManager.default.removeItem(atPath: failFlag)
        var last = try CLI.run(["reconcile"] + work.common, environment: env)
        for _ in 0..<4 where last.status != 0 {
            usleep(1_100_000)
            last = try CLI.run(["reconcile"] + work.common, environment: env)
        }
        #expect(last.status == 0, "\(scenario): \(last.stdout) \(last.stderr)")
        try Invariants.check(emulator: emulator, work: work, scenario: "\(scenario)")
    }
}

/// The promises, checked from outside: the emulator's admin state and the CLI's own history and status output.
enum Invariants {
    static func check(
        emulator: EmulatorChild,
        work: Workspace,
        scenario: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let keys = try emulator.zoneKeys()
        #expect(keys.count <= 2, "\(scenario): \(keys.count) keys", sourceLocation: sourceLocation)
        let status = try CLI.run(["status", "--format", "json"] + work.common, environment: emulator.environment)
        let inspections = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]] ?? []
        let roles = (inspections.first?["keys"] as? [[String: Any]] ?? []).compactMap { $0["role"] as? String }
        #expect(
            roles.filter { $0 == "current" }.count == 1,
            "\(scenario): roles \(roles)",
            sourceLocation: sourceLocation
        )
        let token = try String(contentsOfFile: work.token, encoding: .utf8)
        #expect(
            try emulator.scimStatus(token: token) == 200,
            "\(scenario): the delivered key works",
            sourceLocation: sourceLocation
        )
        let history = try CLI.run(["history", "--format", "json"] + work.common)
        let events = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
        let created = Set(
            events.filter { $0["kind"] as? String == "key.created" }.compactMap { $0["keyId"] as? String }
        )
        let gone = Set(
            events.filter { ["key.retired", "key.abandoned", "key.deleted"].contains($0["kind"] as? String ?? "") }
                .compactMap { $0["keyId"] as? String }
        )
        let zoneIds = Set(keys.compactMap { $0["id"] as? String })
        let byRole = Dictionary(
            (inspections.first?["keys"] as? [[String: Any]] ?? []).compactMap { key -> (String, String)? in
                guard let id = key["id"] as? String, let role = key["role"] as? String else { return nil }
                return (id, role)
            },
            uniquingKeysWith: { a, _ in a }
        )
        for key in created {
            if zoneIds.contains(key) {
                #expect(
                    ["current", "previous"].contains(byRole[key] ?? ""),
                    "\(scenario): \(key) is \(byRole[key] ?? "?")",
                    sourceLocation: sourceLocation
                )
            } else {
                #expect(
                    gone.contains(key),
                    "\(scenario): \(key) vanished without a retire/abandon/delete record",
                    sourceLocation: sourceLocation
                )
            }
        }
        var completions: [String: Int] = [:]
        for event in events where event["kind"] as? String == "rotation.completed" {
            completions[event["rotationId"] as? String ?? "", default: 0] += 1
        }
        #expect(
            completions.values.allSatisfy { $0 == 1 },
            "\(scenario): a rotation completed twice",
            sourceLocation: sourceLocation
        )
        #expect(
            try CLI.run(["audit", "verify"] + work.common).status == 0,
            "\(scenario): audit",
            sourceLocation: sourceLocation
        )
    }
}
