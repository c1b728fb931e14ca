import AlibabaCloudSSO
import Crypto
import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// How the emulated CloudSSO API authenticates a request (reference §9): ACS3-HMAC-SHA256 and RPC v1 signatures
/// rebuilt from what was received, ±15 min timestamps, nonce replay, security tokens.
extension Emulator {
    /// Checks a timestamp against the signature clock (±15 min) and a nonce against replay, recording it.
    func checkFreshness(date: Date?, nonce: String?) -> AlibabaError? {
        guard let date else {
            return AlibabaError(
                status: 400,
                code: "InvalidTimeStamp.Format",
                message: "Specified time stamp or date value is not well formatted."
            )
        }
        let now = signatureNow
        if abs(now.timeIntervalSince(date)) > 900 {
            return AlibabaError(
                status: 400,
                code: "InvalidTimeStamp.Expired",
                message: "Specified time stamp or date value is expired."
            )
        }
        guard let nonce, !nonce.isEmpty else {
            return AlibabaError(
                status: 400,
                code: "MissingSignatureNonce",
                message: "SignatureNonce is mandatory for this action."
            )
        }
        let seconds = monotonicSeconds
        let used = world.withLock { w -> Bool in
            w.nonces = w.nonces.filter { $0.value > seconds }
            if w.nonces[nonce] != nil { return true }
            w.nonces[nonce] = seconds + 1_800
            return false
        }
        return used
            ? AlibabaError(
                status: 400,
                code: "SignatureNonceUsed",
                message: "Specified signature nonce was used already."
            ) : nil
    }

    func alibabaAccount(_ accessKeyId: String) -> EmulatedAccount? {
        world.withLock { $0.accounts[accessKeyId] }.flatMap { $0.provider == .alibaba ? $0 : nil }
    }

    /// ACS3-HMAC-SHA256: canonical headers rebuilt from the SignedHeaders list with values as received; the query
    /// form-decoded (`+` is a space) and re-encoded with RFC 3986.
    func verifyACS3(_ request: HTTPRequest, query: [String: String]) -> Result<EmulatedAccount, AlibabaError> {
        guard let header = request.header("Authorization"), let auth = ACSSigner.parseV3Authorization(header) else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "IncompleteSignature",
                    message: "The request signature does not conform to Aliyun standards."
                )
            )
        }
        guard let account = alibabaAccount(auth.accessKeyId) else {
            return .failure(
                AlibabaError(
                    status: 404,
                    code: "InvalidAccessKeyId.NotFound",
                    message: "Specified access key is not found."
                )
            )
        }
        let payloadHash = SHA256.hash(data: request.body).hexString
        guard request.header("x-acs-content-sha256") == payloadHash else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "IncompleteSignature",
                    message: "x-acs-content-sha256 does not match the request body."
                )
            )
        }
        let signed = Set(auth.signedHeaders)
        guard signed.contains("host"), signed.contains("x-acs-date"), signed.contains("x-acs-signature-nonce") else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "IncompleteSignature",
                    message: "SignedHeaders must include host, x-acs-date and x-acs-signature-nonce."
                )
            )
        }
        let expected = ACSSigner.signV3(
            accessKeyId: auth.accessKeyId,
            secret: Secret(account.secret),
            method: request.method,
            path: "/",
            query: query,
            headers: request.headers,
            signedHeaders: auth.signedHeaders,
            body: request.body
        )
        guard expected.signature == auth.signature else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "SignatureDoesNotMatch",
                    message:
                        "Specified signature is not matched with our calculation. server string to sign is:\(expected.stringToSign)"
                )
            )
        }
        let date = request.header("x-acs-date").flatMap { try? Date($0, strategy: Date.ISO8601FormatStyle()) }
        if let error = checkFreshness(date: date, nonce: request.header("x-acs-signature-nonce")) {
            return .failure(error)
        }
        if let error = checkToken(account, request.header("x-acs-security-token")) { return .failure(error) }
        return .success(account)
    }

    /// RPC signature 1.0 (HMAC-SHA1) over every parameter but Signature.
    func verifyRPC(_ request: HTTPRequest, parameters: [String: String]) -> Result<EmulatedAccount, AlibabaError> {
        guard let signature = parameters["Signature"], let accessKeyId = parameters["AccessKeyId"] else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "IncompleteSignature",
                    message: "The request signature does not conform to Aliyun standards."
                )
            )
        }
        guard parameters["SignatureMethod"] == "HMAC-SHA1", parameters["SignatureVersion"] == "1.0" else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "InvalidParameter.SignatureMethod",
                    message: "SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0."
                )
            )
        }
        guard let account = alibabaAccount(accessKeyId) else {
            return .failure(
                AlibabaError(
                    status: 404,
                    code: "InvalidAccessKeyId.NotFound",
                    message: "Specified access key is not found."
                )
            )
        }
        let expected = ACSSigner.signV1(secret: Secret(account.secret), method: request.method, parameters: parameters)
        guard expected.signature == signature else {
            return .failure(
                AlibabaError(
                    status: 400,
                    code: "SignatureDoesNotMatch",
                    message:
                        "Specified signature is not matched with our calculation. server string to sign is:\(expected.stringToSign)"
                )
            )
        }
        let date = parameters["Timestamp"].flatMap { try? Date($0, strategy: Date.ISO8601FormatStyle()) }
        if let error = checkFreshness(date: date, nonce: parameters["SignatureNonce"]) { return .failure(error) }
        if let error = checkToken(account, parameters["SecurityToken"]) { return .failure(error) }
        return .success(account)
    }

    func checkToken(_ account: EmulatedAccount, _ token: String?) -> AlibabaError? {
        guard account.token != nil || token != nil else { return nil }
        guard account.token == token else {
            return AlibabaError(
                status: 400,
                code: account.token == nil ? "InvalidSecurityToken.Malformed" : "InvalidSecurityToken.Mismatch",
                message: "Specified SecurityToken is invalid."
            )
        }
        return nil
    }
}
