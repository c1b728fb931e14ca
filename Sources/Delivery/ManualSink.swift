import Foundation
import SCIMRotatorCore

/// For identity providers that cannot take a key over an API (an Okta custom SCIM app, a console-only IdP): writes
/// the key to a file only the service user can read, records a pending action, notifies, and waits until a person
/// pastes it into the IdP and runs `scim-rotator confirm POLICY`. The old key stays enabled until then.
public struct ManualSink: DeliverySink {
    public let file: String
    public let mode: Int
    public let instructions: String

    public init(file: String, mode: Int = 0o600, instructions: String) {
        self.file = file
        self.mode = mode
        self.instructions = instructions
    }

    public var summary: String { "manual \(file)" }

    @discardableResult
    public func deliver(_ secret: Secret, context: DeliveryContext) async throws -> DeliveryReceipt {
        try FileSink.write(secret, to: file, mode: mode, sink: summary)
        return DeliveryReceipt(
            detail: ["file": file],
            awaitingConfirmation:
                "\(instructions) The new key (\(context.keyId)) is in \(file); when the identity provider uses it, run: scim-rotator confirm \(context.policy)"
        )
    }
}
