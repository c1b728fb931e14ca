import Foundation
import SCIMRotatorCore
import Synchronization
import Transport
import VolcengineCloudIdentity

/// How the emulated CloudIdentity API authenticates a request: the SDK's `HMAC-SHA256` rebuilt from the headers that
/// `SignedHeaders` names, with their values as received (the SDK signs `X-Sdk-Request` and `X-Sdk-Invocation-Id`
/// too), the query form-decoded and re-encoded, the body hashed as received; `X-Date` within 15 minutes; a session
/// token when the account has one.
extension Emulator {
    func verifyVolcengine(
        _ request: HTTPRequest,
        query: [(String, String)]
    ) -> Result<(account: EmulatedAccount, region: String), VolcengineError> {
        func refuse(
            _ status: Int,
            _ code: String,
            _ message: String
        ) -> Result<
            (account: EmulatedAccount, region: String), VolcengineError
        > {
            .failure(VolcengineError(status: status, code: code, message: message))
        }
        guard let header = request.header("Authorization") else {
            return refuse(401, "MissingAuthenticationToken", "Request must include Authorization or X-Signature")
        }
        guard let auth = VolcengineSigner.parseAuthorization(header) else {
            return refuse(400, "InvalidAuthorization", "The Authorization header is malformed")
        }
        let signed = Set(auth.signedHeaders.map { $0.lowercased() })
        guard signed.contains("host"), signed.contains("x-date"), let xDate = request.header("X-Date") else {
            return refuse(400, "InvalidAuthorization", "SignedHeaders must include host and x-date")
        }
        guard let date = VolcengineSigner.date(xDate: xDate), xDate.hasPrefix(auth.date) else {
            return refuse(400, "InvalidTimestamp", "The X-Date \(xDate) is not a valid timestamp")
        }
        if abs(signatureNow.timeIntervalSince(date)) > 900 {
            return refuse(400, "InvalidTimestamp", "The request has expired: X-Date \(xDate)")
        }
        guard auth.service == VolcengineConfiguration.service else {
            return refuse(404, "ServiceNotFound", "Could not find service \(auth.service)")
        }
        guard let account = world.withLock({ $0.accounts[auth.accessKeyId] }), account.provider == .volcengine else {
            return refuse(401, "InvalidAccessKey", "The AccessKey \(auth.accessKeyId) is invalid")
        }
        if let token = account.token {
            guard request.header("X-Security-Token") == token, signed.contains("x-security-token") else {
                return refuse(401, "InvalidSecretToken", "The security token is missing, invalid or unsigned")
            }
        }
        if let claimed = request.header("X-Content-Sha256"),
            claimed != VolcengineSigner.hexSHA256(request.body)
        {
            return refuse(400, "InvalidAuthorization", "X-Content-Sha256 does not match the body")
        }
        let expected = VolcengineSigner.sign(
            accessKeyId: auth.accessKeyId,
            secret: Secret(account.secret),
            region: auth.region,
            service: auth.service,
            xDate: xDate,
            method: request.method,
            path: request.url.path.isEmpty ? "/" : request.url.path,
            query: query,
            headers: request.headers,
            signedHeaders: auth.signedHeaders,
            body: request.body
        )
        guard expected.signature == auth.signature else {
            return refuse(
                401,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your Secret "
                    + "Access Key and signing method. Consult the service documentation for details."
            )
        }
        return .success((account, auth.region))
    }
}
