/// Cloud region ids (`ap-guangzhou`, `na-siliconvalley`, `cn-shanghai`, `ap-southeast-1`, `cn-hangzhou-finance`).
///
/// A region becomes part of a host name (`cloudsso.<region>.aliyuncs.com`) or a header (`X-TC-Region`), so only
/// lower-case words joined by hyphens are accepted: never a space, a dot, a slash or a `#` that could point a request
/// (and its signature) somewhere else.
public enum CloudRegion {
    /// Whether `region` has the form of a region id: two or more letters, then one or more `-word` parts.
    public static func isValid(_ region: String) -> Bool {
        guard region.count <= 40, region.wholeMatch(of: /[a-z]{2,}(-[a-z0-9]+)+/) != nil else { return false }
        return true
    }
}
