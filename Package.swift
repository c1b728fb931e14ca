// swift-tools-version:6.1
import PackageDescription

// Libraries with one job each; `scim-rotator` is a thin executable over SCIMRotatorCLI.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "scim-rotator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scim-rotator", targets: ["scim-rotator"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(
            url: "https://github.com/hummingbird-project/hummingbird.git",
            from: "2.28.1",
            traits: ["FullFoundation"]
        ),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Domain types: SCIM keys, the provider seam, each cloud's traits, the retry classification, durations,
        // clocks, secrets, errors.
        .target(
            name: "SCIMRotatorCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // HTTP plumbing the cloud clients share: the transport seam (URLSession/libcurl; AsyncHTTPClient for private
        // CAs), the signed-API call loop over a per-cloud dialect, retry, rate limiting.
        .target(
            name: "Transport",
            dependencies: [
                "SCIMRotatorCore",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tencent Cloud Organization Identity Center (CIC) SCIM keys: TC3 signing, dialect, client, provider.
        .target(
            name: "TencentCIC",
            dependencies: ["SCIMRotatorCore", "Transport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Alibaba Cloud CloudSSO SCIM credentials: ACS3 (and RPC v1) signing, dialect, client, provider.
        .target(
            name: "AlibabaCloudSSO",
            dependencies: ["SCIMRotatorCore", "Transport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Volcano Engine CloudIdentity SCIM credentials: HMAC-SHA256 signing, dialect, client, provider (no disable).
        .target(
            name: "VolcengineCloudIdentity",
            dependencies: ["SCIMRotatorCore", "Transport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // AWS Signature Version 4 as botocore signs Secrets Manager and SSM calls (no AWS SDK): the AWS sinks sign with it.
        .target(
            name: "AWSSigV4",
            dependencies: ["SCIMRotatorCore", "Transport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The clouds by ProviderKind: a policy's provider built by its cloud's module (the CLI and the harness use it).
        .target(
            name: "CloudProviders",
            dependencies: [
                "SCIMRotatorCore", "Transport", "TencentCIC", "AlibabaCloudSSO", "VolcengineCloudIdentity",
                "RotationPolicy", "RotationHistory",
            ],
            swiftSettings: swiftSettings
        ),
        // The local emulator of the three clouds, their SCIM endpoints and an admin API (Hummingbird).
        .target(
            name: "CloudEmulator",
            dependencies: [
                "SCIMRotatorCore", "Transport", "TencentCIC", "AlibabaCloudSSO", "VolcengineCloudIdentity",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Policies: the YAML users write, validated with located errors before anything runs.
        .target(
            name: "RotationPolicy",
            dependencies: ["SCIMRotatorCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The audit history and rotation journal: a store protocol and its SQLite implementation (GRDB).
        .target(
            name: "RotationHistory",
            dependencies: [
                "SCIMRotatorCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The same history on PostgreSQL (postgres-nio), for replicas sharing one database.
        .target(
            name: "PostgresHistory",
            dependencies: [
                "RotationHistory", "SCIMRotatorCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Starts an exec sink's program in its own process group, tied to this process's life (fork, setpgid,
        // PR_SET_PDEATHSIG and a supervising lifeline: what Foundation's Process and posix_spawn cannot do).
        .target(name: "CSpawn"),
        // Where new keys go before promotion (file, exec, Vault, Entra ID, Kubernetes, Okta, manual) and the SCIM
        // check that proves them first.
        .target(
            name: "Delivery",
            dependencies: [
                "SCIMRotatorCore", "Transport", "CSpawn", "AWSSigV4", .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Webhook notifications (JSON or Slack) for failures, blocks, stuck policies, emergencies, expiring keys.
        .target(
            name: "Notifications",
            dependencies: [
                "SCIMRotatorCore", "Transport", "RotationPolicy", "RotationHistory",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The rotation: a pure planner, a journaled executor, and the Dispatch-timer scheduler.
        .target(
            name: "RotationEngine",
            dependencies: [
                "SCIMRotatorCore", "RotationPolicy", "RotationHistory", "Delivery",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Running it for years: Prometheus metrics, /healthz and /readyz over HTTP, JSON logs.
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What tests share: a harness of emulator, provider, store and runner on one virtual clock.
        .target(
            name: "SCIMRotatorTesting",
            dependencies: [
                "SCIMRotatorCore", "Transport", "CloudProviders", "CloudEmulator",
                "RotationPolicy", "RotationHistory", "Delivery", "RotationEngine", "Notifications",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line interface: every subcommand as a small ParsableCommand.
        .target(
            name: "SCIMRotatorCLI",
            dependencies: [
                "SCIMRotatorCore", "Transport", "CloudProviders", "CloudEmulator", "RotationPolicy", "RotationHistory",
                "PostgresHistory", "Delivery", "RotationEngine", "Notifications", "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "scim-rotator",
            dependencies: ["SCIMRotatorCLI"],
            swiftSettings: swiftSettings
        ),
        // Benchmarks against the rate limits, an ideal schedule and a Python SDK loop (run in release mode).
        .executableTarget(
            name: "scim-rotator-bench",
            dependencies: [
                "SCIMRotatorCLI", "SCIMRotatorCore", "CloudEmulator", "RotationEngine", "RotationHistory",
                "RotationPolicy", "SCIMRotatorTesting",
                "Transport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["baseline"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SCIMRotatorCoreTests",
            dependencies: ["SCIMRotatorCore", "Transport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TencentCICTests",
            dependencies: ["TencentCIC", "CloudEmulator", "SCIMRotatorCore", "Transport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RotationPolicyTests",
            dependencies: ["RotationPolicy", "SCIMRotatorCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RotationHistoryTests",
            dependencies: [
                "RotationHistory", "PostgresHistory", "SCIMRotatorCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RotationEngineTests",
            dependencies: [
                "RotationEngine", "SCIMRotatorTesting", "RotationHistory", "RotationPolicy", "SCIMRotatorCore",
                "Delivery", "CloudEmulator", "Transport", "Notifications", "AWSSigV4",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SCIMRotatorCLITests",
            dependencies: [
                "scim-rotator", "RotationHistory", "PostgresHistory", "SCIMRotatorCore", "AWSSigV4", "Delivery",
                "Transport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AlibabaCloudSSOTests",
            dependencies: ["AlibabaCloudSSO", "CloudEmulator", "SCIMRotatorCore", "Transport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VolcengineCloudIdentityTests",
            dependencies: ["VolcengineCloudIdentity", "CloudEmulator", "SCIMRotatorCore", "Transport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AWSSigV4Tests",
            dependencies: ["AWSSigV4", "SCIMRotatorCore", "Transport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeliveryTests",
            dependencies: [
                "Delivery", "SCIMRotatorTesting", "CloudEmulator", "SCIMRotatorCore", "Transport", "AWSSigV4",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "Observability", "RotationEngine", "RotationHistory", "RotationPolicy", "SCIMRotatorCore",
                "SCIMRotatorTesting",
                "Transport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CloudEmulatorTests",
            dependencies: [
                "CloudEmulator", "TencentCIC", "AlibabaCloudSSO", "VolcengineCloudIdentity", "SCIMRotatorCore",
                "Transport",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
