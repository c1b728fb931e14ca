import Foundation
import Metrics

/// Counts cloud API calls by provider, action and outcome code, and times them (swift-metrics; Prometheus in the
/// daemon). ``SignedAPI`` records every attempt.
public enum CloudRequestMetrics {
    public static let requests = "scim_rotator_cloud_requests_total"
    public static let duration = "scim_rotator_cloud_request_duration_seconds"

    public static func record(provider: String, action: String, code: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        Counter(
            label: requests,
            dimensions: [("provider", provider), ("action", action), ("code", code)]
        )
        .increment()
        Metrics.Timer(
            label: duration,
            dimensions: [("provider", provider), ("action", action)]
        )
        .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
