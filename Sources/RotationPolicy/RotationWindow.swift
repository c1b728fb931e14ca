import Foundation
import SCIMRotatorCore

/// A preferred time for scheduled rotations: some weekdays, from `start` to `end` in `timeZone`.
///
/// A window whose end is before its start crosses midnight (22:00–06:00); the day is the day it opens.
/// It is a preference, not a guarantee: the planner rotates outside it when less than half of `rotateBefore` remains.
public struct RotationWindow: Sendable, Equatable {
    public enum Weekday: String, Sendable, CaseIterable {
        case sun, mon, tue, wed, thu, fri, sat

        /// Calendar's weekday number (Sunday = 1).
        var number: Int { Weekday.allCases.firstIndex(of: self)! + 1 }
    }

    public var days: Set<Weekday>
    /// Minutes after local midnight.
    public var start: Int
    public var end: Int
    public var timeZone: TimeZone

    public init(days: Set<Weekday>, start: Int, end: Int, timeZone: TimeZone) {
        self.days = days
        self.start = start
        self.end = end
        self.timeZone = timeZone
    }

    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// Whether `date` falls inside the window.
    public func contains(_ date: Date) -> Bool {
        let calendar = calendar
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        guard let weekday = parts.weekday else { return false }
        if start < end {
            return days.contains { $0.number == weekday } && minute >= start && minute < end
        }
        // Crosses midnight: open from `start` on a listed day until `end` the next day.
        let previous = weekday == 1 ? 7 : weekday - 1
        return (days.contains { $0.number == weekday } && minute >= start)
            || (days.contains { $0.number == previous } && minute < end)
    }

    /// The first moment at or after `date` when the window is open; nil when no day is listed.
    public func nextOpening(atOrAfter date: Date) -> Date? {
        if contains(date) { return date }
        let calendar = calendar
        let startOfDay = calendar.startOfDay(for: date)
        for offset in 0...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: startOfDay) else { continue }
            let weekday = calendar.component(.weekday, from: day)
            guard days.contains(where: { $0.number == weekday }),
                let opening = calendar.date(byAdding: .minute, value: start, to: day), opening >= date
            else { continue }
            return opening
        }
        return nil
    }

    /// `mon,tue 09:00-17:00 Asia/Shanghai`.
    public var summary: String {
        let names = Weekday.allCases.filter(days.contains).map(\.rawValue).joined(separator: ",")
        func clock(_ minutes: Int) -> String { "\((minutes / 60).zeroPadded(2)):\((minutes % 60).zeroPadded(2))" }
        return "\(names) \(clock(start))-\(clock(end)) \(timeZone.identifier)"
    }
}
