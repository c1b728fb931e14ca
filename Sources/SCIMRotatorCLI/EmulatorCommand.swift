internal import ArgumentParser
internal import CloudEmulator
internal import Foundation
internal import Logging

extension SCIMRotator {
    struct Emulator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "emulator",
            abstract:
                "Run the local emulator of the three clouds' SCIM key APIs, their SCIM endpoints and an admin API.",
            discussion: """
                On start it prints exactly one JSON line to stdout that scripts can read, then serves until \
                SIGINT or SIGTERM (exit 0):

                  {"url": "http://127.0.0.1:PORT", "admin": "http://127.0.0.1:PORT/_emulator",
                   "tencent": {"zones": ["z-..."], "secretId": "...", "secretKey": "..."},
                   "alibaba": {"directories": ["d-..."], "accessKeyId": "...", "accessKeySecret": "..."},
                   "volcengine": {"account": "21...", "accessKey": "AKLT...", "secretKey": "..."}}

                It serves Tencent CIC (POST / with X-TC-Action, TC3-HMAC-SHA256), Alibaba CloudSSO (POST / with \
                x-acs-action or Action, ACS3-HMAC-SHA256 or RPC v1) and Volcano Engine CloudIdentity (POST \
                /?Action=..&Version=2023-01-01 with X-Date, HMAC-SHA256) on the same port, and the SCIM 2.0 endpoint \
                identity providers call at /scim/v2. Without --config it serves one demo zone, one demo directory, \
                one demo Volcano account and a demo access key for each. Point a policy's `endpoint:` at the URL and export the access key \
                in the variables the policy names. The admin API under /_emulator/ seeds keys, moves the virtual \
                clock and injects faults (see the README).
                """
        )

        @Option(help: "TCP port on 127.0.0.1; 0 picks a free one.")
        var port: Int = 8080

        @Option(help: "Address to listen on.")
        var host: String = "127.0.0.1"

        @Option(help: "YAML or JSON file describing zones, accounts, limits (see the README).")
        var config: String?

        @Option(help: "Milliseconds added to every cloud API call.")
        var latencyMs: Int?

        func validate() throws {
            guard (0...65_535).contains(port) else {
                throw ValidationError("--port \(port): a TCP port is 1-65535 (0 picks a free one)")
            }
            if let latencyMs, latencyMs < 0 { throw ValidationError("--latency-ms must not be negative") }
        }

        func run() async throws {
            var configuration = EmulatorConfiguration.demo
            if let config {
                do {
                    configuration = try EmulatorConfiguration.load(path: config)
                } catch {
                    throw ValidationError("\(error)")
                }
            }
            if let latencyMs { configuration.latencyMs = latencyMs }
            let emulator = CloudEmulator.Emulator(configuration: configuration)
            let server = EmulatorServer(emulator: emulator, host: host, port: port)
            try await Lifecycle.run([server], logger: Logger(label: "scim-rotator.emulator")) { _ in
                let url: URL
                do {
                    url = try await server.listening()
                } catch {
                    throw CLIError(
                        "cannot listen on \(host):\(port): \(error); pick another --port (0 picks a free one)"
                    )
                }
                Console.line(emulator.startupLine(url: url))
            }
        }
    }
}
