import Foundation
import SCIMRotatorCore
import Yams

/// The `rotation` and `window` sections of a policy.
extension PolicyLoader {
    static func readRotation(
        _ entries: [String: Node],
        node: Node,
        provider: ProviderKind?,
        reader: inout PolicyReader
    ) -> RotationSettings {
        var settings = RotationSettings()
        settings.keyLifetime = reader.duration(entries["keyLifetime"], "rotation.keyLifetime")
        if entries["keyLifetime"] != nil, let fix = provider?.traits.inapplicablePolicyKeys["rotation.keyLifetime"] {
            reader.issue(entries["keyLifetime"], "rotation.keyLifetime", fix)
        }
        if let lifetime = settings.keyLifetime {
            if lifetime < .hours(1) || lifetime > .days(99 * 365) {
                reader.issue(
                    entries["keyLifetime"],
                    "rotation.keyLifetime",
                    "must be between 1h and 99 years (the cloud's ExpireDuration range)"
                )
            }
        }
        settings.rotateBefore =
            reader.duration(entries["rotateBefore"], "rotation.rotateBefore") ?? settings.rotateBefore
        settings.maxAge = reader.duration(entries["maxAge"], "rotation.maxAge")
        settings.gracePeriod =
            reader.duration(entries["gracePeriod"], "rotation.gracePeriod", allowZero: true) ?? settings.gracePeriod
        if let deleteNode = entries["deleteAfter"] {
            if let fix = provider?.traits.inapplicablePolicyKeys["rotation.deleteAfter"] {
                reader.issue(deleteNode, "rotation.deleteAfter", fix)
            }
            if deleteNode.string == "never" {
                settings.deleteAfter = nil
            } else {
                settings.deleteAfter =
                    reader.duration(deleteNode, "rotation.deleteAfter", allowZero: true) ?? settings.deleteAfter
            }
        }
        settings.jitter = reader.duration(entries["jitter"], "rotation.jitter", allowZero: true)
        settings.warnBefore = reader.duration(entries["warnBefore"], "rotation.warnBefore")
        settings.minBackoff = reader.duration(entries["minBackoff"], "rotation.minBackoff") ?? settings.minBackoff
        settings.maxBackoff = reader.duration(entries["maxBackoff"], "rotation.maxBackoff") ?? settings.maxBackoff
        settings.stuckAfter =
            reader.integer(entries["stuckAfter"], "rotation.stuckAfter", range: 1...1000) ?? settings.stuckAfter

        let lifetime = settings.keyLifetime ?? (provider ?? .tencent).traits.defaultKeyLifetime
        if settings.rotateBefore >= lifetime {
            reader.issue(
                entries["rotateBefore"] ?? node,
                "rotation.rotateBefore",
                "\(settings.rotateBefore) is not shorter than keyLifetime \(lifetime): every new key would be due at once and rotate forever; make rotateBefore shorter"
            )
        }
        if let maxAge = settings.maxAge, maxAge < .hours(1) {
            reader.issue(entries["maxAge"], "rotation.maxAge", "must be at least 1h")
        }
        if let jitter = settings.jitter, jitter >= settings.rotateBefore / 2 {
            reader.issue(
                entries["jitter"],
                "rotation.jitter",
                "\(jitter) must be less than half of rotateBefore (\(settings.rotateBefore / 2))"
            )
        }
        if settings.maxBackoff < settings.minBackoff {
            reader.issue(entries["maxBackoff"], "rotation.maxBackoff", "must not be shorter than minBackoff")
        }
        if let windowNode = entries["window"] {
            settings.window = readWindow(windowNode, reader: &reader)
        }
        return settings
    }

    static func readWindow(_ node: Node, reader: inout PolicyReader) -> RotationWindow? {
        guard
            let entries = reader.mapping(node, path: "rotation.window", allowed: ["days", "start", "end", "timezone"])
        else {
            return nil
        }
        var days = Set(RotationWindow.Weekday.allCases)
        if let list = reader.stringList(entries["days"], "rotation.window.days") {
            days = []
            for day in list {
                guard let weekday = RotationWindow.Weekday(rawValue: day.lowercased().prefix(3).description),
                    day.count >= 3
                else {
                    reader.issue(
                        entries["days"],
                        "rotation.window.days",
                        "`\(day)` is not a weekday; use mon, tue, wed, thu, fri, sat, sun"
                    )
                    continue
                }
                days.insert(weekday)
            }
            if list.isEmpty {
                reader.issue(entries["days"], "rotation.window.days", "lists no day: the window would never open")
            }
        }
        func minutes(_ key: String) -> Int? {
            guard let node = entries[key] else {
                reader.issue(
                    node,
                    "rotation.window.\(key)",
                    "missing; write e.g. \(key): \"\(key == "start" ? "09:00" : "17:00")\""
                )
                return nil
            }
            guard let text = reader.string(node, "rotation.window.\(key)"),
                let match = text.firstMatch(of: /^(\d{1,2}):(\d{2})$/), let h = Int(match.1), let m = Int(match.2),
                h < 24 || (h == 24 && m == 0), m < 60
            else {
                reader.issue(node, "rotation.window.\(key)", "must be a time HH:MM in quotes, e.g. \"09:00\"")
                return nil
            }
            return h * 60 + m
        }
        let start = minutes("start")
        let end = minutes("end")
        var timeZone = TimeZone(identifier: "UTC")!
        if let text = reader.string(entries["timezone"], "rotation.window.timezone") {
            if let zone = parseTimeZone(text) {
                timeZone = zone
            } else {
                reader.issue(
                    entries["timezone"],
                    "rotation.window.timezone",
                    "`\(text)` is not a time zone; use an IANA name like Asia/Shanghai, UTC or +08:00"
                )
            }
        }
        guard let start, let end else { return nil }
        if start % (24 * 60) == end % (24 * 60) {
            reader.issue(
                node,
                "rotation.window",
                "start and end are the same time: the window has no hours; widen it, e.g. start: \"09:00\", end: \"17:00\""
            )
            return nil
        }
        return RotationWindow(days: days, start: start, end: end % (24 * 60), timeZone: timeZone)
    }
}
