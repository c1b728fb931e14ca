import Foundation
import RotationHistory
import Testing

@testable import PostgresHistory

@Suite("libpq password files")
struct PasswordFileTests {
    func file(_ text: String, mode: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID())").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test("the first matching line wins; * matches anything; \\: escapes; PGPASSWORD comes first")
    func lookup() throws {
        let path = try file(
            """
            # comment
            127.0.0.1:5432:other:scim:wrong
            127.0.0.1:5432:scim:scim:pa\\:ss\\\\word
            *:*:*:scim:fallback
            """,
            mode: 0o600
        )
        let url = try PostgresURL("postgres://scim@127.0.0.1:5432/scim", environment: [:])
        #expect(try url.password(environment: ["PGPASSFILE": path]) == "pa:ss\\word")
        #expect(try url.password(environment: ["PGPASSFILE": path, "PGPASSWORD": "env"]) == "env")
        let elsewhere = try PostgresURL("postgres://scim@db.example/history", environment: [:])
        #expect(try elsewhere.password(environment: ["PGPASSFILE": path]) == "fallback")
        let nobody = try PostgresURL("postgres://nobody@db.example/history", environment: [:])
        #expect(try nobody.password(environment: ["PGPASSFILE": path]) == nil)
    }

    @Test("a password file others can read is refused, naming the fix")
    func insecure() throws {
        let path = try file("*:*:*:*:secret\n", mode: 0o644)
        let url = try PostgresURL("postgres://scim@db/scim", environment: [:])
        let error = #expect(throws: HistoryError.self) { try url.password(environment: ["PGPASSFILE": path]) }
        #expect(error?.description.contains("chmod 600") == true)
        #expect(error?.description.contains("secret") == false)
    }
}
