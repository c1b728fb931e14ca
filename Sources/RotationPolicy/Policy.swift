import Foundation
import SCIMRotatorCore

/// One zone's rotation policy, as written in `policies/NAME.yaml` (see the README for every key).
public struct Policy: Sendable {
    /// `name:` or the file name without extension.
    public var name: String
    /// The file it was read from (for messages).
    public var file: String
    public var provider: ProviderKind
    /// Tencent ZoneId (`z-...`) or Alibaba DirectoryId (`d-...`).
    public var zone: String
    /// The cloud API endpoint; nil means the provider's public endpoint.
    public var endpoint: URL?
    public var region: String?
    /// Names of the environment variables that hold this zone's access key.
    public var credentials: CloudCredentials.EnvironmentNames
    /// Tencent only: the zone CIC's zone-less times are read in (`apiTimeZone: "+08:00"` or an IANA name).
    public var apiTimeZone: TimeZone?
    /// Keys a zone may hold, disabled ones included (both clouds: 2).
    public var keyLimit: Int
    public var rotation: RotationSettings
    public var deliver: [DeliverySpec]
    public var verify: VerifySpec
    public var notify: [NotifySpec]

    public init(
        name: String,
        file: String = "<memory>",
        provider: ProviderKind,
        zone: String,
        endpoint: URL? = nil,
        region: String? = nil,
        credentials: CloudCredentials.EnvironmentNames? = nil,
        apiTimeZone: TimeZone? = nil,
        keyLimit: Int = 2,
        rotation: RotationSettings = RotationSettings(),
        deliver: [DeliverySpec] = [],
        verify: VerifySpec = VerifySpec(),
        notify: [NotifySpec] = []
    ) {
        self.name = name
        self.file = file
        self.provider = provider
        self.zone = zone
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials ?? provider.traits.defaultCredentials
        self.apiTimeZone = apiTimeZone
        self.keyLimit = keyLimit
        self.rotation = rotation
        self.deliver = deliver
        self.verify = verify
        self.notify = notify
    }

    /// The lifetime new keys get: the policy's, or the cloud's fixed one year.
    public var effectiveKeyLifetime: TimeSpan { rotation.keyLifetime ?? provider.traits.defaultKeyLifetime }
}

/// When and how keys rotate (`rotation:`).
public struct RotationSettings: Sendable, Equatable {
    /// ExpireDuration of new keys (Tencent only); nil = the cloud's default of one year.
    public var keyLifetime: TimeSpan?
    /// Start a rotation when the current key has less than this left.
    public var rotateBefore: TimeSpan
    /// Also rotate when the current key is older than this.
    public var maxAge: TimeSpan?
    /// The previous key stays enabled this long after the new one is promoted.
    public var gracePeriod: TimeSpan
    /// Disabled keys are deleted this long after this tool disabled them; nil = never.
    public var deleteAfter: TimeSpan?
    /// A preferred time window for scheduled rotations.
    public var window: RotationWindow?
    /// Rotations start up to this much earlier than due, by an amount fixed per policy.
    public var jitter: TimeSpan?
    /// The first pause after a failed attempt; doubles per consecutive failure up to `maxBackoff`.
    public var minBackoff: TimeSpan
    public var maxBackoff: TimeSpan
    /// After this many consecutive failures the policy is flagged stuck.
    public var stuckAfter: Int
    /// `key.expiring` (and the `expiring` notification) fires when the current key has less than this left;
    /// nil = half of rotateBefore.
    public var warnBefore: TimeSpan?

    public var effectiveWarnBefore: TimeSpan { warnBefore ?? rotateBefore / 2 }

    public init(
        keyLifetime: TimeSpan? = nil,
        rotateBefore: TimeSpan = .days(30),
        maxAge: TimeSpan? = nil,
        gracePeriod: TimeSpan = .hours(24),
        deleteAfter: TimeSpan? = .days(7),
        window: RotationWindow? = nil,
        jitter: TimeSpan? = nil,
        minBackoff: TimeSpan = .minutes(5),
        maxBackoff: TimeSpan = .hours(6),
        stuckAfter: Int = 5
    ) {
        self.keyLifetime = keyLifetime
        self.rotateBefore = rotateBefore
        self.maxAge = maxAge
        self.gracePeriod = gracePeriod
        self.deleteAfter = deleteAfter
        self.window = window
        self.jitter = jitter
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
        self.stuckAfter = stuckAfter
    }
}

/// Where a new key goes before it is promoted (`deliver:`). Every sink must succeed.
public enum DeliverySpec: Sendable, Equatable {
    /// Atomic write + rename, `mode` (default 0600), parent directory fsynced.
    case file(path: String, mode: Int)
    /// Runs `command` with the secret on stdin (never in argv or the environment); non-zero exit fails.
    case exec(command: [String], timeout: TimeSpan)
    /// HashiCorp Vault KV v2.
    case vault(VaultSpec)
    /// Microsoft Entra ID provisioning secrets of a service principal.
    case entra(EntraSpec)
    /// One key of a Kubernetes Secret.
    case kubernetes(KubernetesSpec)
    /// An Okta app that accepts a token over the API (Org2Org).
    case okta(OktaSpec)
    /// A person pastes the key into the IdP and runs `scim-rotator confirm`.
    case manual(ManualSpec)
    /// A new version of an AWS Secrets Manager secret.
    case awsSecretsManager(AWSSecretsManagerSpec)
    /// An AWS Systems Manager Parameter Store `SecureString`.
    case awsSSMParameter(AWSSSMParameterSpec)

    /// A short description without secrets, for history and logs.
    public var summary: String {
        switch self {
        case .file(let path, _): return SinkLabel.file(path)
        case .exec(let command, _): return SinkLabel.exec(command)
        case .vault(let spec): return SinkLabel.vault(mount: spec.mount, path: spec.path)
        case .entra(let spec): return SinkLabel.entra(servicePrincipal: spec.servicePrincipalId)
        case .kubernetes(let spec):
            return SinkLabel.kubernetes(namespace: spec.namespace, name: spec.name, key: spec.key)
        case .okta(let spec): return SinkLabel.okta(appId: spec.appId)
        case .manual(let spec): return SinkLabel.manual(spec.file)
        case .awsSecretsManager(let spec):
            return SinkLabel.awsSecretsManager(secretId: spec.secretId, region: spec.region)
        case .awsSSMParameter(let spec): return SinkLabel.awsSSMParameter(name: spec.name, region: spec.region)
        }
    }

    /// Environment variables this sink reads (for `policy check`).
    public var environmentNames: [String] {
        switch self {
        case .vault(let spec): return [spec.tokenEnv, spec.roleIdEnv, spec.secretIdEnv].compactMap { $0 }
        case .entra(let spec): return [spec.clientSecretEnv]
        case .kubernetes(let spec): return [spec.tokenEnv].compactMap { $0 }
        case .okta(let spec): return [spec.apiTokenEnv]
        case .awsSecretsManager(let spec): return [spec.credentials.idEnv, spec.credentials.secretEnv]
        case .awsSSMParameter(let spec): return [spec.credentials.idEnv, spec.credentials.secretEnv]
        default: return []
        }
    }
}

public struct VaultSpec: Sendable, Equatable {
    public var address: URL
    public var mount: String
    public var path: String
    public var namespace: String?
    /// A Vault token (default VAULT_TOKEN), unless AppRole is configured.
    public var tokenEnv: String?
    public var roleIdEnv: String?
    public var secretIdEnv: String?
    public var authMount: String

    public init(
        address: URL,
        mount: String = "secret",
        path: String,
        namespace: String? = nil,
        tokenEnv: String? = "VAULT_TOKEN",
        roleIdEnv: String? = nil,
        secretIdEnv: String? = nil,
        authMount: String = "approle"
    ) {
        self.address = address
        self.mount = mount
        self.path = path
        self.namespace = namespace
        self.tokenEnv = tokenEnv
        self.roleIdEnv = roleIdEnv
        self.secretIdEnv = secretIdEnv
        self.authMount = authMount
    }
}

public struct EntraSpec: Sendable, Equatable {
    public var tenantId: String
    public var servicePrincipalId: String
    public var clientId: String
    public var clientSecretEnv: String
    /// BaseAddress; nil = the provider's SCIM URL.
    public var scimURL: URL?
    public var loginEndpoint: URL?
    public var graphEndpoint: URL?

    public init(
        tenantId: String,
        servicePrincipalId: String,
        clientId: String,
        clientSecretEnv: String,
        scimURL: URL? = nil,
        loginEndpoint: URL? = nil,
        graphEndpoint: URL? = nil
    ) {
        self.tenantId = tenantId
        self.servicePrincipalId = servicePrincipalId
        self.clientId = clientId
        self.clientSecretEnv = clientSecretEnv
        self.scimURL = scimURL
        self.loginEndpoint = loginEndpoint
        self.graphEndpoint = graphEndpoint
    }
}

public struct KubernetesSpec: Sendable, Equatable {
    public var namespace: String
    public var name: String
    public var key: String
    /// Out of cluster: a kubeconfig file (its current context). Neither this nor `server`: in-cluster.
    public var kubeconfig: String?
    /// An explicit API server (with `tokenEnv`), e.g. a local test server.
    public var server: URL?
    public var tokenEnv: String?

    public init(
        namespace: String,
        name: String,
        key: String,
        kubeconfig: String? = nil,
        server: URL? = nil,
        tokenEnv: String? = nil
    ) {
        self.namespace = namespace
        self.name = name
        self.key = key
        self.kubeconfig = kubeconfig
        self.server = server
        self.tokenEnv = tokenEnv
    }
}

public struct OktaSpec: Sendable, Equatable {
    public var orgURL: URL
    public var appId: String
    public var apiTokenEnv: String
    public var scimURL: URL?

    public init(orgURL: URL, appId: String, apiTokenEnv: String, scimURL: URL? = nil) {
        self.orgURL = orgURL
        self.appId = appId
        self.apiTokenEnv = apiTokenEnv
        self.scimURL = scimURL
    }
}

/// `aws-secrets-manager: {secretId, region, key, endpoint, credentials}`.
public struct AWSSecretsManagerSpec: Sendable, Equatable {
    /// The secret's name or ARN; it must exist.
    public var secretId: String
    public var region: String
    /// nil: the secret's value is the key alone; else a JSON object with the key in this field, plus `credentialId`
    /// and `expiresAt`.
    public var key: String?
    /// Instead of `https://secretsmanager.<region>.amazonaws.com` (a VPC endpoint, a test server).
    public var endpoint: URL?
    /// The variables holding the access key (default AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
    public var credentials: CloudCredentials.EnvironmentNames

    public init(
        secretId: String,
        region: String,
        key: String? = nil,
        endpoint: URL? = nil,
        credentials: CloudCredentials.EnvironmentNames = AWSSinkCredentials.defaultNames
    ) {
        self.secretId = secretId
        self.region = region
        self.key = key
        self.endpoint = endpoint
        self.credentials = credentials
    }
}

/// `aws-ssm-parameter: {name, region, kmsKeyId, endpoint, credentials}`.
public struct AWSSSMParameterSpec: Sendable, Equatable {
    public var name: String
    public var region: String
    /// nil: the account's default key for SSM (`alias/aws/ssm`).
    public var kmsKeyId: String?
    /// Instead of `https://ssm.<region>.amazonaws.com`.
    public var endpoint: URL?
    public var credentials: CloudCredentials.EnvironmentNames

    public init(
        name: String,
        region: String,
        kmsKeyId: String? = nil,
        endpoint: URL? = nil,
        credentials: CloudCredentials.EnvironmentNames = AWSSinkCredentials.defaultNames
    ) {
        self.name = name
        self.region = region
        self.kmsKeyId = kmsKeyId
        self.endpoint = endpoint
        self.credentials = credentials
    }
}

/// The environment variables the AWS sinks read their access key from unless `credentials:` names others.
public enum AWSSinkCredentials {
    public static let defaultNames = CloudCredentials.EnvironmentNames(
        idEnv: "AWS_ACCESS_KEY_ID",
        secretEnv: "AWS_SECRET_ACCESS_KEY",
        tokenEnv: "AWS_SESSION_TOKEN"
    )
}

public struct ManualSpec: Sendable, Equatable {
    public var file: String
    public var mode: Int
    public var instructions: String

    public init(file: String, mode: Int = 0o600, instructions: String) {
        self.file = file
        self.mode = mode
        self.instructions = instructions
    }
}

/// What a webhook is told about. Raw values are the policy's spelling (a contract).
public enum NotificationKind: String, Sendable, CaseIterable, Codable {
    case failure
    case blocked
    case stuck
    case emergency
    case expiring
    case success
    /// A manual delivery waits for `scim-rotator confirm`.
    case confirm
    /// A person must act in an issuer's console (one without a key API): make the new token and hand it over, or
    /// delete the previous one.
    case action
}

/// A webhook (`notify: - webhook: {...}`).
public struct NotifySpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case json
        case slack
    }

    public var url: URL?
    /// The URL from an environment variable (Slack webhook URLs are themselves secrets).
    public var urlEnv: String?
    public var on: Set<NotificationKind>
    public var format: Format
    /// Sent as the `Authorization` header value.
    public var authorizationEnv: String?

    public static let defaultKinds: Set<NotificationKind> = [
        .failure, .blocked, .stuck, .emergency, .expiring, .confirm, .action,
    ]

    public init(
        url: URL? = nil,
        urlEnv: String? = nil,
        on: Set<NotificationKind> = defaultKinds,
        format: Format = .json,
        authorizationEnv: String? = nil
    ) {
        self.url = url
        self.urlEnv = urlEnv
        self.on = on
        self.format = format
        self.authorizationEnv = authorizationEnv
    }
}

/// How a new key is proven to work before anyone gets it (`verify:`).
public struct VerifySpec: Sendable, Equatable {
    /// The SCIM base URL (ending in `/scim/v2`); nil = the provider's.
    public var scimURL: URL?
    /// Attempts of the authenticated GET before the key is declared broken (propagation).
    public var attempts: Int
    /// Pause between attempts.
    public var interval: TimeSpan
    /// How often the current key is proven against the SCIM endpoint (`verify.current`, default 6h; nil = never),
    /// with its secret read back from a readable sink: a key that stopped working is reported, not discovered by
    /// the identity provider. Every pass that lists the zone checks it too.
    public var current: TimeSpan?

    public init(
        scimURL: URL? = nil,
        attempts: Int = 5,
        interval: TimeSpan = TimeSpan(seconds: 2),
        current: TimeSpan? = .hours(6)
    ) {
        self.scimURL = scimURL
        self.attempts = attempts
        self.interval = interval
        self.current = current
    }
}
