import SCIMRotatorCore

/// Wire models of the CloudSSO actions scim-rotator uses (reference §1). Field names are the API's.

public struct SSOCredential: Decodable, Sendable, ReportedSCIMKey {
    public var CredentialId: String
    public var CredentialType: String?
    public var CredentialSecret: String?
    public var Status: String
    public var CreateTime: String
    public var ExpireTime: String
    public var DirectoryId: String?

    public var statusField: (name: String, value: String) { ("Status", Status) }
}

public struct SSOCreateReply: Decodable, Sendable {
    public var RequestId: String?
    public var SCIMServerCredential: SSOCredential
}

public struct SSOListReply: Decodable, Sendable {
    public var RequestId: String?
    public var TotalCounts: Int?
    public var SCIMServerCredentials: [SSOCredential]
}

public struct SSOSyncReply: Decodable, Sendable {
    public var RequestId: String?
    public var SCIMSynchronizationStatus: String
}

public struct SSODirectory: Decodable, Sendable {
    public var DirectoryId: String
    public var DirectoryName: String?
    public var Region: String?
    public var CreateTime: String?
    public var UpdateTime: String?
}

public struct SSODirectoryReply: Decodable, Sendable {
    public var RequestId: String?
    public var Directory: SSODirectory
}

public struct SSODirectoriesReply: Decodable, Sendable {
    public var RequestId: String?
    public var TotalCounts: Int?
    public var Directories: [SSODirectory]
}

public struct SSOEmptyReply: Decodable, Sendable {
    public var RequestId: String?
}

struct SSOErrorReply: Decodable {
    var RequestId: String?
    var HostId: String?
    var Code: String?
    var Message: String?
    var Recommend: String?
}
