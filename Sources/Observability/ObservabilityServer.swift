import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// `/metrics` (Prometheus text format), `/healthz` and `/readyz` over HTTP, for the daemon's `--http`.
public final class ObservabilityServer: Sendable {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let health: HealthState
    let logger: Logger
    private let group = Mutex<ServiceGroup?>(nil)

    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, health: HealthState, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.health = health
        self.logger = logger
    }

    /// `HOST:PORT`, `:PORT` (all interfaces... no: 127.0.0.1), or `[::1]:PORT`.
    public static func parse(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let registry = self.registry
        let health = self.health
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        router.get("/healthz") { _, _ -> Response in Self.json(health.health()) }
        router.get("/readyz") { _, _ -> Response in Self.json(await health.readiness()) }
        return router
    }

    static func json(_ report: HealthState.Report) -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(report)) ?? Data()
        return Response(
            status: report.ok ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Listens; returns the bound port once the socket is open.
    public func start() async throws -> Int {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger
        )
        let serviceGroup = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger)
        )
        group.withLock { $0 = serviceGroup }
        Task {
            do {
                try await serviceGroup.run()
            } catch {
                logger.error("the HTTP listener stopped", metadata: ["error": "\(error)"])
            }
            continuation.finish()
        }
        var iterator = stream.makeAsyncIterator()
        guard let bound = await iterator.next() else {
            throw ListenError(description: "cannot listen on \(host):\(port)")
        }
        return bound
    }

    public func stop() async {
        if let serviceGroup = group.withLock({ $0 }) { await serviceGroup.triggerGracefulShutdown() }
    }

    public struct ListenError: Error, CustomStringConvertible {
        public var description: String
    }
}
