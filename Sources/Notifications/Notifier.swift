import Foundation
import Logging
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import Synchronization
import Transport

/// Sends webhook notifications for history events, as each policy's `notify:` asks.
///
/// A notification never blocks a rotation: ``notify(_:policy:)`` queues it and returns. One consumer sends the queue,
/// at most ``concurrency`` at a time, each retried with backoff, and records each outcome in the history
/// (`notification.sent` / `notification.failed`). Callers that exit soon after (reconcile, the daemon on shutdown)
/// call ``drain(timeout:)`` first.
public final class Notifier: Sendable {
    /// Webhooks in flight at once.
    public static let concurrency = 8

    private let sender: Sender
    private let queue: AsyncStream<Job>.Continuation
    private let pending = Pending()

    public init(
        transport: any HTTPTransport,
        store: any HistoryStore,
        clock: any RotatorClock,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger,
        retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: 1, maxDelay: 10),
        timeout: Double = 10,
        pause: @escaping @Sendable (Double) async throws -> Void = RetryPolicy.sleep
    ) {
        sender = Sender(
            transport: transport,
            store: store,
            clock: clock,
            environment: environment,
            logger: logger,
            retry: retry,
            timeout: timeout,
            pause: pause
        )
        let (jobs, queue) = AsyncStream.makeStream(of: Job.self)
        self.queue = queue
        // The one consumer; it ends once the notifier is gone and what it queued is sent.
        Task { [sender, pending] in
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await job in jobs {
                    if running == Self.concurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask {
                        await sender.deliver(job)
                        pending.done()
                    }
                    running += 1
                }
            }
        }
    }

    deinit {
        queue.finish()
    }

    /// The notification kinds an event stands for.
    public static func kinds(for event: HistoryEvent) -> [NotificationKind] {
        switch event.kind {
        case .rotationFailed, .keyUnusable: return [.failure]
        case .rotationBlocked: return [.blocked]
        case .policyStuck: return [.stuck]
        case .keyExpiring: return [.expiring]
        case .rotationWaiting: return event.details["action"] == nil ? [.confirm] : [.action]
        case .rotationStarted where event.actor == .emergency: return [.emergency]
        case .rotationCompleted: return event.actor == .emergency ? [.emergency, .success] : [.success]
        default: return []
        }
    }

    /// Queues the webhooks `policy` wants for `event`. Returns at once.
    public func notify(_ event: HistoryEvent, policy: Policy) {
        let kinds = Self.kinds(for: event)
        guard !kinds.isEmpty else { return }
        for (index, spec) in policy.notify.enumerated() {
            guard let kind = kinds.first(where: spec.on.contains) else { continue }
            pending.add()
            queue.yield(Job(event: event, kind: kind, spec: spec, index: index))
        }
    }

    /// Waits until every queued notification is sent (or has failed), at most `timeout` seconds.
    public func drain(timeout: Double = 30) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [pending] in await pending.idle() }
            group.addTask { try? await Task.sleep(for: .milliseconds(Int64(max(0, timeout) * 1_000))) }
            await group.next()
            group.cancelAll()
        }
    }

    /// The JSON (or Slack) body for an event. Events carry no secrets; neither does this.
    public static func payload(
        _ event: HistoryEvent,
        kind: NotificationKind,
        format: NotifySpec.Format
    ) -> [String: Any] {
        let headline = Self.headline(event, kind: kind)
        switch format {
        case .slack:
            return ["text": headline]
        case .json:
            var body: [String: Any] = [
                "kind": kind.rawValue, "message": headline, "policy": event.policy, "provider": event.provider.rawValue,
                "zone": event.zone, "event": event.kind.rawValue, "time": event.time, "actor": event.actor.rawValue,
                "seq": event.seq,
            ]
            if let rotation = event.rotationId { body["rotationId"] = rotation }
            if let key = event.keyId { body["keyId"] = key }
            if let reason = event.reason { body["reason"] = reason }
            if let detail = event.detail, let data = detail.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data)
            {
                body["detail"] = object
            }
            return body
        }
    }

    static func headline(_ event: HistoryEvent, kind: NotificationKind) -> String {
        let subject = "scim-rotator \(event.policy) (\(event.provider) \(event.zone))"
        let reason = event.reason.map { ": \($0)" } ?? ""
        switch kind {
        case .failure: return "\(subject): rotation failed\(reason)"
        case .blocked: return "\(subject): rotation blocked\(reason)"
        case .stuck: return "\(subject): stuck\(reason)"
        case .emergency:
            return
                "\(subject): emergency rotation \(event.kind == .rotationCompleted ? "completed" : "started")\(reason)"
        case .expiring: return "\(subject): the current SCIM key \(event.keyId ?? "") is expiring\(reason)"
        case .success: return "\(subject): rotated to key \(event.keyId ?? "")"
        case .confirm: return "\(subject): a person must act before the new key is promoted\(reason)"
        case .action: return "\(subject): a person must act in the console\(reason)"
        }
    }
}

/// One webhook to send.
struct Job: Sendable {
    var event: HistoryEvent
    var kind: NotificationKind
    var spec: NotifySpec
    var index: Int
}

/// How many queued notifications are not sent yet, and who waits for none.
final class Pending: Sendable {
    private struct State {
        var count = 0
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    func add() {
        state.withLock { $0.count += 1 }
    }

    func done() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once nothing is pending, or when the task is cancelled.
    func idle() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let wait = state.withLock { state in
                    guard state.count > 0, !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !wait { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Sends one notification and records its outcome.
struct Sender: Sendable {
    let transport: any HTTPTransport
    let store: any HistoryStore
    let clock: any RotatorClock
    let environment: [String: String]
    let logger: Logger
    let retry: RetryPolicy
    let timeout: Double
    let pause: @Sendable (Double) async throws -> Void

    func deliver(_ job: Job) async {
        let (event, kind, spec, index) = (job.event, job.kind, job.spec, job.index)
        let target: URL?
        if let name = spec.urlEnv {
            target = environment[name].flatMap(URL.init(string:))
        } else {
            target = spec.url
        }
        let host = target?.host ?? "?"
        var detail = ["kind": kind.rawValue, "webhook": "notify[\(index)] \(host)", "event": String(event.seq)]
        var secrets: [Secret] = []
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let name = spec.authorizationEnv, let value = environment[name], !value.isEmpty {
            headers.append(("Authorization", value))
            secrets.append(Secret(value))
        }
        if let name = spec.urlEnv, let value = environment[name] { secrets.append(Secret(value)) }
        var outcome: Result<Int, any Error>
        if let target {
            let body =
                (try? JSONSerialization.data(
                    withJSONObject: Notifier.payload(event, kind: kind, format: spec.format),
                    options: [.sortedKeys, .withoutEscapingSlashes]
                )) ?? Data()
            let attempts = Mutex(0)
            do {
                let status = try await retry.run(pause: pause, shouldRetry: RetryClass.retryable) {
                    attempts.withLock { $0 += 1 }
                    let response: HTTPResponse
                    do {
                        response = try await transport.send(
                            HTTPRequest(method: "POST", url: target, headers: headers, body: body, timeout: timeout)
                        )
                    } catch let error as TransportError {
                        throw WebhookError.transport(error)
                    }
                    guard (200..<300).contains(response.status) else { throw WebhookError.status(response.status) }
                    return response.status
                }
                outcome = .success(status)
            } catch {
                outcome = .failure(error)
            }
            detail["attempts"] = String(attempts.withLock { $0 })
        } else {
            outcome = .failure(WebhookError.noURL(variable: spec.urlEnv ?? "?"))
        }
        let record: NewEvent
        switch outcome {
        case .success(let status):
            detail["status"] = String(status)
            record = NewEvent(
                policy: event.policy,
                provider: event.provider,
                zone: event.zone,
                rotationId: event.rotationId,
                kind: .notificationSent,
                keyId: event.keyId,
                actor: .scheduler,
                reason: kind.rawValue,
                detail: detail
            )
        case .failure(let error):
            let message = "\(error)".redacting(secrets)
            logger.warning(
                "notification failed",
                metadata: ["policy": "\(event.policy)", "kind": "\(kind.rawValue)", "error": "\(message)"]
            )
            record = NewEvent(
                policy: event.policy,
                provider: event.provider,
                zone: event.zone,
                rotationId: event.rotationId,
                kind: .notificationFailed,
                keyId: event.keyId,
                actor: .scheduler,
                reason: message,
                detail: detail
            )
        }
        do {
            try await store.record(JournalWrite(events: [record]), at: clock.now())
        } catch {
            logger.error("cannot record a notification outcome", metadata: ["error": "\(error)"])
        }
    }
}

/// Why a webhook was not delivered, classified like every other retry: a POST of a notification may be repeated, so
/// a server error, throttling or a lost connection is retried; a refusal is not.
enum WebhookError: Error, CustomStringConvertible, RetryClassifiable {
    case transport(TransportError)
    case status(Int)
    case noURL(variable: String)

    var retryClass: RetryClass {
        switch self {
        case .transport(let error): return error.retryClass
        case .status(let status): return status >= 500 || status == 429 ? .ambiguous : .final
        case .noURL: return .final
        }
    }

    var description: String {
        switch self {
        case .transport(let error): return "webhook: \(error)"
        case .status(let status): return "webhook: HTTP \(status)"
        case .noURL(let variable): return "webhook: environment variable \(variable) holds no URL"
        }
    }
}
