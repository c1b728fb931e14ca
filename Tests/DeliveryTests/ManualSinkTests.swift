import Delivery
import Foundation
import SCIMRotatorCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Manual sink: instructions and the key file's end")
struct ManualSinkTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("manual-\(UUID())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test(
        "instructions read as a sentence, with or without their own full stop",
        arguments: [
            ("Paste it into Okta", "Paste it into Okta. The new key"),
            ("Paste it into Okta.", "Paste it into Okta. The new key"),
            ("Paste it!  ", "Paste it! The new key"),
        ]
    )
    func sentence(instructions: String, expected: String) async throws {
        let receipt = try await ManualSink(file: directory + "/k.token", instructions: instructions)
            .deliver(secret, context: context)
        #expect(receipt.awaitingConfirmation?.hasPrefix(expected) == true, "\(receipt.awaitingConfirmation ?? "")")
    }

    @Test("removeFile overwrites the key with zeros, unlinks it, and says whether there was one")
    func removeFile() async throws {
        let path = directory + "/okta.token"
        let sink = ManualSink(file: path, instructions: "Paste it.")
        try await sink.deliver(secret, context: context)
        // A hard link shows what happens to the bytes themselves: zeros, not the secret.
        let witness = directory + "/witness"
        #expect(link(path, witness) == 0)
        #expect(try sink.removeFile())
        #expect(!FileManager.default.fileExists(atPath: path))
        let left = try #require(FileManager.default.contents(atPath: witness))
        #expect(left.count == secret.reveal().utf8.count && left.allSatisfy { $0 == 0 })
        #expect(try sink.removeFile() == false, "nothing left to remove")
    }

    @Test("removeFile removes a symlink without touching its target")
    func symlink() throws {
        let target = directory + "/precious"
        try "keep me".write(toFile: target, atomically: true, encoding: .utf8)
        let path = directory + "/link.token"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        #expect(try ManualSink(file: path, instructions: "x").removeFile())
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil)
    }
}
