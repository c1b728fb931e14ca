import Foundation
import GRDB
import Synchronization

/// Group commit without blocking a thread of the concurrency pool: a journal step joins a queue and its caller
/// suspends; one consumer takes everything queued so far and writes it in one transaction (a savepoint per step, so
/// one step's failure is its caller's alone) with one sync, through GRDB's asynchronous write, which runs on GRDB's
/// own writer queue. Alone, a step is written at once; under load, the disk syncs once per batch, not once per step.
final class GroupCommit: Sendable {
    typealias Write = @Sendable (Database, [(JournalWrite, Date)]) -> [Result<[HistoryEvent], any Error>]

    struct Step {
        var write: JournalWrite
        var now: Date
        var continuation: CheckedContinuation<[HistoryEvent], any Error>
    }

    /// The steps waiting for the next batch.
    final class Queue: Sendable {
        let steps = Mutex<[Step]>([])
        let batches = Atomic<Int>(0)

        func takeAll() -> [Step] {
            steps.withLock { steps in
                defer { steps = [] }
                return steps
            }
        }
    }

    private let queue = Queue()
    /// Rings once per batch's worth of steps (several rings while a batch is written coalesce into one).
    private let doorbell: AsyncStream<Void>.Continuation

    /// `write` writes a batch inside the transaction the consumer opens.
    init(writer: any DatabaseWriter, fail: @escaping @Sendable (any Error) -> any Error, write: @escaping Write) {
        let (stream, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.doorbell = doorbell
        Task { [queue] in
            for await _ in stream {
                while true {
                    let batch = queue.takeAll()
                    guard !batch.isEmpty else { break }
                    queue.batches.add(1, ordering: .relaxed)
                    let results: [Result<[HistoryEvent], any Error>]
                    do {
                        results = try await writer.write { db in write(db, batch.map { ($0.write, $0.now) }) }
                    } catch {
                        // The transaction itself failed (disk full, locked past the busy timeout): nothing in it was
                        // recorded.
                        let failure = fail(error)
                        results = batch.map { _ in .failure(failure) }
                    }
                    for (step, result) in zip(batch, results) { step.continuation.resume(with: result) }
                }
            }
        }
    }

    deinit { doorbell.finish() }

    /// Queues `write` and returns once it is on disk.
    func record(_ write: JournalWrite, at now: Date) async throws -> [HistoryEvent] {
        try await withCheckedThrowingContinuation { continuation in
            queue.steps.withLock { $0.append(Step(write: write, now: now, continuation: continuation)) }
            doorbell.yield()
        }
    }

    /// Transactions written so far (tests check that concurrent steps share them).
    var batches: Int { queue.batches.load(ordering: .relaxed) }
}
