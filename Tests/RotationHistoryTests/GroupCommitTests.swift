import Foundation
import SCIMRotatorCore
import Testing

@_spi(Testing) @testable import RotationHistory

@Suite("Group commit: journal steps recorded at once share transactions, each keeps its own result")
struct GroupCommitTests {
    @Test("16 rotations recording 25 steps each: every step once, in order per rotation, one valid chain, fewer syncs")
    func concurrentRecords() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("group-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteHistoryStore(path: directory.appendingPathComponent("h.sqlite").path)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for writer in 0..<16 {
                tasks.addTask {
                    for step in 0..<25 {
                        let recorded = try await store.record(
                            JournalWrite(events: [
                                NewEvent(
                                    policy: "p\(writer)",
                                    provider: .tencent,
                                    zone: "z-aaaaaaaaaaaa",
                                    kind: .keyCreated,
                                    keyId: "k\(writer)-\(step)",
                                    actor: .scheduler,
                                    reason: "r"
                                )
                            ]),
                            at: Date()
                        )
                        #expect(recorded.count == 1 && recorded.first?.keyId == "k\(writer)-\(step)")
                    }
                }
            }
            try await tasks.waitForAll()
        }
        #expect(try await store.verifyChain() == ChainVerification(checked: 400, firstBroken: nil))
        let events = try await store.events(EventFilter(limit: 1_000)).sorted { $0.seq < $1.seq }
        #expect(Set(events.compactMap(\.keyId)).count == 400)
        for writer in 0..<16 {
            let steps = events.filter { $0.policy == "p\(writer)" }.compactMap(\.keyId)
            #expect(steps == (0..<25).map { "k\(writer)-\($0)" })
        }
        #expect(store.recordBatches < 400)
        #expect(try store.synchronousMode == 2)  // FULL: every transaction is synced before the step returns
    }

    @Test("a step alone is written at once; a failed step fails only its caller")
    func isolation() async throws {
        let store = try SQLiteHistoryStore()
        try await store.record(JournalWrite(events: []), at: Date())
        #expect(store.recordBatches == 1)
        try store.unsafeExecute(
            "CREATE TRIGGER no_k9 BEFORE INSERT ON events WHEN NEW.keyId = 'k9' BEGIN SELECT RAISE(ABORT, 'k9 refused'); END"
        )
        let results = await withTaskGroup(of: (Int, Bool).self) { tasks in
            for index in 0..<20 {
                tasks.addTask {
                    let write = JournalWrite(events: [
                        NewEvent(
                            policy: "p",
                            provider: .tencent,
                            zone: "z-aaaaaaaaaaaa",
                            kind: .keyCreated,
                            keyId: "k\(index)",
                            actor: .scheduler,
                            reason: "r"
                        )
                    ])
                    return (index, (try? await store.record(write, at: Date())) != nil)
                }
            }
            var all: [Int: Bool] = [:]
            for await (index, ok) in tasks { all[index] = ok }
            return all
        }
        #expect(results.filter { !$0.value }.map(\.key) == [9])
        #expect(try await store.events(EventFilter(limit: 100)).count == 19)
        #expect(try await store.verifyChain().firstBroken == nil)
    }
}
