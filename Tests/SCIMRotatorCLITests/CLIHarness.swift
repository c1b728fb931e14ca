import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `scim-rotator` binary as a child process, the way operators and scripts do.
enum CLI {
    static let binary: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "scim-rotator"
        ).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/scim-rotator").path
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func process(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: String? = nil
    ) -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        return (process, out, err)
    }

    /// Runs to completion; `input` is written to its standard input (a pipe, closed after it).
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: String? = nil,
        input: String? = nil
    ) throws -> Output {
        let (process, out, err) = process(arguments, environment: environment, directory: directory)
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }
}

/// `scim-rotator emulator --port 0` as a child process.
final class EmulatorChild {
    let process: Process
    let info: [String: Any]
    var url: String { info["url"] as! String }
    var tencent: [String: Any] { info["tencent"] as! [String: Any] }
    var environment: [String: String] {
        [
            "TENCENTCLOUD_SECRET_ID": tencent["secretId"] as! String,
            "TENCENTCLOUD_SECRET_KEY": tencent["secretKey"] as! String,
        ]
    }

    init() throws {
        let (process, out, _) = CLI.process(["emulator", "--port", "0"])
        try process.run()
        self.process = process
        var text = ""
        out.read(into: &text, until: { $0.contains("\n") }, deadline: Date().addingTimeInterval(60))
        let line = Data(text.prefix { $0 != "\n" }.utf8)
        info = try JSONSerialization.jsonObject(with: line) as? [String: Any] ?? [:]
    }

    func admin(_ method: String, _ path: String, _ body: Any? = nil) throws -> Any {
        var request = URLRequest(url: URL(string: url + "/_emulator/" + path)!)
        request.httpMethod = method
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Data?
        URLSession.shared.dataTask(with: request) { data, _, _ in
            result = data
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return try JSONSerialization.jsonObject(with: result ?? Data("{}".utf8))
    }

    func zoneKeys() throws -> [[String: Any]] {
        let state = try admin("GET", "state") as? [String: Any]
        let zones = state?["zones"] as? [[String: Any]] ?? []
        return zones.first?["keys"] as? [[String: Any]] ?? []
    }

    func scimStatus(token: String) throws -> Int {
        var request = URLRequest(url: URL(string: url + "/scim/v2/Users?count=1")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status = 0
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return status
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

/// A scratch directory with a policy pointing at an emulator.
struct Workspace {
    let path: String
    var policies: String { path + "/policies" }
    var db: String { path + "/h.sqlite" }
    var token: String { path + "/out/test.token" }

    init(emulator: EmulatorChild, rotation: String = "keyLifetime: 90d, rotateBefore: 30d", extra: String = "") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path + "/policies", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/out", withIntermediateDirectories: true)
        try """
        provider: tencent
        zone: z-demo00000001
        endpoint: \(emulator.url)
        rotation: {\(rotation)}
        deliver:
          - file: {path: \(path)/out/test.token}
        \(extra)
        """.write(toFile: policies + "/test.yaml", atomically: true, encoding: .utf8)
    }

    var common: [String] { ["--policies", policies, "--db", db] }
}

extension CLI {
    /// A blocking GET, for checking a child process's HTTP endpoints.
    static func get(_ url: String) -> (status: Int, body: String) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result = (status: 0, body: "")
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return result
    }
}

extension Pipe {
    /// Appends what the child writes to `text` until `done(text)`, end of file or `deadline`. Each wait for output
    /// lasts at most 200 ms (poll) and a read follows only ready output, so a child that writes nothing cannot hold
    /// the caller past the deadline.
    func read(into text: inout String, until done: (String) -> Bool, deadline: Date) {
        let handle = fileHandleForReading
        while !done(text), Date() < deadline {
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let chunk = handle.availableData
            if chunk.isEmpty { return }
            text += String(decoding: chunk, as: UTF8.self)
        }
    }
}
