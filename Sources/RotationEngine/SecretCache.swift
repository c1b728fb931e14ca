import SCIMRotatorCore
import Synchronization

/// New keys' secrets while this process lives, by rotation id, so that a failed sink is retried with the same key
/// without reading it back. Never written anywhere: a crash loses it, and the readable sinks are the durable copy.
public final class SecretCache: Sendable {
    private let secrets = Mutex<[String: Secret]>([:])

    public init() {}

    func store(_ secret: Secret, rotation: String) {
        secrets.withLock { $0[rotation] = secret }
    }

    func secret(rotation: String) -> Secret? {
        secrets.withLock { $0[rotation] }
    }

    func forget(rotation: String) {
        _ = secrets.withLock { $0.removeValue(forKey: rotation) }
    }
}
