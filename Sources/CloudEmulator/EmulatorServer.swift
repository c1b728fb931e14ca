import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Transport

/// Serves an ``Emulator`` (or any ``LocalHTTPHandler``) over HTTP on 127.0.0.1 with Hummingbird.
public final class EmulatorServer: Sendable {
    public let handler: any LocalHTTPHandler
    private let host: String
    private let port: Int
    private let logger: Logger
    private let group: Mutex<ServiceGroup?> = Mutex(nil)
    private let runner: Mutex<Task<Void, any Error>?> = Mutex(nil)

    public init(emulator: any LocalHTTPHandler, host: String = "127.0.0.1", port: Int = 0, logger: Logger? = nil) {
        self.handler = emulator
        self.host = host
        self.port = port
        var fallback = Logger(label: "scim-rotator.emulator")
        fallback.logLevel = .warning
        self.logger = logger ?? fallback
    }

    /// Starts listening and returns the base URL (`http://127.0.0.1:PORT`) once the socket is bound.
    public func start() async throws -> URL {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: EmulatorResponder(handler: handler),
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
        let task = Task {
            do {
                try await serviceGroup.run()
            } catch {
                continuation.finish()
                throw error
            }
        }
        runner.withLock { $0 = task }
        var iterator = stream.makeAsyncIterator()
        guard let boundPort = await iterator.next() else {
            _ = try await task.value
            throw TransportError(.connection, "the emulator could not listen on \(host):\(port)")
        }
        return URL(string: "http://\(host):\(boundPort)")!
    }

    /// Stops accepting connections and waits for the server to finish.
    public func stop() async {
        if let serviceGroup = group.withLock({ $0 }) {
            await serviceGroup.triggerGracefulShutdown()
        }
        _ = try? await runner.withLock({ $0 })?.value
    }

    /// Runs until the task is cancelled or the process is asked to stop (the CLI wires SIGINT/SIGTERM).
    public func wait() async throws {
        try await runner.withLock({ $0 })?.value
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
