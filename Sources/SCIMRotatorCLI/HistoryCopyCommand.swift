internal import ArgumentParser
internal import Foundation
internal import RotationHistory

extension SCIMRotator.History {
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy",
            abstract: "Copy a history into another database (SQLite into PostgreSQL) with its hash chain intact.",
            discussion: """
                Every record is copied as it is (same numbers, times and chain hashes), then the journal \\
                (rotations, keys, sinks, policy state), and the target is verified: `audit verify` prints the same \\
                head on both. The target must be empty, or hold an earlier copy of the same history (the chains \\
                join); anything else is refused before a record is written. Stop the daemons on both first.

                  scim-rotator history copy --from /var/lib/scim-rotator/history.sqlite \\
                    --to 'postgres://scim_owner@db.example:5432/scim?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem'

                --from and --to take what --db takes; PostgreSQL's password comes from PGPASSWORD or a password \\
                file (PGPASSFILE or ~/.pgpass), never from the URL.
                """
        )

        @Option(help: ArgumentHelp("The history to copy: a SQLite path or a PostgreSQL URL.", valueName: "path|url"))
        var from: String

        @Option(help: ArgumentHelp("Where to copy it: a SQLite path or a PostgreSQL URL.", valueName: "path|url"))
        var to: String

        func run() async throws {
            let source = try await HistoryDatabase.open(from, readOnly: true)
            let target = try await HistoryDatabase.open(to)
            let summary: HistoryCopy.Summary
            do {
                summary = try await HistoryCopy.copy(from: source, to: target)
            } catch let error as HistoryError {
                throw CLIError("history copy: \(error.description)", exitCode: 1)
            }
            let verification = try await target.verifyChain()
            if let broken = verification.firstBroken {
                throw CLIError(
                    "history copy: the target does not verify at record #\(broken.seq): \(broken.problem)",
                    exitCode: 1
                )
            }
            Console.line(
                "history copy: \(summary.copied) records copied (\(summary.alreadyThere) already there), \(summary.rotations) rotations, \(summary.policies) policies; the target's chain verifies (\(verification.checked) records)"
            )
            Console.line(
                summary.headSeq == 0 ? "head 0 (no records yet)" : "head \(summary.headSeq) \(summary.headHash)"
            )
        }
    }
}
