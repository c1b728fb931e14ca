internal import ArgumentParser
internal import Foundation
internal import RotationHistory
internal import SCIMRotatorCore

extension SCIMRotator {
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Show the audit history: every rotation step, who caused it and why.",
            discussion: """
                Events are append-only and hash-chained (see `audit verify`). Times are UTC. --since/--until take \
                an ISO 8601 time or date, or a duration back from now (7d = seven days ago). --event may be given \
                several times; kinds: \(EventKind.known.map(\.rawValue).joined(separator: ", ")).

                Every deletion: `--event key.deleted` also lists `key.retired` (a key disabled and deleted to make \
                room at the key limit); `key.abandoned` marks a key created by a rotation that could not finish, \
                disabled and deleted on resume.

                Secrets are never recorded; keys created here carry an HMAC-SHA256 fingerprint under a random \
                per-database key, so "was this token ever issued here?" can be answered without storing it.
                """,
            subcommands: [Copy.self]
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table
            case json
            case csv
        }

        @OptionGroup var common: CommonOptions

        @Option(help: "Only this policy.")
        var policy: String?

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "From this time on (ISO 8601, date, or 7d or -7d for seven days ago).",
                valueName: "time"
            )
        )
        var since: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Before this time (same forms).", valueName: "time"))
        var until: String?

        @Option(help: "Only events of this kind (repeatable), e.g. rotation.completed.")
        var event: [String] = []

        @Option(help: "At most this many, the most recent.")
        var limit: Int?

        @Option(help: "table, json or csv.")
        var format: Format = .table

        func validate() throws {
            for kind in event where !EventKind.known.contains(EventKind(rawValue: kind)) {
                throw ValidationError(
                    "--event \(kind) is not an event kind; known: \(EventKind.known.map(\.rawValue).joined(separator: ", "))"
                )
            }
            if let limit, limit <= 0 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let now = Date()
            func time(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard
                    let date = Times.parse(
                        text.hasPrefix("-") || text.first?.isNumber == false
                            ? text : (text.contains("-") ? text : "-" + text),
                        now: now
                    )
                else {
                    throw ValidationError("--\(name) \(text): write an ISO 8601 time, a date, or a duration like 7d")
                }
                return date
            }
            let filter = EventFilter(
                policy: policy,
                since: try time(since, "since"),
                until: try time(until, "until"),
                kinds: Self.expand(event),
                limit: limit
            )
            let store = try await common.openStore(readOnly: true)
            let events = try await store.events(filter)
            switch format {
            case .json:
                Console.line(JSONOutput.render(events))
            case .csv:
                let header = "seq,time,policy,provider,zone,rotation_id,kind,key_id,actor,reason,request_id,detail,hash"
                let rows = events.map { e in
                    [
                        String(e.seq), e.time, e.policy, e.provider.rawValue, e.zone, e.rotationId ?? "",
                        e.kind.rawValue, e.keyId ?? "", e.actor.rawValue, e.reason ?? "", e.requestId ?? "",
                        e.detail ?? "", e.hash,
                    ].map(csv).joined(separator: ",")
                }
                Console.line(([header] + rows).joined(separator: "\n"))
            case .table:
                var table = TextTable(["TIME", "POLICY", "EVENT", "KEY", "ACTOR", "DETAIL"])
                for e in events {
                    var detail = e.reason ?? ""
                    if let extra = e.detail { detail += detail.isEmpty ? extra : " \(extra)" }
                    table.add([
                        String(e.time.prefix(19)) + "Z", e.policy, e.kind.rawValue, e.keyId ?? "-", e.actor.rawValue,
                        detail,
                    ])
                }
                Console.line(events.isEmpty ? "no events match" : table.render())
            }
        }

        /// A retirement deletes a key: asking for deletions also finds the keys retired at the limit.
        static func expand(_ kinds: [String]) -> [EventKind] {
            var expanded = kinds.map(EventKind.init(rawValue:))
            if expanded.contains(.keyDeleted), !expanded.contains(.keyRetired) { expanded.append(.keyRetired) }
            return expanded
        }

        func csv(_ field: String) -> String {
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
