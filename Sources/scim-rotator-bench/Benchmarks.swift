import CloudEmulator
import Foundation
import RotationEngine
import RotationHistory
import SCIMRotatorCLI
import SCIMRotatorCore

/// One line of the report.
struct Row {
    var benchmark: String
    var measured: String
    var baseline: String
    var ratio: String
    var target: String
    var met: Bool?
}

enum Benchmarks {
    /// Fleet rotation: N zones due at once, each in its own account, default concurrency; elapsed against the ideal
    /// ceil(N/C) × T1, T1 being one zone's time measured in the same run.
    static func fleet(
        sizes: [Int],
        latencyMs: Int,
        concurrency: Int
    ) async throws -> (rows: [Row], seconds: [Int: Double]) {
        var rows: [Row] = []
        var timings: [Int: Double] = [:]
        var t1: Double?
        for size in ([1] + sizes.filter { $0 != 1 }) {
            // Each size runs several times (a fresh fleet each) and the median is kept: one zone 5 times, so that T1
            // is not one noisy sample, larger fleets 3 times.
            let runs = size == 1 ? 5 : 3
            var samples: [(seconds: Double, failed: Int, rotations: Int)] = []
            for _ in 0..<runs {
                let fleet = try await Fleet(zones: size, latencyMs: latencyMs, name: "fleet\(size)")
                _ = await fleet.reconcile(concurrency: concurrency)  // first contact: adopt the existing keys
                fleet.clock.advance(by: 61 * 86_400)  // every zone is now due
                let (results, seconds) = await fleet.reconcile(concurrency: concurrency)
                let failed = results.filter { $0.isFailure || $0.rotations.isEmpty }
                let rotations = try await fleet.wiring.store.events(EventFilter(kinds: [.rotationCompleted])).count
                await fleet.stop()
                samples.append((seconds, failed.count, rotations))
            }
            let seconds = samples.map(\.seconds).sorted()[samples.count / 2]
            let failedCount = samples.map(\.failed).reduce(0, +)  // over every run
            let rotations = samples.map(\.rotations).min() ?? 0
            timings[size] = seconds
            if size == 1 { t1 = seconds }
            let ideal = Double((size + concurrency - 1) / concurrency) * (t1 ?? seconds)
            let ratio = seconds / ideal
            rows.append(
                Row(
                    benchmark:
                        "fleet rotation, \(size) zone\(size == 1 ? "" : "s") (C=\(concurrency), \(latencyMs) ms/call)",
                    measured: String(
                        format: "%.2f s, %d rotated, %d failed in all runs%@",
                        seconds,
                        rotations,
                        failedCount,
                        " (median of \(runs))"
                    ),
                    baseline: String(format: "ideal %.2f s (ceil(N/C) × T1, T1 = %.3f s)", ideal, t1 ?? seconds),
                    ratio: String(format: "%.2f", ratio),
                    target: "≤ 1.25, 0 failed",
                    met: ratio <= 1.25 && failedCount == 0 && rotations == size
                )
            )
        }
        return (rows, timings)
    }

    /// One account under pressure: many zones of one account rotated concurrently, repeatedly (emergencies).
    /// The client's rate limiter must keep every action under the documented 20 requests/second.
    static func pressure(zones: Int, rounds: Int, latencyMs: Int, concurrency: Int) async throws -> [Row] {
        let fleet = try await Fleet(zones: zones, accounts: 1, latencyMs: latencyMs, name: "pressure")
        _ = await fleet.reconcile(concurrency: concurrency)
        let start = ContinuousClock.now
        var failures = 0
        for round in 0..<rounds {
            let wiring = fleet.wiring
            let results = await withTaskGroup(of: PassResult.self) { group in
                var pending = fleet.policies[...]
                var results: [PassResult] = []
                for _ in 0..<min(concurrency, pending.count) {
                    let policy = pending.removeFirst()
                    group.addTask {
                        await wiring.pass(
                            policy,
                            request: RotationRequest(trigger: .emergency, reason: "bench round \(round)")
                        )
                    }
                }
                while let result = await group.next() {
                    results.append(result)
                    if let policy = pending.popFirst() {
                        group.addTask {
                            await wiring.pass(
                                policy,
                                request: RotationRequest(trigger: .emergency, reason: "bench round \(round)")
                            )
                        }
                    }
                }
                return results
            }
            failures += results.filter(\.isFailure).count
        }
        let seconds = (ContinuousClock.now - start).seconds
        let (calls, peaks) = fleet.calls()
        await fleet.stop()
        let throttled = calls.filter { $0.key.hasSuffix(" RequestLimitExceeded") }.values.reduce(0, +)
        let total = calls.values.reduce(0, +)
        let peak = peaks.values.max() ?? 0
        let busiest = peaks.max { $0.value < $1.value }?.key.split(separator: "/").last.map(String.init) ?? "-"
        return [
            Row(
                benchmark: "one account under pressure: \(zones) zones × \(rounds) emergency rotations",
                measured: String(
                    format: "%d requests in %.1f s, %d RequestLimitExceeded, %d failed",
                    total,
                    seconds,
                    throttled,
                    failures
                ),
                baseline: "documented limit 20 req/s per action",
                ratio: String(format: "peak %d/20 = %.2f (%@)", peak, Double(peak) / 20, busiest),
                target: "0 RequestLimitExceeded",
                met: throttled == 0 && failures == 0
            )
        ]
    }

    /// The baseline a user would write: a sequential Python loop over the official SDK on the same emulator.
    static func baseline(
        zones: Int,
        latencyMs: Int,
        python: String,
        script: String,
        oursSeconds: Double?,
        oursZones: Int?
    ) async throws -> [Row] {
        let fleet = try await Fleet(zones: zones, latencyMs: latencyMs, name: "baseline")
        let accounts = (0..<zones).map { index -> [String: String] in
            [
                "secretId": "AKIDbench\(String(index).leftPadded(7))", "secretKey": "benchSecretKey\(index)",
                "zone": Fleet.zoneId(index),
            ]
        }
        let file = fleet.directory + "/accounts.json"
        try JSONSerialization.data(withJSONObject: accounts).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "\(fleet.url.host!):\(fleet.url.port!)", file]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        await fleet.stop()
        guard process.terminationStatus == 0,
            let result = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let seconds = result["seconds"] as? Double
        else {
            return [
                Row(
                    benchmark: "baseline (Python SDK loop)",
                    measured: "failed: \(String(decoding: data, as: UTF8.self))",
                    baseline: "-",
                    ratio: "-",
                    target: "≥ 20×",
                    met: false
                )
            ]
        }
        let errors = result["errors"] as? Int ?? -1
        guard let ours = oursSeconds, let oursZones else {
            return [
                Row(
                    benchmark: "baseline (Python SDK loop), \(zones) zones",
                    measured: String(format: "%.1f s", seconds),
                    baseline: "-",
                    ratio: "-",
                    target: "-",
                    met: nil
                )
            ]
        }
        // Compare at the same size; if the baseline ran on fewer zones, scale it linearly (it is sequential).
        let scaled = seconds * Double(oursZones) / Double(zones)
        let speedup = scaled / ours
        return [
            Row(
                benchmark: "scim-rotator vs a Python SDK loop, \(oursZones) zones",
                measured: String(format: "scim-rotator %.2f s", ours),
                baseline: String(
                    format: "Python loop %.1f s%@ (%d errors)",
                    scaled,
                    zones == oursZones ? "" : " (scaled from \(zones) zones)",
                    errors
                ),
                ratio: String(format: "%.1f× faster", speedup),
                target: "≥ 20×",
                met: speedup >= 20 && errors == 0
            )
        ]
    }
}
