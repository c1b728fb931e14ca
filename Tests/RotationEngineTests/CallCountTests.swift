import Foundation
import SCIMRotatorCore
import SCIMRotatorTesting
import Testing

/// A pass lists a zone once and carries the keys it knows through its steps (BENCHMARKS.md has the table).
@Suite("Cloud calls per rotation")
struct CallCountTests {
    @Test(
        "first contact and an emergency at the limit need one List; a due rotation lists once and creates once",
        arguments: ProviderKind.withKeyAPI
    )
    func calls(kind: ProviderKind) async throws {
        let h = try RotationHarness(provider: kind)
        let (list, create, delete) = (h.listAction, h.createAction, h.deleteAction)
        let scenarios = Dictionary(
            try await CallCounts.measure(kind).map { ($0.name, $0.calls) },
            uniquingKeysWith: { a, _ in a }
        )
        #expect(scenarios["first contact (adopt, then rotate)"] == [list: 1, create: 1])
        if let update = h.statusAction {
            #expect(scenarios["due rotation at the key limit"] == [list: 1, delete: 1, create: 1])
            // Retire the previous key (disable, delete), create, then disable the compromised one.
            #expect(scenarios["emergency at the key limit"] == [list: 1, update: 2, delete: 1, create: 1])
        } else {
            // Without disable the previous key was deleted when its grace ended: the zone is below its limit.
            #expect(scenarios["due rotation at the key limit"] == [list: 1, create: 1])
            // Retire (delete) the previous key, create, then delete the compromised one.
            #expect(scenarios["emergency at the key limit"] == [list: 1, delete: 2, create: 1])
        }
    }
}
