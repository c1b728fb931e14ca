import Foundation
import PostgresHistory
import RotationHistory
import Testing

@Suite("PostgreSQL URLs and password files (no server)")
struct PostgresURLTests {
    let environment = ["HOME": "/nonexistent", "USER": "os-user"]

    @Test("a URL as libpq reads it")
    func parse() throws {
        let url = try PostgresURL(
            "postgres://scim_daemon@db.example:6543/scim?sslmode=require&application_name=replica-1",
            environment: environment
        )
        #expect(url.user == "scim_daemon" && url.database == "scim" && url.port == 6543)
        #expect(url.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(url.sslMode == .require && url.applicationName == "replica-1")
        #expect(url.description == "postgres://scim_daemon@db.example:6543/scim")
        let defaults = try PostgresURL("postgresql:///history", environment: environment)
        #expect(defaults.user == "os-user" && defaults.port == 5432 && defaults.sslMode == .prefer)
        #expect(defaults.endpoint == .socket(directory: "/var/run/postgresql", port: 5432))
        #expect(PostgresURL.isURL("postgres://u@h/d") && !PostgresURL.isURL("./history.sqlite"))
    }

    @Test("a password in the URL is refused, without repeating it")
    func password() {
        for text in ["postgres://scim:hunter2@db/scim", "postgres://scim@db/scim?password=hunter2"] {
            let error = #expect(throws: HistoryError.self) { try PostgresURL(text, environment: environment) }
            #expect(error?.description.contains("PGPASSWORD") == true)
            #expect(error?.description.contains("hunter2") == false)
        }
    }

    @Test("bad URLs name what is wrong")
    func invalid() {
        for (text, expected) in [
            ("postgres://u@db/scim?sslmode=sometimes", "sslmode"),
            ("postgres://u@db:99999/scim", "port"),
            ("postgres://u@a,b/scim", "several hosts"),
            ("postgres://u@db/scim?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert"),
            ("postgres://u@db/scim?options=-csearch_path%3Dx", "unsupported URL parameter options"),
        ] {
            let error = #expect(throws: HistoryError.self) { try PostgresURL(text, environment: environment) }
            #expect(error?.description.contains(expected) == true, "\(text): \(String(describing: error))")
        }
    }
}
