import Foundation
import SCIMRotatorCore

/// CIC writes times as `YYYY-MM-DD HH:MM:SS` with no zone (reference §1.8).
///
/// The zone is not documented; Tencent Cloud China APIs use Beijing time, so that is the default. This is the one
/// place that assumption lives: a policy can override it with `apiTimeZone`.
public enum TencentTime {
    /// Beijing time, UTC+8 (no daylight saving).
    public static let defaultZone = TimeZone(secondsFromGMT: 8 * 3_600)!

    public static func parse(_ text: String, in zone: TimeZone = defaultZone) -> Date? {
        let scalars = Array(text.utf8)
        guard scalars.count == 19, scalars[4] == 45, scalars[7] == 45, scalars[10] == 32, scalars[13] == 58,
            scalars[16] == 58
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let c = scalars[index]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = CivilDate.days(year: year, month: month, day: day)
        let local = Double(days * 86_400 + hour * 3_600 + minute * 60 + second)
        let guess = Date(timeIntervalSince1970: local)
        let offset = zone.secondsFromGMT(for: guess.addingTimeInterval(-Double(zone.secondsFromGMT(for: guess))))
        return Date(timeIntervalSince1970: local - Double(offset))
    }

    public static func format(_ date: Date, in zone: TimeZone = defaultZone) -> String {
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date)
        let days = Int((Double(local) / 86_400).rounded(.down))
        let secondsOfDay = local - days * 86_400
        return CivilDate.string(fromDays: days) + " "
            + "\((secondsOfDay / 3_600).zeroPadded(2)):\((secondsOfDay % 3_600 / 60).zeroPadded(2)):"
            + "\((secondsOfDay % 60).zeroPadded(2))"
    }
}
