internal import ArgumentParser
internal import Foundation
internal import RotationHistory

extension SCIMRotator {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "Check the integrity of the history.",
            subcommands: [Verify.self]
        )

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify",
                abstract: "Re-check the history's SHA-256 hash chain and SQLite's integrity; print the head to anchor.",
                discussion: """
                    Each event stores the hash of the one before it and of its own fields. An edited, deleted or \\
                    reordered record breaks the chain from that point. SQLite's integrity check runs first: a damaged \\
                    page fails the audit too.

                    A chain cannot show that its newest records were removed (a whole emergency rotation, say): \\
                    on success the last line is `head SEQ HASH`, the newest record's sequence number and chain \\
                    hash. Keep it somewhere this machine cannot change (a log shipper, a ticket, another host; the \\
                    daemon also logs it and exports scim_rotator_audit_head_sequence), and later check the history \\
                    still contains it:

                      scim-rotator audit verify --anchor 1234:9f86d081884c7d65...

                    Exit status 0 when intact (and the anchor, if given, is still there); 1 naming the first broken \\
                    record, the failed integrity check or the missing anchor; 3 when the database cannot be opened.
                    """
            )

            @OptionGroup var common: CommonOptions

            @Option(
                help: ArgumentHelp(
                    "A head printed by an earlier audit (SEQ:HASH): fail unless record SEQ still has that chain hash.",
                    valueName: "seq:hash"
                )
            )
            var anchor: String?

            func validate() throws {
                if let anchor, Self.parseAnchor(anchor) == nil {
                    throw ValidationError(
                        "--anchor \(anchor): write SEQ:HASH as `audit verify` prints it (head 1234 9f86...), e.g. 1234:<64 hex digits>"
                    )
                }
            }

            static func parseAnchor(_ text: String) -> (seq: Int64, hash: String)? {
                let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, let seq = Int64(parts[0]), seq >= 1 else { return nil }
                let hash = parts[1].lowercased()
                guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit }) else { return nil }
                return (seq, hash)
            }

            func run() async throws {
                let store = try await common.openStore(readOnly: true)
                let storage = try await store.storageCheck()
                if let storage, !storage.problems.isEmpty {
                    let problems = storage.problems.prefix(5).map {
                        $0.split(whereSeparator: \.isNewline).joined(separator: " ")
                    }
                    throw CLIError(
                        "audit: the \(storage.name) check failed: the database is damaged (\(problems.joined(separator: "; "))); restore it from a backup",
                        exitCode: 1
                    )
                }
                let result = try await store.verifyChain()
                if let broken = result.firstBroken {
                    throw CLIError(
                        "audit: record #\(broken.seq) is broken: \(broken.problem) (\(result.checked) records read)",
                        exitCode: 1
                    )
                }
                let head = try await store.head()
                if let anchor = anchor.flatMap(Self.parseAnchor) {
                    guard let recorded = try await store.chainHash(seq: anchor.seq) else {
                        throw CLIError(
                            "audit: the anchor \(anchor.seq):\(anchor.hash.prefix(12))... is gone: record #\(anchor.seq) no longer exists (the history ends at #\(head?.seq ?? 0)); its newest records were removed or the database was replaced",
                            exitCode: 1
                        )
                    }
                    guard recorded == anchor.hash else {
                        throw CLIError(
                            "audit: the anchor does not match: record #\(anchor.seq) has chain hash \(recorded.prefix(12))..., not \(anchor.hash.prefix(12))...; the history up to it was rewritten",
                            exitCode: 1
                        )
                    }
                }
                Console.line(
                    "audit: \(result.checked) records, hash chain intact"
                        + (storage.map { ", \($0.name) ok" } ?? "")
                        + (anchor == nil ? "" : ", anchor present")
                )
                Console.line(head.map { "head \($0.seq) \($0.hash)" } ?? "head 0 (no records yet)")
            }
        }
    }
}
