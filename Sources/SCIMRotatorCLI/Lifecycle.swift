internal import Foundation
internal import Logging
internal import ServiceLifecycle
internal import UnixSignals

/// The one way the CLI runs long-lived work (daemon, demo, emulator): one `ServiceGroup` that shuts down gracefully
/// on SIGTERM and SIGINT. Services stop in the reverse order they were added, each after the one added after it has
/// returned: the scheduler finishes its step before the servers close.
enum Lifecycle {
    /// Runs `services` in one group; `started` runs beside them (it waits for a server to listen, prints, adds the
    /// services that need the server). An error from `started` shuts the group down and is rethrown.
    static func run(
        _ services: [any Service],
        logger: Logger,
        started: (ServiceGroup) async throws -> Void
    ) async throws {
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await started(group)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            try await tasks.waitForAll()
        }
    }

    /// Adds `service` so that its return (its work is done, or it stopped on shutdown) shuts the group down.
    static func add(_ service: any Service, to group: ServiceGroup) async {
        await group.addServiceUnlessShutdown(
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service,
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .cancelGroup
            )
        )
    }
}
