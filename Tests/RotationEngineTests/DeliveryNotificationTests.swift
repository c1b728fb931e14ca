import CloudEmulator
import Delivery
import Foundation
import Logging
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import Synchronization
import Testing
import Transport

@Suite("Manual delivery, notifications, and no secret anywhere")
struct DeliveryNotificationTests {
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(
        "a manual sink waits for confirmation with the old key enabled; confirm promotes",
        arguments: ProviderKind.withKeyAPI
    )
    func manual(kind: ProviderKind) async throws {
        let directory = Self.temporaryDirectory()
        let h = try RotationHarness(provider: kind)
        await h.pass()
        let old = h.zoneKeys[0].id
        h.advance(days: 61)
        let manual = ManualSink(file: directory + "/okta.token", instructions: "Paste it into Okta.")
        let waiting = await h.runner(sinks: [h.sink, manual]).pass()
        #expect(waiting.outcome == .waiting)
        #expect(waiting.message.contains("scim-rotator confirm test"))
        #expect(try await h.count(.rotationWaiting) == 1)
        #expect(try await h.store.keys(policy: "test").first { $0.role == .current }?.keyId == old)
        #expect(h.zoneKeys.first { $0.id == old }?.status == .enabled)
        // Days pass, nothing happens without a person; the plan says why.
        h.advance(days: 3)
        let still = await h.runner(sinks: [h.sink, manual]).pass()
        #expect(still.outcome == .waiting)
        #expect(still.message.contains("scim-rotator confirm test"))
        #expect(h.zoneKeys.first { $0.id == old }?.status == .enabled, "the old key stays enabled until confirmation")
        // The key was delivered: a restart while waiting does not abandon it.
        h.crash()
        #expect(
            try String(contentsOfFile: directory + "/okta.token", encoding: .utf8) == h.sink.latest?.secret.reveal()
        )
        #expect(try await h.store.activeRotation(policy: "test")?.state == .awaitingConfirmation)
        let promoted = await h.runner(sinks: [h.sink, manual]).confirm(reason: "pasted into Okta")
        #expect(promoted.outcome == .changed, "\(promoted.message)")
        #expect(try await h.count(.keyAbandoned) == 0)
        #expect(try await h.events(.keyConfirmed).first?.reason == "pasted into Okta")
        let current = try #require(try await h.store.keys(policy: "test").first { $0.role == .current })
        #expect(current.keyId != old && current.keyId == h.sink.latest?.keyId)
        #expect(
            !FileManager.default.fileExists(atPath: directory + "/okta.token"),
            "the live secret is erased once promoted"
        )
        let nothing = await h.runner(sinks: [h.sink, manual]).confirm(reason: nil)
        #expect(nothing.outcome == .failed && nothing.message.contains("nothing is waiting"))
    }

    @Test("webhooks hear about success, failure, blocked, stuck, emergency, expiring; outcomes are recorded")
    func notifications() async throws {
        let webhook = FakeWebhook()
        let h = try RotationHarness {
            $0.rotation.stuckAfter = 2
            $0.notify = [NotifySpec(url: URL(string: "http://127.0.0.1:9/hook")!, on: Set(NotificationKind.allCases))]
        }
        let notifier = h.notifier(webhook, retry: RetryPolicy(maxAttempts: 3, baseDelay: 0, maxDelay: 0))
        let policy = h.policy
        let runner = { h.runner(onEvent: { notifier.notify($0, policy: policy) }) }
        _ = await runner().pass()  // success
        h.sink.failNext(3)
        h.advance(days: 61)
        _ = await runner().pass()  // failure
        h.clock.set(h.clock.now().addingTimeInterval(301))
        _ = await runner().pass()  // failure, stuck
        h.advance(days: 15)  // the key has less than rotateBefore/2 left: expiring
        webhook.fail(.init(status: 503, times: 1))  // retried
        _ = await runner().pass()
        _ = await runner().pass(request: RotationRequest(trigger: .emergency, reason: "leak"))
        await notifier.drain()
        let kinds = webhook.payloads.compactMap { $0["kind"] as? String }
        for kind in ["success", "failure", "stuck", "expiring", "emergency"] {
            #expect(kinds.contains(kind), "\(kind) in \(kinds)")
        }
        #expect(try await h.count(.notificationSent) == webhook.payloads.count)
        #expect(try await h.count(.keyExpiring) >= 1)
        let sent = try await h.events(.notificationSent)
        #expect(sent.contains { $0.detail?.contains("\"attempts\":\"2\"") == true }, "one was retried after a 503")
    }

    /// A webhook endpoint that hangs until the test lets it answer.
    final class HangingWebhook: HTTPTransport {
        private let waiting = Mutex<[CheckedContinuation<HTTPResponse, any Error>]>([])
        var hanging: Int { waiting.withLock { $0.count } }

        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            try await withCheckedThrowingContinuation { continuation in waiting.withLock { $0.append(continuation) } }
        }

        func fail() {
            for continuation in waiting.withLock({ list in
                defer { list = [] }
                return list
            }) {
                continuation.resume(throwing: TransportError(.timeout, "no reply from the webhook"))
            }
        }
    }

    @Test("a hanging webhook never blocks a rotation; its failure is recorded")
    func slowWebhook() async throws {
        let webhook = HangingWebhook()
        let h = try RotationHarness {
            $0.notify = [NotifySpec(url: URL(string: "http://127.0.0.1:9/hook")!, on: [.success])]
        }
        let notifier = h.notifier(webhook, retry: RetryPolicy.none)
        let policy = h.policy
        let result = await h.runner(onEvent: { notifier.notify($0, policy: policy) }).pass()
        #expect(result.outcome == .changed)
        // The rotation is over while its webhook still hangs: it did not wait for it.
        while webhook.hanging == 0 { await Task.yield() }
        #expect(try await h.count(.notificationFailed) + h.count(.notificationSent) == 0)
        webhook.fail()
        await notifier.drain()
        #expect(try await h.count(.notificationFailed) == 1)
    }

    @Test("a webhook that refuses (HTTP 404) is not asked again; one that is overloaded (HTTP 503) is")
    func webhookRetryClass() async throws {
        for (status, attempts) in [(404, "1"), (503, "2")] {
            let webhook = FakeWebhook()
            webhook.fail(.init(status: status, times: 1))
            let h = try RotationHarness {
                $0.notify = [NotifySpec(url: URL(string: "http://127.0.0.1:9/hook")!, on: [.success])]
            }
            let notifier = h.notifier(webhook, retry: RetryPolicy(maxAttempts: 3, baseDelay: 0, maxDelay: 0))
            let policy = h.policy
            _ = await h.runner(onEvent: { notifier.notify($0, policy: policy) }).pass()
            await notifier.drain()
            let recorded = try await h.events(.notificationSent, .notificationFailed)
            #expect(recorded.count == 1)
            #expect(recorded.first?.kind == (status == 404 ? .notificationFailed : .notificationSent), "\(status)")
            #expect(recorded.first?.detail?.contains("\"attempts\":\"\(attempts)\"") == true, "\(status)")
        }
    }

    @Test(
        "after a year of rotations, failures and an emergency, no secret is in logs, history, the database file, argv, exec env, errors or notifications"
    )
    func noSecretAnywhere() async throws {
        let directory = Self.temporaryDirectory()
        let database = directory + "/history.sqlite"
        let script = directory + "/push.sh"
        try """
        #!/bin/sh
        cat > "\(directory)/stdin.$$"
        echo "$0 $@" > "\(directory)/argv.$$"
        env > "\(directory)/env.$$"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let vault = FakeVault()
        vault.addToken("hvs.writer")
        let webhook = FakeWebhook()
        let h = try RotationHarness(databasePath: database) {
            $0.notify = [NotifySpec(url: URL(string: "http://127.0.0.1:9/hook")!, on: Set(NotificationKind.allCases))]
        }
        let notifier = h.notifier(webhook)
        let sinks: [any DeliverySink] = [
            FileSink(path: directory + "/key.token"), ExecSink(command: [script, "--app", "okta"]),
            VaultSink(
                address: URL(string: "http://127.0.0.1:9")!,
                path: "scim/test",
                authentication: .token(Secret("hvs.writer")),
                transport: vault
            ),
            h.sink,
        ]
        let capture = LogCapture()
        let logger = capture.logger(label: "scim-rotator")
        let policy = h.policy
        var messages: [String] = []
        func pass(_ request: RotationRequest? = nil) async {
            let result = await h.runner(sinks: sinks, logger: logger, onEvent: { notifier.notify($0, policy: policy) })
                .pass(request: request)
            messages.append(result.message)
        }
        for step in 0..<8 {
            if step == 3 { h.sink.failNext(1) }
            await pass(step == 5 ? RotationRequest(trigger: .emergency, reason: "leak drill") : nil)
            h.advance(days: step == 3 ? 0.01 : 61)
        }
        await notifier.drain()
        let secrets = h.sink.delivered.map { $0.secret.reveal() }
        #expect(secrets.count >= 4)
        var haystacks: [(String, String)] = []
        haystacks.append(("logs", capture.lines.joined(separator: "\n")))
        haystacks.append(
            (
                "history",
                String(decoding: try JSONEncoder().encode(try await h.store.events(EventFilter())), as: UTF8.self)
            )
        )
        for file in [database, database + "-wal"] {
            if let data = FileManager.default.contents(atPath: file) {
                haystacks.append((file, String(decoding: data, as: UTF8.self)))
            }
        }
        haystacks.append(("pass results", messages.joined(separator: "\n")))
        haystacks.append(
            ("webhooks", webhook.log.map { String(decoding: $0.body, as: UTF8.self) }.joined(separator: "\n"))
        )
        haystacks.append(
            (
                "emulator state",
                String(decoding: try JSONSerialization.data(withJSONObject: h.emulator.state()), as: UTF8.self)
            )
        )
        for name in try FileManager.default.contentsOfDirectory(atPath: directory)
        where name.hasPrefix("argv.") || name.hasPrefix("env.") {
            haystacks.append((name, try String(contentsOfFile: directory + "/" + name, encoding: .utf8)))
        }
        #expect(haystacks.count >= 8)
        for (place, text) in haystacks {
            for secret in secrets {
                #expect(!text.contains(secret), "a SCIM key is in \(place)")
            }
            #expect(!text.contains(DemoCredentials.tencentSecretKey), "the cloud secret key is in \(place)")
            #expect(!text.contains("hvs.writer"), "the Vault token is in \(place)")
        }
        // Where the key is meant to go, it is.
        let stdins = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("stdin.") }
        #expect(!stdins.isEmpty)
        #expect(secrets.contains(try String(contentsOfFile: directory + "/key.token", encoding: .utf8)))
        #expect(try await h.invariantViolations().isEmpty)
    }
}
