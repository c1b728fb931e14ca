import Foundation
@_spi(Testing) import PostgresHistory
@_spi(Testing) import RotationHistory
import Testing

/// The history backends the backend-neutral tests run against. PostgreSQL runs when `scripts/test.sh` started a
/// server and exported `SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL` (a role that may create databases; each test gets a
/// database of its own), `SCIM_ROTATOR_TEST_POSTGRES_URL` and `..._DAEMON_URL` (the owner and the daemon role of
/// database `scim`) and `PGPASSFILE`; `swift test` alone runs SQLite only, and says so.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static let environment = ProcessInfo.processInfo.environment
    static var adminURL: String? { environment["SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL"] }
    static var ownerURL: String? { environment["SCIM_ROTATOR_TEST_POSTGRES_URL"] }
    static var daemonURL: String? { environment["SCIM_ROTATOR_TEST_POSTGRES_DAEMON_URL"] }
    static var postgresConfigured: Bool { adminURL != nil && ownerURL != nil && daemonURL != nil }
    static let skipMessage =
        "PostgreSQL cases skipped: SCIM_ROTATOR_TEST_POSTGRES_ADMIN_URL is not set (scripts/test.sh starts a server)"

    /// Every backend this run can test.
    static var available: [Backend] { postgresConfigured ? [.sqlite, .postgres] : [.sqlite] }

    /// A new, empty history.
    func makeStore() async throws -> any HistoryStore {
        switch self {
        case .sqlite: return try SQLiteHistoryStore()
        case .postgres: return try await PostgresHistoryStore.open(try await Self.freshDatabase())
        }
    }

    /// A new, empty database; its URL.
    static func freshDatabase() async throws -> String {
        guard let adminURL else { throw HistoryError(skipMessage) }
        return try await PostgresHistoryStore.unsafeFreshDatabase(adminURL: adminURL)
    }
}

@Suite("Test backends")
struct BackendTests {
    @Test("PostgreSQL is configured for this run", .enabled(if: Backend.postgresConfigured, "\(Backend.skipMessage)"))
    func configured() {}

    @Test("CI always runs the PostgreSQL cases")
    func ciHasPostgres() {
        if Backend.environment["CI"] != nil, !Backend.postgresConfigured {
            Issue.record("CI=\(Backend.environment["CI"] ?? ""), but \(Backend.skipMessage)")
        }
    }
}
