import Foundation
import GRDB

// What `history copy` and `audit verify` need of a SQLite history beyond the journal: appending records chained
// elsewhere, and SQLite's own integrity check.
extension SQLiteHistoryStore {
    public func appendChained(_ events: [HistoryEvent]) async throws {
        guard !events.isEmpty else { return }
        try await run {
            try await writer.write { db in
                let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
                var verifier = HashChain.Verifier(after: last.map { (seq: $0["seq"], hash: $0["hash"]) })
                for event in events {
                    if let broken = verifier.check(event) {
                        throw HistoryError.doesNotContinue(broken, into: path)
                    }
                    try event.insert(db)
                }
            }
        }
    }

    public func storageCheck() async throws -> StorageCheck? {
        let rows = try await integrityCheck(limit: 5)
        return StorageCheck(name: "SQLite integrity", problems: rows == ["ok"] ? [] : rows)
    }
}

extension HistoryError {
    /// Records to append do not continue the history at `database`.
    public static func doesNotContinue(_ broken: (seq: Int64, problem: String), into database: String) -> HistoryError {
        HistoryError(
            "the records to append do not continue the history in \(database): record #\(broken.seq): \(broken.problem); nothing was written"
        )
    }
}
