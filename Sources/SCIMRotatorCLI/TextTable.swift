internal import Foundation
internal import SCIMRotatorCore

/// Left-aligned columns for human output.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: [String]) {
        self.header = header
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

enum JSONOutput {
    /// Pretty, sorted JSON for `--format json`.
    static func render(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }
}

enum Times {
    /// `2027-01-31 08:00Z`.
    static func short(_ date: Date?) -> String { date.map(TimeText.minute) ?? "-" }

    /// `in 29d`, `3h ago`, `now`.
    static func relative(_ date: Date?, to now: Date) -> String {
        guard let date else { return "-" }
        let seconds = date.timeIntervalSince(now)
        if abs(seconds) < 60 { return "now" }
        let text = TimeText.span(abs(seconds))
        return seconds >= 0 ? "in \(text)" : "\(text) ago"
    }

    /// Parses `2027-01-31T08:00:00Z`, `2027-01-31`, or a duration from now (`30d`, `-7d` for the past).
    static func parse(_ text: String, now: Date) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle().year().month().day()) { return date }
        let negative = text.hasPrefix("-")
        let body = negative || text.hasPrefix("+") ? String(text.dropFirst()) : text
        if let span = TimeSpan(parsing: body)?.timeInterval { return now.addingTimeInterval(negative ? -span : span) }
        return nil
    }
}
