import Foundation
@_spi(Testing) import PostgresHistory
import Testing

/// `--db` with a PostgreSQL URL, end to end: the binary against the test script's server.
@Suite(
    "The command line on PostgreSQL",
    .enabled(
        if: ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL"] != nil,
        "PostgreSQL cases skipped: SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL is not set (scripts/test.sh starts a server)"
    ),
    .serialized
)
struct PostgresCLITests {
    static func head(_ output: CLI.Output) -> String? {
        output.stdout.split(separator: "\n").last { $0.hasPrefix("head ") }.map(String.init)
    }

    @Test("reconcile on SQLite, copy to PostgreSQL: the same head; then reconcile, history and audit on the URL")
    func copyAndRun() async throws {
        let admin = try #require(ProcessInfo.processInfo.environment["SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL"])
        let url = try await PostgresHistoryStore.unsafeFreshDatabase(adminURL: admin)
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        let sqliteAudit = try CLI.run(["audit", "verify"] + work.common)
        let sqliteHead = try #require(Self.head(sqliteAudit))

        let copy = try CLI.run(["history", "copy", "--from", work.db, "--to", url])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(Self.head(copy) == sqliteHead, "\(copy.stdout)")
        let onURL = ["--policies", work.policies, "--db", url]
        let audit = try CLI.run(["audit", "verify"] + onURL)
        #expect(audit.status == 0, "\(audit.stderr)")
        #expect(Self.head(audit) == sqliteHead)
        #expect(!audit.stdout.contains("SQLite"))
        let again = try CLI.run(["history", "copy", "--from", work.db, "--to", url])
        #expect(again.status == 0 && again.stdout.contains("0 records copied"), "\(again.stdout) \(again.stderr)")

        // The copy carried the journal: the next pass on PostgreSQL knows the current key and leaves it be.
        let status = try CLI.run(["status", "--format", "json"] + onURL, environment: emulator.environment)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"role\" : \"current\""))
        #expect(
            try CLI.run(["rotate", "test", "--reason", "on postgres"] + onURL, environment: emulator.environment).status
                == 0
        )
        let history = try CLI.run(["history", "--format", "csv"] + onURL)
        #expect(history.stdout.contains("on postgres"))
        #expect(try CLI.run(["audit", "verify"] + onURL).status == 0)

        // Another SQLite history does not join the one in PostgreSQL now.
        let other = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + other.common, environment: emulator.environment).status == 0)
        let refused = try CLI.run(["history", "copy", "--from", other.db, "--to", url])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("do not join"), "\(refused.stderr)")
    }

    @Test("a URL with a password is refused without echoing it; --help says where the password comes from")
    func password() throws {
        let refused = try CLI.run(["history", "--db", "postgres://scim:hunter2@127.0.0.1:1/scim"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("PGPASSWORD"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("hunter2"))
        let help = try CLI.run(["reconcile", "--help"])
        #expect(help.stdout.contains("PGPASSWORD") && help.stdout.contains("postgres://"))
        let unreachable = try CLI.run([
            "history", "--db", "postgres://scim@127.0.0.1:1/scim?sslmode=disable&connect_timeout=2",
        ])
        #expect(unreachable.status == 3)
        #expect(unreachable.stderr.contains("cannot reach"), "\(unreachable.stderr)")
    }
}
