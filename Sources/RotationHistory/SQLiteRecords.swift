import Foundation
import GRDB
import SCIMRotatorCore

// How the journal's records map to SQLite rows. Events are read and written by hand (the history's big queries
// read many of them); the others through their Codable conformance.

extension HistoryEvent: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "events"

    public init(row: Row) throws {
        self.init(
            seq: row["seq"],
            time: row["time"],
            policy: row["policy"],
            provider: ProviderKind(rawValue: row["provider"]) ?? .tencent,
            zone: row["zone"],
            rotationId: row["rotationId"],
            kind: EventKind(rawValue: row["kind"]),
            keyId: row["keyId"],
            actor: Actor(rawValue: row["actor"]) ?? .scheduler,
            reason: row["reason"],
            requestId: row["requestId"],
            detail: row["detail"],
            prevHash: row["prevHash"],
            hash: row["hash"]
        )
    }

    public func encode(to container: inout PersistenceContainer) throws {
        container["seq"] = seq
        container["time"] = time
        container["policy"] = policy
        container["provider"] = provider.rawValue
        container["zone"] = zone
        container["rotationId"] = rotationId
        container["kind"] = kind.rawValue
        container["keyId"] = keyId
        container["actor"] = actor.rawValue
        container["reason"] = reason
        container["requestId"] = requestId
        container["detail"] = detail
        container["prevHash"] = prevHash
        container["hash"] = hash
    }
}

extension RotationRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "rotations"
}

extension KeyRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "keys"
}

extension SinkRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sinks"
}

extension PolicyState: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "policyState"
}
