import Logging
import Synchronization

/// Every line logged through its loggers, metadata included, for a test that checks what reaches the logs. Each
/// test owns its capture, so tests running in parallel do not see each other's lines.
public final class LogCapture: Sendable {
    private let captured = Mutex<[String]>([])

    public init() {}

    /// A logger whose lines this capture keeps.
    public func logger(label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { [self] label in Handler(label: label, capture: self) }
        logger.logLevel = level
        return logger
    }

    /// The lines so far, in order.
    public var lines: [String] { captured.withLock { $0 } }

    struct Handler: LogHandler {
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        let label: String
        let capture: LogCapture

        init(label: String, capture: LogCapture) {
            self.label = label
            self.capture = capture
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.captured.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
        }
    }
}
