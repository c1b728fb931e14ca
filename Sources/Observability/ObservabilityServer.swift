import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// `/metrics` (Prometheus text format), `/healthz` and `/readyz` over HTTP, for the daemon's `--http`.
public final class ObservabilityServer: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let health: HealthState
    let logger: Logger
    private let ports: AsyncStream<Int>
    private let bound: AsyncStream<Int>.Continuation

    public init(host: String, port: Int, registry: PrometheusCollectorRegistry, health: HealthState, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.health = health
        self.logger = logger
        (ports, bound) = AsyncStream.makeStream(of: Int.self)
    }

    /// `HOST:PORT`, `:PORT` (127.0.0.1), or `[::1]:PORT`.
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

    /// Serves until graceful shutdown (a `Service` of the daemon's group); ``listening()`` tells when it is bound.
    public func run() async throws {
        let app = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { [bound] channel in
                bound.yield(channel.localAddress?.port ?? 0)
                bound.finish()
            },
            logger: logger
        )
        defer { bound.finish() }
        do {
            try await app.run()
        } catch {
            logger.error("the HTTP listener stopped", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// The bound port once the socket is open; `ListenError` when the server stopped before it could listen.
    public func listening() async throws -> Int {
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            throw ListenError(description: "cannot listen on \(host):\(port)")
        }
        return port
    }

    public struct ListenError: Error, CustomStringConvertible {
        public var description: String
    }
}
