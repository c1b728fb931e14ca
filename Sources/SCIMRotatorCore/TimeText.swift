import Foundation

/// Times and spans as people read them in reasons, tables and logs: UTC, to the minute.
public enum TimeText {
    /// `2027-01-31 08:00Z`.
    public static func minute(_ date: Date) -> String {
        let text = date.formatted(Date.ISO8601FormatStyle())
        return String(text.prefix(16)).replacingOccurrences(of: "T", with: " ") + "Z"
    }

    /// `29d` (from two days up), `3h`, `5m`; negative spans get a `-`.
    public static func span(_ seconds: Double) -> String {
        if seconds < 0 { return "-" + span(-seconds) }
        if seconds >= 2 * 86_400 { return "\(Int(seconds / 86_400))d" }
        if seconds >= 3_600 { return "\(Int(seconds / 3_600))h" }
        return "\(Int(seconds / 60))m"
    }
}
