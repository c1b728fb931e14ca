import AlibabaCloudSSO
import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore
import TencentCIC
import Transport
import VolcengineCloudIdentity

/// The clouds by ``ProviderKind``: the one place that turns a policy into its cloud's provider. The CLI's wiring and
/// the test harness both build their providers here; a new cloud is one more case.
public enum CloudProviders {
    /// The provider for `policy`'s zone. `endpoint` overrides the policy's (the demo and tests point every policy at
    /// an emulator); `tuning` shortens timeouts and retries in tests.
    public static func provider(
        for policy: Policy,
        credentials: CloudCredentials,
        transport: any HTTPTransport,
        clock: any RotatorClock,
        endpoint: URL? = nil,
        tuning: ClientTuning = ClientTuning(),
        store: any HistoryStore
    ) -> any SCIMKeyProvider {
        let setup = ProviderSetup(
            zone: policy.zone,
            keyLimit: policy.keyLimit,
            endpoint: endpoint ?? policy.endpoint,
            region: policy.region,
            apiTimeZone: policy.apiTimeZone,
            credentials: credentials,
            transport: transport,
            clock: clock,
            tuning: tuning
        )
        switch policy.provider {
        case .tencent: return TencentCICProvider(setup: setup)
        case .alibaba: return AlibabaCloudSSOProvider(setup: setup)
        case .volcengine: return VolcengineProvider(setup: setup)
        case .awsIdentityCenter:
            // No key API: the journal lists the keys; an emulator's endpoint serves the tenant's SCIM.
            return JournalKeysProvider(
                policy: policy,
                store: store,
                scimBaseURL: endpoint.map { $0.appendingPathComponent(policy.zone).appendingPathComponent("scim/v2") }
            )
        }
    }
}
