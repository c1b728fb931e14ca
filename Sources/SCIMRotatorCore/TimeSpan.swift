/// A length of time written the way operators write it: `90d`, `36h`, `15m`, `1h30m`, `2w`, `45s`.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var seconds: Int64

    public init(seconds: Int64) {
        self.seconds = seconds
    }

    public static func days(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 86_400) }
    public static func hours(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 3_600) }
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(seconds: n * 60) }

    public var timeInterval: Double { Double(seconds) }

    /// Parses `90d`, `1h30m`, `2w3d`; units w, d, h, m, s; at least one unit; no sign, no spaces.
    public init?(parsing text: String) {
        let units: [Character: Int64] = ["w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1]
        var total: Int64 = 0
        var digits = ""
        var sawUnit = false
        var lastUnitRank = Int.max
        let rank: [Character: Int] = ["w": 5, "d": 4, "h": 3, "m": 2, "s": 1]
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
                guard digits.count <= 12 else { return nil }
            } else if let unit = units[character], let r = rank[character] {
                guard let number = Int64(digits), r < lastUnitRank else { return nil }
                let (product, overflow) = number.multipliedReportingOverflow(by: unit)
                guard !overflow else { return nil }
                let (sum, overflow2) = total.addingReportingOverflow(product)
                guard !overflow2 else { return nil }
                total = sum
                digits = ""
                sawUnit = true
                lastUnitRank = r
            } else {
                return nil
            }
        }
        guard sawUnit, digits.isEmpty else { return nil }
        self.seconds = total
    }

    /// The shortest spelling in the same units, `90d`, `1h30m`, `0s`.
    public var description: String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var parts = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            parts += "\(rest / size)\(unit)"
            rest %= size
        }
        return seconds < 0 ? "-" + TimeSpan(seconds: -seconds).description : parts
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.seconds < rhs.seconds }
    public static func + (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan { TimeSpan(seconds: lhs.seconds + rhs.seconds) }
    public static func - (lhs: TimeSpan, rhs: TimeSpan) -> TimeSpan { TimeSpan(seconds: lhs.seconds - rhs.seconds) }
    public static func / (lhs: TimeSpan, rhs: Int64) -> TimeSpan { TimeSpan(seconds: lhs.seconds / rhs) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            self.seconds = number
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = TimeSpan(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "not a duration like 90d, 36h, 15m or 1h30m: \(text)"
            )
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Int {
    /// The number in decimal, left-padded with zeros to `width` digits.
    public func zeroPadded(_ width: Int) -> String {
        let digits = String(Swift.abs(self))
        let padded = String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
        return self < 0 ? "-" + padded : padded
    }
}
