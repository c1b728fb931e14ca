import Metrics
import Prometheus
import Synchronization

/// Bootstraps swift-metrics with Prometheus, once per process (swift-metrics allows one bootstrap).
public enum PrometheusBackend {
    private static let registry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry every metric of this process lands in.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        registry.withLock { existing in
            if let existing { return existing }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10),
            ]
            MetricsSystem.bootstrap(factory)
            existing = created
            return created
        }
    }
}
