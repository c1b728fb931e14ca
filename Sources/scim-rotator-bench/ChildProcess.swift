import Foundation
import RotationHistory
import SCIMRotatorCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Starting, watching and measuring the child processes the process benchmarks run (from /proc).
extension ProcessBenchmarks {
    /// CPU seconds (user + system) a process has used so far, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = readProc("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Peak resident set size (VmHWM) in MiB.
    static func peakRSS(_ pid: Int32) -> Double {
        guard let status = readProc("/proc/\(pid)/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "")
        else { return .nan }
        return kb / 1_024
    }

    /// Waits (up to 2 min) until a daemon started with `--http 127.0.0.1:0 --log-format json` answers /healthz
    /// (its first round, first contact with every zone, is done); returns its port.
    static func waitUntilHealthy(_ stderr: Pipe) throws -> String {
        var log = ""
        var port: String?
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if port == nil {
                log += String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self)
                port = log.firstMatch(of: /"address":"127\.0\.0\.1:(\d+)"/).map { String($0.1) }
            }
            if let port, get("http://127.0.0.1:\(port)/healthz").0 == 200 { return port }
            usleep(20_000)
        }
        throw BenchError("the daemon did not become healthy within 2 minutes: \(log)")
    }

    /// A procfs file, read to its end (they report size 0, so a read that trusts the size stops early).
    static func readProc(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Where the resident pages are now (MiB, from /proc/PID/smaps): private anonymous memory (heap, stacks, written
    /// data sections), and the clean file pages of the executable (with `--static-swift-stdlib` that includes the
    /// Swift runtime, Foundation and ICU data), of the Swift runtime libraries when linked dynamically, and of the
    /// system libraries (libc, libcurl, libcrypto, libsqlite3, ...).
    static func residentBreakdown(_ pid: Int32) -> (anon: Double, binary: Double, swift: Double, system: Double) {
        guard let smaps = readProc("/proc/\(pid)/smaps") else { return (.nan, .nan, .nan, .nan) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
        var totals = (anon: 0.0, binary: 0.0, swift: 0.0, system: 0.0)
        var mapping = ""
        var rss = 0.0
        func close() {
            if mapping.isEmpty || mapping.hasPrefix("[") {
                totals.anon += rss
            } else if mapping == executable {
                totals.binary += rss
            } else if mapping.contains("/swift/") {
                totals.swift += rss
            } else {
                totals.system += rss
            }
            rss = 0
        }
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first, fields.count > 1 else { continue }
            if first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                close()
                mapping = fields.count > 5 ? String(fields[5]) : ""
            } else if first == "Rss:", let kb = Double(fields[1]) {
                rss += kb / 1_024
            } else if first == "Anonymous:", let kb = Double(fields[1]) {
                // Copy-on-write pages of a file mapping are private memory, counted with the heap.
                totals.anon += kb / 1_024
                rss -= kb / 1_024
            }
        }
        close()
        return totals
    }

    static func spawn(
        _ binary: String,
        _ arguments: [String],
        environment: [String: String]
    ) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func get(_ url: String) -> (Int, Data) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result = (0, Data())
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return result
    }

    static func post(_ url: String, _ body: Any) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        let semaphore = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { _, _, _ in semaphore.signal() }.resume()
        semaphore.wait()
    }

    static func run(_ binary: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
