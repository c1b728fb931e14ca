/// How a delivery target is named in history, logs and errors, without secrets: one wording for the policy's
/// `deliver` entry (before its sink is built) and the sink itself.
public enum SinkLabel {
    public static func file(_ path: String) -> String { "file \(path)" }
    public static func exec(_ command: [String]) -> String { "exec \(command.first ?? "")" }
    public static func vault(mount: String, path: String) -> String { "vault \(mount)/\(path)" }
    public static func entra(servicePrincipal: String) -> String { "entra servicePrincipal \(servicePrincipal)" }
    public static func kubernetes(namespace: String, name: String, key: String) -> String {
        "kubernetes secret \(namespace)/\(name)[\(key)]"
    }
    public static func okta(appId: String) -> String { "okta app \(appId)" }
    public static func manual(_ file: String) -> String { "manual \(file)" }
    public static func awsSecretsManager(secretId: String, region: String) -> String {
        "aws-secrets-manager \(region) \(secretId)"
    }
    public static func awsSSMParameter(name: String, region: String) -> String { "aws-ssm-parameter \(region) \(name)" }
}
