import Foundation
import Logging
import PostgresNIO
import RotationHistory
import SCIMRotatorCore

/// How the history's records map to PostgreSQL rows. Events are columns (they are chained, queried and audited by
/// column); the journal's records are JSON (their Codable form, times as ``HistoryTime`` text) beside the columns
/// their queries filter and sort on, so that a new field needs no migration.
enum PostgresRows {
    static let eventColumns =
        "seq, time, policy, provider, zone, rotation_id, kind, key_id, actor, reason, request_id, detail, prev_hash, hash"

    /// Rows per INSERT statement (14 parameters each; PostgreSQL takes at most 65,535 parameters per statement).
    static let insertBatch = 2_000

    static func insert(_ events: [HistoryEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for start in stride(from: 0, to: events.count, by: insertBatch) {
            let chunk = events[start..<min(start + insertBatch, events.count)]
            var binds = PostgresBindings(capacity: chunk.count * 14)
            var values: [String] = []
            values.reserveCapacity(chunk.count)
            for (index, event) in chunk.enumerated() {
                values.append("(" + (1...14).map { "$\(index * 14 + $0)" }.joined(separator: ",") + ")")
                binds.append(event.seq)
                for field in [event.time, event.policy, event.provider.rawValue, event.zone] { binds.append(field) }
                binds.append(event.rotationId)
                binds.append(event.kind.rawValue)
                binds.append(event.keyId)
                binds.append(event.actor.rawValue)
                for field in [event.reason, event.requestId, event.detail] { binds.append(field) }
                binds.append(event.prevHash)
                binds.append(event.hash)
            }
            let sql = "INSERT INTO events (\(eventColumns)) VALUES " + values.joined(separator: ",")
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        }
    }

    static func event(_ row: PostgresRow) throws -> HistoryEvent {
        let (seq, time, policy, provider, zone, rotationId, kind, keyId, actor, reason, requestId, detail, prev, hash) =
            try row.decode(
                (
                    Int64, String, String, String, String, String?, String, String?, String, String?, String?,
                    String?, String, String
                ).self
            )
        return HistoryEvent(
            seq: seq,
            time: time,
            policy: policy,
            provider: ProviderKind(rawValue: provider) ?? .tencent,
            zone: zone,
            rotationId: rotationId,
            kind: EventKind(rawValue: kind),
            keyId: keyId,
            actor: Actor(rawValue: actor) ?? .scheduler,
            reason: reason,
            requestId: requestId,
            detail: detail,
            prevHash: prev,
            hash: hash
        )
    }

    // MARK: Journal

    /// Upserts the step's journal records (not its events).
    static func save(_ write: JournalWrite, on connection: PostgresConnection, logger: Logger) async throws {
        if let rotation = write.rotation {
            let record = try json(rotation)
            try await connection.query(
                """
                INSERT INTO rotations (id, policy, state, started_at, record)
                VALUES (\(rotation.id), \(rotation.policy), \(rotation.state.rawValue), \(rotation.startedAt),
                        \(record)::jsonb)
                ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, state = excluded.state,
                    started_at = excluded.started_at, record = excluded.record
                """,
                logger: logger
            )
        }
        for key in write.keys {
            let record = try json(key)
            try await connection.query(
                """
                INSERT INTO keys (policy, key_id, first_seen, record)
                VALUES (\(key.policy), \(key.keyId), \(key.firstSeen), \(record)::jsonb)
                ON CONFLICT (policy, key_id) DO UPDATE SET first_seen = excluded.first_seen, record = excluded.record
                """,
                logger: logger
            )
        }
        for sink in write.sinks {
            let record = try json(sink)
            try await connection.query(
                """
                INSERT INTO sinks (policy, sink, record) VALUES (\(sink.policy), \(sink.sink), \(record)::jsonb)
                ON CONFLICT (policy, sink) DO UPDATE SET record = excluded.record
                """,
                logger: logger
            )
        }
        if let state = write.policyState {
            let record = try json(state)
            try await connection.query(
                """
                INSERT INTO policy_state (policy, record) VALUES (\(state.policy), \(record)::jsonb)
                ON CONFLICT (policy) DO UPDATE SET record = excluded.record
                """,
                logger: logger
            )
        }
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(HistoryTime.format(date))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, json: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = HistoryTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text) is not a time")
            }
            return date
        }
        return try decoder.decode(type, from: Data(json.utf8))
    }

    /// The records a query's first column holds as JSON (`record::text`).
    static func records<T: Decodable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws -> [T] {
        var result: [T] = []
        for try await row in rows { result.append(try decode(type, json: try row.decode(String.self))) }
        return result
    }
}
