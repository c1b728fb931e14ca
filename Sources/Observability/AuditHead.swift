import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The audit history's head: the newest record's sequence number and chain hash. A hash chain cannot show that its
/// newest records were removed; a head kept off the machine can (`scim-rotator audit verify --anchor SEQ:HASH`).
/// The daemon logs it periodically and exports it:
///
/// - `scim_rotator_audit_head_sequence`: the newest sequence number (alert when it decreases);
/// - `scim_rotator_audit_head_info{seq,hash} 1`: the anchor itself, for collectors that keep labels.
public enum AuditHeadMetrics {
    public static let sequence = "scim_rotator_audit_head_sequence"
    public static let info = "scim_rotator_audit_head_info"
    private static let published = Mutex<(seq: Int64, hash: String)?>(nil)

    public static func record(seq: Int64, hash: String) {
        Gauge(label: sequence).record(seq)
        let previous = published.withLock { published in
            defer { published = (seq, hash) }
            return published
        }
        if let previous, previous.seq != seq || previous.hash != hash {
            Gauge(label: info, dimensions: [("seq", String(previous.seq)), ("hash", previous.hash)]).destroy()
        }
        Gauge(label: info, dimensions: [("seq", String(seq)), ("hash", hash)]).record(1)
    }
}

/// Logs and exports the head every `interval` seconds until graceful shutdown or cancellation.
public struct AuditHeadReporter: Service {
    let interval: Double
    let logger: Logger
    let head: @Sendable () async throws -> (seq: Int64, hash: String)?

    public init(
        interval: Double,
        logger: Logger,
        head: @escaping @Sendable () async throws -> (seq: Int64, hash: String)?
    ) {
        self.interval = interval
        self.logger = logger
        self.head = head
    }

    public func run() async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await report()
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(nanoseconds: UInt64(max(1, self.interval) * 1_000_000_000))
            }
        }
    }

    /// One report: an info line with `anchor=SEQ:HASH` (what `audit verify --anchor` takes) and the gauges.
    public func report() async {
        do {
            guard let head = try await head() else { return }
            AuditHeadMetrics.record(seq: head.seq, hash: head.hash)
            logger.info(
                "audit head",
                metadata: ["seq": "\(head.seq)", "hash": "\(head.hash)", "anchor": "\(head.seq):\(head.hash)"]
            )
        } catch {
            logger.warning("cannot read the audit head", metadata: ["error": "\(error)"])
        }
    }
}
