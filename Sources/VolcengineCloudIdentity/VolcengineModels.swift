import Foundation
import SCIMRotatorCore

/// Wire models of the CloudIdentity actions (volcenginesdkcloudidentity/models). Field names are the API's.

/// A SCIM credential as Create (with its secret) and List (without) describe it.
public struct VolcCredential: Decodable, Sendable, ReportedSCIMKey {
    /// A numeric string in the documentation; a JSON number is accepted too (the SDK does not enforce the type).
    public var CredentialId: String
    public var CredentialType: String?
    public var CredentialSecret: String?
    public var Status: String
    public var CreatedTime: String
    public var ExpireTime: String

    public var CreateTime: String { CreatedTime }
    public var statusField: (name: String, value: String) { ("Status", Status) }

    enum CodingKeys: String, CodingKey {
        case CredentialId, CredentialType, CredentialSecret, Status, CreatedTime, ExpireTime
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let number = try? c.decode(Int64.self, forKey: .CredentialId) {
            CredentialId = String(number)
        } else {
            CredentialId = try c.decode(String.self, forKey: .CredentialId)
        }
        CredentialType = try c.decodeIfPresent(String.self, forKey: .CredentialType)
        CredentialSecret = try c.decodeIfPresent(String.self, forKey: .CredentialSecret)
        Status = try c.decode(String.self, forKey: .Status)
        CreatedTime = try c.decode(String.self, forKey: .CreatedTime)
        ExpireTime = try c.decode(String.self, forKey: .ExpireTime)
    }
}

public struct VolcListResult: Decodable, Sendable {
    public var SCIMServerCredentials: [VolcCredential]

    enum CodingKeys: String, CodingKey { case SCIMServerCredentials }

    /// An empty list may come back as `null` or not at all.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        SCIMServerCredentials = try c.decodeIfPresent([VolcCredential].self, forKey: .SCIMServerCredentials) ?? []
    }
}

/// Delete's `Result`: nothing.
public struct VolcEmptyResult: Decodable, Sendable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
}

/// `{"ResponseMetadata": {RequestId, Action, Version, Service, Region, Error?}, "Result": {...}}`.
struct VolcEnvelope<Result: Decodable>: Decodable {
    var ResponseMetadata: VolcMetadata
    var Result: Result?
}

struct VolcMetadata: Decodable {
    struct Failure: Decodable {
        var Code: String
        var Message: String?
    }

    var RequestId: String?
    var Action: String?
    var Error: Failure?
}

enum VolcResultKey: String, CodingKey { case Result }

/// Only the metadata, to read an error before the result's shape matters.
struct VolcMetadataProbe: Decodable {
    var ResponseMetadata: VolcMetadata
}
