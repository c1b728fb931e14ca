import Crypto
import Foundation
import GRDB
@_spi(Testing) import RotationHistory
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bad arguments and bad databases: each gives a clear message and a non-zero exit, and no history is lost.
@Suite("Bad input", .serialized)
struct BadInputTests {
    static let arguments: [([String], String)] = [
        (["frobnicate"], "Unexpected argument"),
        (["status", "--format", "yaml"], "format"),
        (["history", "--format", "xml"], "format"),
        (["history", "--limit", "0"], "--limit must be at least 1"),
        (["history", "--since", "yesterday"], "--since yesterday"),
        (["history", "--event", "key.exploded"], "not an event kind"),
        (["plan", "--at", "soon"], "--at soon"),
        (["daemon", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["daemon", "--resync", "10s"], "at least 1m"),
        (["daemon", "--http", "nowhere"], "HOST:PORT"),
        (["reconcile", "--log-level", "loud"], "--log-level loud"),
        (["reconcile", "--log-format", "xml"], "--log-format xml"),
        (["rotate"], "Missing expected argument"),
        (["demo", "--duration", "forever"], "--duration forever"),
    ]

    @Test("bad arguments are refused with a message and a usage exit code", arguments: arguments)
    func badArguments(arguments: [String], words: String) throws {
        let output = try CLI.run(arguments)
        #expect(output.status != 0)
        #expect((output.stderr + output.stdout).contains(words), "\(arguments): \(output.stderr)")
    }

    static func digest(_ path: String) -> String {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    @Test("database problems: a clear message, exit 3, and the file untouched")
    func databases() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        let env = emulator.environment
        #expect(try CLI.run(["reconcile"] + work.common, environment: env).status == 0)

        // A directory that does not exist.
        let missing = try CLI.run(
            ["reconcile", "--policies", work.policies, "--db", "/nonexistent-\(UUID())/h.sqlite"],
            environment: env
        )
        #expect(missing.status == 3 && missing.stderr.contains("does not exist"), "\(missing.stderr)")

        // A corrupted file: refused, not overwritten.
        let corrupt = work.path + "/corrupt.sqlite"
        try Data((0..<8_192).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: corrupt))
        let before = Self.digest(corrupt)
        for command in [["reconcile"], ["history"], ["audit", "verify"]] {
            let output = try CLI.run(command + ["--policies", work.policies, "--db", corrupt], environment: env)
            #expect(output.status == 3 && output.stderr.contains("corrupted"), "\(command): \(output.stderr)")
        }
        #expect(Self.digest(corrupt) == before, "a corrupted database is never overwritten")

        // A database from a newer schema version.
        let store = try SQLiteHistoryStore(path: work.db)
        try store.unsafeExecute("INSERT INTO grdb_migrations (identifier) VALUES ('v9: from the future')")
        func contents() throws -> [String] {
            try DatabaseQueue(path: work.db).read { db in
                try String.fetchAll(db, sql: "SELECT hash FROM events ORDER BY seq")
                    + String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
            }
        }
        let stored = try contents()
        let newer = try CLI.run(["reconcile"] + work.common, environment: env)
        #expect(newer.status == 3 && newer.stderr.contains("newer scim-rotator"), "\(newer.stderr)")
        #expect(try contents() == stored, "a newer database is neither migrated nor written")
        #expect(stored.count > 6)

        // History in a database that does not exist yet.
        let none = try CLI.run(["history", "--db", work.path + "/none.sqlite"])
        #expect(none.status == 3 && none.stderr.contains("no history database"), "\(none.stderr)")
    }

    @Test("a read-only database file", .enabled(if: getuid() != 0, "root ignores file permissions"))
    func readOnly() throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        chmod(work.db, 0o444)
        chmod(work.path, 0o555)
        defer {
            chmod(work.path, 0o755)
            chmod(work.db, 0o644)
        }
        let output = try CLI.run(["rotate", "test"] + work.common, environment: emulator.environment)
        #expect(output.status != 0 && output.stderr.contains("read-only"), "\(output.stderr)")
        #expect(try CLI.run(["history"] + work.common).status == 0, "reading still works")
    }

    @Test("a database locked by another process: the second writer waits, then says so")
    func locked() async throws {
        let emulator = try EmulatorChild()
        let work = try Workspace(emulator: emulator)
        #expect(try CLI.run(["reconcile"] + work.common, environment: emulator.environment).status == 0)
        // Another process holds the per-policy lock: a rotation does not start, nothing is written.
        let lockPath = work.db + ".locks/test.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT, 0o600)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        let store = try SQLiteHistoryStore(path: work.db)
        let before = try await store.events(EventFilter()).count
        let output = try CLI.run(
            ["rotate", "test"] + work.common,
            environment: emulator.environment.merging(["SCIM_ROTATOR_LOCK_WAIT": "0.2"]) { _, new in new }
        )
        #expect(
            output.status == 1 && output.stdout.contains("another scim-rotator is working on this policy"),
            "\(output.stdout) \(output.stderr)"
        )
        #expect(try await store.events(EventFilter()).count == before)
    }
}
