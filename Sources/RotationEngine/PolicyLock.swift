import Foundation
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A policy's lock file (`<db>.locks/<policy>.lock`): held while one process changes the policy's zone or journal, so
/// that two processes (daemon, reconcile, rotate, confirm, sync) never work on the same zone at once.
///
/// The one place that takes it is ``exclusive(_:)``, which every operation that changes a zone or its journal runs
/// through (``PolicyRunner/pass(request:)``, ``PolicyRunner/confirm(reason:)``, ``SyncSwitch/set(_:reason:)``).
public struct PolicyLock: Sendable {
    /// Nil for an in-memory database: nothing to lock.
    public let path: String?
    /// How long to wait for another process's work on the policy, in seconds.
    public let wait: Double

    public init(database: String, policy: String, wait: Double = 60) {
        self.path = PolicyLocks.path(database: database, policy: policy)
        self.wait = wait
    }

    /// Another process kept the policy's lock for longer than ``wait``.
    public struct Busy: Error, CustomStringConvertible {
        public var held: FileLock.Held
        public var description: String { "another scim-rotator is working on this policy (\(held)); try again later" }
    }

    /// Runs `body` holding the lock (waiting for it without blocking a thread); throws ``Busy``, or why the lock file
    /// cannot be opened, without running `body`.
    public func exclusive<T>(
        isolation: isolated (any _Concurrency.Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        guard let path else { return try await body() }
        switch try await FileLock.acquire(path: path, wait: wait) {
        case .success(let lock):
            defer { withExtendedLifetime(lock) {} }
            return try await body()
        case .failure(let held):
            throw Busy(held: held)
        }
    }
}

extension PolicyRunner {
    /// Runs `body` holding the policy's lock; when the lock is busy or cannot be opened, a failed result that looks
    /// again in a minute.
    func exclusive(_ body: () async -> PassResult) async -> PassResult {
        guard let lock else { return await body() }
        do {
            return try await lock.exclusive { await body() }
        } catch {
            return PassResult(
                policy: policy.name,
                outcome: .failed,
                message: "\(error)",
                nextCheck: clock.now().addingTimeInterval(60),
                rotations: []
            )
        }
    }
}

/// Lock files beside the database, named after the file the database path resolves to: a symlink (or `./x`, or
/// `dir/../x`) to the same database takes the same locks.
public enum PolicyLocks {
    /// `<db>.locks/<policy>.lock`; nil for an in-memory database.
    public static func path(database: String, policy: String) -> String? {
        database == ":memory:" ? nil : "\(resolved(database)).locks/\(policy).lock"
    }

    /// `<db>.lock`, held by a running daemon.
    public static func daemonPath(database: String) -> String { "\(resolved(database)).lock" }

    /// The database file with every symlink resolved; for a file not created yet, its resolved directory and name.
    static func resolved(_ database: String) -> String {
        if let real = realPath(database) { return real }
        let directory = (database as NSString).deletingLastPathComponent
        let name = (database as NSString).lastPathComponent
        guard let real = realPath(directory.isEmpty ? "." : directory) else { return database }
        return (real as NSString).appendingPathComponent(name)
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
