import Foundation

/// The latest instant (monotonic) a cloud request may still be waiting for its reply: a replica that holds a
/// policy's lease sets it to the lease's end minus a margin, so that no reply can arrive after another replica may
/// have taken the zone over. The HTTP transport cuts each request's timeout to it. Unset (nil) outside a lease.
public enum RequestDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?

    /// `timeout` seconds, cut to what is left before the deadline (at least a millisecond).
    public static func timeout(_ timeout: Double) -> Double {
        guard let current else { return timeout }
        return max(0.001, min(timeout, ContinuousClock.now.duration(to: current).seconds))
    }
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
