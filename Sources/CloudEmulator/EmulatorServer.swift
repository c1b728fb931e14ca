import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Transport

/// Serves an ``Emulator`` (or any ``LocalHTTPHandler``) over HTTP on 127.0.0.1 with Hummingbird.
///
/// A `Service`: the CLI runs it in its one `ServiceGroup` and learns the URL from ``listening()``. Tests and the
/// benchmark, which have no group, use ``start()`` and ``stop()``: the same service in a group of its own.
public final class EmulatorServer: Service {
    public let handler: any LocalHTTPHandler
    private let host: String
    private let port: Int
    private let logger: Logger
    private let ports: AsyncStream<Int>
    private let bound: AsyncStream<Int>.Continuation
    /// Why ``run()`` stopped before it listened.
    private let failure = Mutex<(any Error)?>(nil)
    private let standalone: Mutex<(group: ServiceGroup, runner: Task<Void, any Error>)?> = Mutex(nil)

    public init(emulator: any LocalHTTPHandler, host: String = "127.0.0.1", port: Int = 0, logger: Logger? = nil) {
        self.handler = emulator
        self.host = host
        self.port = port
        var fallback = Logger(label: "scim-rotator.emulator")
        fallback.logLevel = .warning
        self.logger = logger ?? fallback
        (ports, bound) = AsyncStream.makeStream(of: Int.self)
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let app = Application(
            responder: EmulatorResponder(handler: handler),
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
            failure.withLock { $0 = error }
            throw error
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`) once the socket is bound.
    public func listening() async throws -> URL {
        var iterator = ports.makeAsyncIterator()
        guard let boundPort = await iterator.next() else {
            if let error = failure.withLock({ $0 }) { throw error }
            throw TransportError(.connection, "the emulator could not listen on \(host):\(port)")
        }
        return URL(string: "http://\(host):\(boundPort)")!
    }

    /// Starts serving in a group of its own and returns the base URL once the socket is bound.
    public func start() async throws -> URL {
        let group = ServiceGroup(configuration: .init(services: [self], logger: logger))
        let runner = Task { try await group.run() }
        standalone.withLock { $0 = (group, runner) }
        return try await listening()
    }

    /// Stops accepting connections and waits for the server started by ``start()`` to finish.
    public func stop() async {
        guard let started = standalone.withLock({ $0 }) else { return }
        await started.group.triggerGracefulShutdown()
        _ = try? await started.runner.value
    }
}

/// A request context that keeps the channel, so that a fault can drop the connection.
struct EmulatorContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

struct EmulatorResponder: HTTPResponder {
    let handler: any LocalHTTPHandler

    func respond(to request: Request, context: EmulatorContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        var headers: [(name: String, value: String)] = []
        if let authority = request.head.authority { headers.append(("Host", authority)) }
        for field in request.headers { headers.append((field.name.rawName, field.value)) }
        let authority = request.head.authority ?? "127.0.0.1"
        let url = URL(string: "http://\(authority)\(request.uri.string)") ?? URL(string: "http://127.0.0.1/")!
        let incoming = Transport.HTTPRequest(
            method: request.method.rawValue,
            url: url,
            headers: headers,
            body: Data(body.readableBytesView)
        )
        switch await handler.handle(incoming) {
        case .drop:
            try? await context.channel.close()
            throw CancellationError()
        case .response(let reply):
            var fields = HTTPFields()
            for (name, value) in reply.headers.sorted(by: { $0.key < $1.key }) {
                if let fieldName = HTTPField.Name(Self.canonicalName(name)) { fields[fieldName] = value }
            }
            return Response(
                status: .init(code: reply.status),
                headers: fields,
                body: .init(byteBuffer: ByteBuffer(bytes: reply.body))
            )
        }
    }

    static func canonicalName(_ lower: String) -> String {
        lower.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "-")
    }
}
