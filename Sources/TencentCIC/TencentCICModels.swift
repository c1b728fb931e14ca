import SCIMRotatorCore

/// Wire models of the CIC actions scim-rotator uses (reference §1). Field names are the API's.

public struct CICCreatedCredential: Decodable, Sendable, ReportedSCIMKey {
    public var ZoneId: String
    public var CredentialId: String
    public var CredentialType: String?
    public var CreateTime: String
    public var ExpireTime: String
    public var CredentialStatus: String
    public var CredentialSecret: String

    public var statusField: (name: String, value: String) { ("CredentialStatus", CredentialStatus) }
}

/// A list element: note `Status` here, `CredentialStatus` in the Create reply.
public struct CICCredential: Decodable, Sendable, ReportedSCIMKey {
    public var ZoneId: String?
    public var Status: String
    public var CredentialId: String
    public var CredentialType: String?
    public var CreateTime: String
    public var ExpireTime: String

    public var statusField: (name: String, value: String) { ("Status", Status) }
}

public struct CICCredentialList: Decodable, Sendable {
    public var TotalCounts: Int?
    public var SCIMCredentials: [CICCredential]
}

public struct CICSyncStatus: Decodable, Sendable {
    public var SCIMSynchronizationStatus: String
}

public struct CICIdentityCenter: Decodable, Sendable {
    public var ZoneId: String?
    public var ZoneName: String?
    public var ServiceStatus: String?
    public var ScimSyncStatus: String?
    public var CreateTime: String?
    public var UpdateTime: String?
}

/// Replies with nothing but a RequestId.
public struct CICEmpty: Decodable, Sendable {}

struct CICErrorProbe: Decodable {
    struct Body: Decodable {
        struct ErrorBody: Decodable {
            var Code: String
            var Message: String?
        }
        var Error: ErrorBody?
        var RequestId: String?
    }
    var Response: Body
}

struct CICEnvelope<T: Decodable>: Decodable {
    var Response: T
}
