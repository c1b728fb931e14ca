import Foundation
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// A pass lists a zone once and carries the keys it knows through its steps (BENCHMARKS.md has the table).
@Suite("Cloud calls per rotation")
struct CallCountTests {
    @Test(
        "first contact and an emergency at the limit need one List; a due rotation lists once and creates once",
        arguments: ProviderKind.allCases
    )
    func calls(kind: ProviderKind) async throws {
        let list = kind == .tencent ? "ListSCIMCredentials" : "ListSCIMServerCredentials"
        let create = kind == .tencent ? "CreateSCIMCredential" : "CreateSCIMServerCredential"
        let update = kind == .tencent ? "UpdateSCIMCredentialStatus" : "UpdateSCIMServerCredentialStatus"
        let delete = kind == .tencent ? "DeleteSCIMCredential" : "DeleteSCIMServerCredential"
        let scenarios = Dictionary(
            try await CallCounts.measure(kind).map { ($0.name, $0.calls) },
            uniquingKeysWith: { a, _ in a }
        )
        #expect(scenarios["first contact (adopt, then rotate)"] == [list: 1, create: 1])
        #expect(scenarios["due rotation at the key limit"] == [list: 1, delete: 1, create: 1])
        // Retire the previous key (disable, delete), create, then disable the compromised one.
        #expect(scenarios["emergency at the key limit"] == [list: 1, update: 2, delete: 1, create: 1])
    }
}
