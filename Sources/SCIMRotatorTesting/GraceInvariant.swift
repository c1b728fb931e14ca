import Foundation
import RotationHistory
import SCIMRotatorCore

/// The invariant of a cloud without disable (``ProviderTraits/canDisable`` false): a previous key is deleted by the
/// schedule only once the grace period after the promotion that made it previous is over.
public enum GraceInvariant {
    /// Each scheduled deletion of a previous key that came before its grace period ended, in words.
    public static func violations(events: [HistoryEvent], grace: TimeSpan) -> [String] {
        var demoted: [String: Date] = [:]
        var found: [String] = []
        for event in events.sorted(by: { $0.seq < $1.seq }) {
            let detail = event.detail.flatMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
            }
            switch event.kind {
            case .keyPromoted:
                if let previous = detail?["previous"], let date = event.date { demoted[previous] = date }
            case .keyDeleted where event.actor == .scheduler && detail?["role"] == "previous":
                guard let keyId = event.keyId, let deleted = event.date, let since = demoted[keyId] else { continue }
                if deleted < since.addingTimeInterval(grace.timeInterval) {
                    found.append(
                        "previous key \(keyId) deleted \(HistoryTime.format(deleted)), before its grace period "
                            + "(\(grace)) after \(HistoryTime.format(since)) was over"
                    )
                }
            default: continue
            }
        }
        return found
    }
}
