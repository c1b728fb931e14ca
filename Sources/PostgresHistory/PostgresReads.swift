import Foundation
import PostgresNIO
import RotationHistory

// The history's reads: the journal's by key, events by filter, the chain's head and its verification.
extension PostgresHistoryStore {
    public func activeRotation(policy: String) async throws -> RotationRecord? {
        try await records(
            RotationRecord.self,
            """
            SELECT record::text FROM rotations
            WHERE policy = \(policy) AND state NOT IN ('completed', 'failed', 'blocked')
            ORDER BY started_at DESC LIMIT 1
            """
        ).first
    }

    public func rotation(id: String) async throws -> RotationRecord? {
        try await records(RotationRecord.self, "SELECT record::text FROM rotations WHERE id = \(id)").first
    }

    public func keys(policy: String) async throws -> [KeyRecord] {
        try await records(
            KeyRecord.self,
            "SELECT record::text FROM keys WHERE policy = \(policy) ORDER BY first_seen, key_id"
        )
    }

    public func sinks(policy: String) async throws -> [SinkRecord] {
        try await records(SinkRecord.self, "SELECT record::text FROM sinks WHERE policy = \(policy) ORDER BY sink")
    }

    public func policyState(policy: String) async throws -> PolicyState {
        try await records(PolicyState.self, "SELECT record::text FROM policy_state WHERE policy = \(policy)").first
            ?? PolicyState(policy: policy)
    }

    public func policyStates() async throws -> [PolicyState] {
        try await records(PolicyState.self, "SELECT record::text FROM policy_state ORDER BY policy")
    }

    func records<T: Decodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await run { try await PostgresRows.records(type, try await client.query(query, logger: logger)) }
    }

    public func events(_ filter: EventFilter) async throws -> [HistoryEvent] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func bind(_ condition: (String) -> String, _ value: some PostgresDynamicTypeEncodable) {
            binds.append(value)
            conditions.append(condition("$\(binds.count)"))
        }
        if let policy = filter.policy { bind({ "policy = \($0)" }, policy) }
        if let since = filter.since { bind({ "time >= \($0)" }, HistoryTime.format(since)) }
        if let until = filter.until { bind({ "time < \($0)" }, HistoryTime.format(until)) }
        if !filter.kinds.isEmpty { bind({ "kind = ANY(\($0))" }, filter.kinds.map(\.rawValue)) }
        if let rotationId = filter.rotationId { bind({ "rotation_id = \($0)" }, rotationId) }
        if let seqs = filter.seqs {
            bind({ "seq >= \($0)" }, seqs.lowerBound)
            bind({ "seq <= \($0)" }, seqs.upperBound)
        }
        var sql = "SELECT \(PostgresRows.eventColumns) FROM events"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        if let limit = filter.limit {
            sql += " ORDER BY seq DESC LIMIT \(max(0, limit))"
        } else {
            sql += " ORDER BY seq"
        }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let events = try await run {
            var events: [HistoryEvent] = []
            for try await row in try await client.query(query, logger: logger) {
                events.append(try PostgresRows.event(row))
            }
            return events
        }
        return filter.limit == nil ? events : events.reversed()
    }

    public func head() async throws -> (seq: Int64, hash: String)? {
        try await run { try await client.withConnection { try await Self.head(on: $0, logger: logger) } }
    }

    public func chainHash(seq: Int64) async throws -> String? {
        try await run {
            try await client.query("SELECT hash FROM events WHERE seq = \(seq)", logger: logger).collect().first?
                .decode(String.self)
        }
    }

    /// Walks the chain in `seq` order, streaming, and recomputes every hash (``HashChain/Verifier``).
    public func verifyChain() async throws -> ChainVerification {
        try await run {
            let columns = ["seq"] + HashChain.columns.map(Self.column) + ["prev_hash", "hash"]
            let rows = try await client.query(
                PostgresQuery(unsafeSQL: "SELECT \(columns.joined(separator: ", ")) FROM events ORDER BY seq"),
                logger: logger
            )
            var verifier = HashChain.Verifier()
            for try await row in rows {
                let cells = row.makeRandomAccess()
                if let broken = verifier.check(
                    seq: try cells[0].decode(Int64.self),
                    fields: try (1...HashChain.columns.count).map { try cells[$0].decode(String?.self)?.utf8 },
                    prevHash: try cells[columns.count - 2].decode(String?.self)?.utf8,
                    hash: try cells[columns.count - 1].decode(String?.self)?.utf8
                ) {
                    return ChainVerification(checked: verifier.checked, firstBroken: broken)
                }
            }
            return ChainVerification(checked: verifier.checked, firstBroken: nil)
        }
    }

    /// The column of a chained field: `rotationId` is `rotation_id` here.
    static func column(_ field: String) -> String {
        field.reduce(into: "") { name, character in
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
    }
}
