import Foundation
import Logging
import Observability
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import SCIMRotatorTesting
import ServiceLifecycle
import Synchronization
import Testing
import Transport

@Suite("Metrics, health and JSON logs", .serialized)
struct ObservabilityTests {
    static func get(_ url: String) async throws -> HTTPResponse {
        try await AsyncHTTPClientTransport.shared.send(HTTPRequest(method: "GET", url: URL(string: url)!, timeout: 5))
    }

    @Test("/metrics serves the rotation metrics in the Prometheus text format; /healthz and /readyz follow the loop")
    func endpoints() async throws {
        let registry = PrometheusBackend.bootstrap()
        let databaseOK = Mutex(true)
        let health = HealthState(grace: 60, databaseCheck: { databaseOK.withLock { $0 } })
        let server = ObservabilityServer(
            host: "127.0.0.1",
            port: 0,
            registry: registry,
            health: health,
            logger: Logger(label: "t")
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "t"))
        let running = Task { try await group.run() }
        let port = try await server.listening()
        let base = "http://127.0.0.1:\(port)"

        #expect(try await Self.get(base + "/healthz").status == 503, "no tick yet")
        #expect(try await Self.get(base + "/readyz").status == 503, "no policies yet")

        let h = try RotationHarness { $0.name = "observed" }  // a name no other test uses: metrics are per process
        await h.pass()
        await h.pass(RotationRequest(trigger: .manual, reason: nil))
        let now = Date()
        health.tick(at: now, nextWake: now.addingTimeInterval(3_600), policies: 1)
        RotatorMetrics.tick(at: now, lateness: 0.002)
        #expect(try await Self.get(base + "/healthz").status == 200)
        #expect(try await Self.get(base + "/readyz").status == 200)
        databaseOK.withLock { $0 = false }
        let unready = try await Self.get(base + "/readyz")
        #expect(unready.status == 503)
        #expect(String(decoding: unready.body, as: UTF8.self).contains("database"))
        health.tick(at: now.addingTimeInterval(-7_200), nextWake: now.addingTimeInterval(-3_600), policies: 1)
        #expect(try await Self.get(base + "/healthz").status == 503, "overdue loop")

        let metrics = try await Self.get(base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = String(decoding: metrics.body, as: UTF8.self)
        for name in [
            "scim_rotator_key_expiration_timestamp_seconds{policy=\"observed\"",
            "scim_rotator_next_rotation_timestamp_seconds{policy=\"observed\"}",
            "scim_rotator_last_success_timestamp_seconds{policy=\"observed\"}",
            "scim_rotator_rotations_total{policy=\"observed\",trigger=\"manual\",outcome=\"completed\"} 1",
            "scim_rotator_rotations_total{policy=\"observed\",trigger=\"scheduled\",outcome=\"completed\"} 1",
            "scim_rotator_cloud_requests_total{provider=\"tencent\",action=\"CreateSCIMCredential\",code=\"OK\"}",
            "scim_rotator_cloud_request_duration_seconds_bucket{provider=\"tencent\",action=\"ListSCIMCredentials\"",
            "scim_rotator_policy_stuck{policy=\"observed\"} 0", "scim_rotator_policy_blocked{policy=\"observed\"} 0",
            "scim_rotator_loop_last_tick_timestamp_seconds", "scim_rotator_timer_lateness_seconds",
        ] {
            #expect(text.contains(name), "\(name)")
        }
        // A deleted key's expiry gauge is withdrawn.
        let keys = h.zoneKeys.map(\.id)
        h.advance(days: 1.1)
        await h.pass()  // the previous key is disabled after the grace period
        h.advance(days: 7.1)
        await h.pass()  // and deleted 7 days later
        let after = String(decoding: try await Self.get(base + "/metrics").body, as: UTF8.self)
        let gone = keys.filter { !h.zoneKeys.map(\.id).contains($0) }
        #expect(!gone.isEmpty)
        for key in gone { #expect(!after.contains("key_id=\"\(key)\""), "gauge of deleted key \(key)") }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test("JSON logs: one object per line with level, message and metadata")
    func jsonLogs() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "scim-rotator", write: { line in lines.withLock { $0.append(line) } })
        handler.logLevel = .info
        handler[metadataKey: "policy"] = "prod"
        let logger = Logger(label: "scim-rotator", factory: { _ in handler })
        logger.info("key.created", metadata: ["key": "scimcred-1", "rotation": "r-1"])
        logger.debug("not shown")
        let output = lines.withLock { $0 }
        #expect(output.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output[0].utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info" && object["msg"] as? String == "key.created")
        #expect(
            object["policy"] as? String == "prod" && object["key"] as? String == "scimcred-1"
                && object["rotation"] as? String == "r-1"
        )
        #expect(object["ts"] is String)
    }

    @Test("HOST:PORT parsing")
    func addresses() {
        #expect(ObservabilityServer.parse("127.0.0.1:9464")! == ("127.0.0.1", 9464))
        #expect(ObservabilityServer.parse("0.0.0.0:0")! == ("0.0.0.0", 0))
        #expect(ObservabilityServer.parse("[::1]:9464")! == ("::1", 9464))
        #expect(ObservabilityServer.parse("9464") == nil && ObservabilityServer.parse("host:99999") == nil)
    }
}
