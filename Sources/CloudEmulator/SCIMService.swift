import Foundation
import SCIMRotatorCore
import Synchronization
import Transport

/// The SCIM 2.0 side identity providers call (reference §6): `/scim/v2/ServiceProviderConfig` needs no
/// authentication; everything else needs `Authorization: Bearer <secret>` of an enabled, unexpired key, which also
/// names the zone. Anything else is 401 with a SCIM error body. With `scimRequiresSync`, a zone whose SCIM
/// synchronization is disabled answers 403 to a valid key.
extension Emulator {
    static let scimContentType = "application/scim+json"

    /// `/<tenant>/scim/v2/...` of an IAM Identity Center tenant the emulator serves: the tenant and the rest of the
    /// path from `/scim/v2`.
    func awsTenantPath(_ path: String) -> (tenant: String, rest: String)? {
        let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[1].hasPrefix("scim/v2") else { return nil }
        let tenant = String(parts[0])
        let served = world.withLock { $0.zones[tenant]?.provider == .awsIdentityCenter }
        return served ? (tenant, "/" + String(parts[1])) : nil
    }

    /// `tenant`: the IAM Identity Center tenant in the path; a key of any other zone is refused (AWS answers 401 when
    /// the tenant id is wrong).
    func handleSCIM(_ request: HTTPRequest, path: String, tenant: String? = nil) -> HTTPResponse {
        let resource = path.dropFirst("/scim/v2".count).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if resource == "ServiceProviderConfig" {
            return Self.json(status: 200, contentType: Self.scimContentType, Self.serviceProviderConfig)
        }
        let now = clock.now()
        guard let authorization = request.header("Authorization"), authorization.hasPrefix("Bearer "),
            case let token = String(authorization.dropFirst("Bearer ".count)), !token.isEmpty
        else {
            return Self.scimError(401, "Authorization: Bearer <SCIM key> is required")
        }
        enum Access {
            case unknown
            case syncDisabled
            case zone(String)
        }
        let access: Access = world.withLock { w in
            guard let (zoneId, index) = w.key(bySecret: token), var zone = w.zones[zoneId],
                tenant == nil || tenant == zoneId
            else { return .unknown }
            let key = zone.keys[index]
            guard key.status == .enabled, key.expiresAt > now else { return .unknown }
            if w.scimRequiresSync, zone.syncStatus == .disabled { return .syncDisabled }
            zone.keys[index].lastUsedAt = now
            zone.keys[index].scimRequests += 1
            w.zones[zoneId] = zone
            return .zone(zoneId)
        }
        let zoneId: String
        switch access {
        case .unknown:
            return Self.scimError(401, "the bearer key is unknown, disabled or expired")
        case .syncDisabled:
            return Self.scimError(
                403,
                "SCIM synchronization is disabled for this zone: nothing can be synchronized until it is enabled"
            )
        case .zone(let id):
            zoneId = id
        }
        switch (request.method, resource) {
        case ("GET", "Users"):
            let users = world.withLock { $0.zones[zoneId]?.users ?? [] }
            let count = Self.queryValue(request.url, "count").flatMap(Int.init) ?? 100
            return Self.json(
                status: 200,
                contentType: Self.scimContentType,
                Self.listResponse(Array(users.prefix(max(0, count))), total: users.count)
            )
        case ("POST", "Users"):
            guard let body = JSONValue.parseObject(request.body), let userName = body["userName"]?.string else {
                return Self.scimError(400, "userName is required", scimType: "invalidValue")
            }
            let user = ["id": UUID().uuidString.lowercased(), "userName": userName]
            let conflict = world.withLock { w -> Bool in
                if w.zones[zoneId]?.users.contains(where: { $0["userName"] == userName }) == true { return true }
                w.zones[zoneId]?.users.append(user)
                return false
            }
            if conflict { return Self.scimError(409, "userName \(userName) exists", scimType: "uniqueness") }
            var resourceBody: [String: Any] = user
            resourceBody["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:User"]
            return Self.json(status: 201, contentType: Self.scimContentType, resourceBody)
        case ("GET", "Groups"):
            return Self.json(status: 200, contentType: Self.scimContentType, Self.listResponse([], total: 0))
        case ("GET", "ResourceTypes"):
            let types: [[String: Any]] = [
                [
                    "id": "User", "name": "User", "endpoint": "/Users",
                    "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
                ],
                [
                    "id": "Group", "name": "Group", "endpoint": "/Groups",
                    "schema": "urn:ietf:params:scim:schemas:core:2.0:Group",
                ],
            ]
            return Self.json(
                status: 200,
                contentType: Self.scimContentType,
                Self.listResponse(types, total: types.count)
            )
        case ("GET", "Schemas"):
            return Self.json(status: 200, contentType: Self.scimContentType, Self.listResponse([], total: 0))
        default:
            return Self.scimError(404, "\(request.method) /scim/v2/\(resource) is not served by the emulator")
        }
    }

    static func listResponse(_ resources: [[String: Any]], total: Int) -> [String: Any] {
        [
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": total,
            "itemsPerPage": resources.count, "startIndex": 1, "Resources": resources,
        ]
    }

    static func scimError(_ status: Int, _ detail: String, scimType: String? = nil) -> HTTPResponse {
        var body: [String: Any] = [
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": detail, "status": String(status),
        ]
        if let scimType { body["scimType"] = scimType }
        return json(status: status, contentType: scimContentType, body)
    }

    static var serviceProviderConfig: [String: Any] {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": ["supported": true], "bulk": ["supported": false, "maxOperations": 0, "maxPayloadSize": 0],
            "filter": ["supported": true, "maxResults": 100], "changePassword": ["supported": false],
            "sort": ["supported": false], "etag": ["supported": false],
            "authenticationSchemes": [
                ["type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "SCIM key as a bearer token"]
            ],
        ]
    }

    static func queryValue(_ url: URL, _ name: String) -> String? {
        URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == name }?.value
    }
}
