/// Resolving a redirect's `Location` against the URL that answered it (RFC 9110 §10.2.2,
/// RFC 3986 §5.2). Pure: the client's redirect rules decide whether to follow the result.
extension WebSocketURL {
    /// The URL `location` points to, seen from `self`.
    ///
    /// - An absolute URL: `ws://`/`wss://` as they are, and `http://`/`https://` mapped to
    ///   `ws://`/`wss://` (a server that redirects a WebSocket request names the HTTP form of the
    ///   same resource, RFC 6455 §3 makes them the same resource).
    /// - `//host/path` keeps this URL's scheme; `/path` keeps scheme and authority; any other
    ///   reference (`path`, `../path`, `?query`) is merged with this URL's path and its dot
    ///   segments removed (RFC 3986 §5.2.3, §5.2.4).
    /// - A fragment (`#...`) is dropped: a WebSocket URL has none (RFC 6455 §3).
    ///
    /// The result carries no user information, even when `self` did: credentials are the
    /// caller's to re-apply, and only to the host they were given for.
    /// - Throws: ``WebSocketURLError/invalidRedirectLocation(_:)`` for an empty reference or
    ///   another scheme; the parse error of an absolute URL that is malformed.
    public func resolving(redirect location: String) throws(WebSocketURLError) -> WebSocketURL {
        var reference = Substring(location)
        if let hash = reference.firstIndex(of: "#") { reference = reference[..<hash] }
        guard !reference.isEmpty else { throw .invalidRedirectLocation(location) }
        let scheme = isSecure ? "wss:" : "ws:"
        if let colon = reference.firstIndex(of: ":"),
            reference[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }),
            reference[..<colon].first?.isLetter == true
        {
            let given = reference[..<colon].lowercased()
            let rest = reference[reference.index(after: colon)...]
            switch given {
            case "ws", "wss": return try WebSocketURL(parsing: String(reference))
            case "http": return try WebSocketURL(parsing: "ws:" + rest)
            case "https": return try WebSocketURL(parsing: "wss:" + rest)
            default: throw .invalidRedirectLocation(location)
            }
        }
        if reference.hasPrefix("//") {
            return try WebSocketURL(parsing: scheme + String(reference))
        }
        let origin = scheme + "//" + hostHeader
        if reference.hasPrefix("/") {
            return try WebSocketURL(parsing: origin + Self.removingDotSegments(String(reference)))
        }
        let basePath = resource.prefix { $0 != "?" }
        if reference.hasPrefix("?") {
            return try WebSocketURL(parsing: origin + String(basePath) + reference)
        }
        let directory = basePath[...(basePath.lastIndex(of: "/") ?? basePath.startIndex)]
        return try WebSocketURL(parsing: origin + Self.removingDotSegments(String(directory) + reference))
    }

    /// RFC 3986 §5.2.4 on the path part of `pathAndQuery` (the query is kept as it is).
    static func removingDotSegments(_ pathAndQuery: String) -> String {
        let query = pathAndQuery.firstIndex(of: "?").map { String(pathAndQuery[$0...]) } ?? ""
        let path = pathAndQuery.prefix { $0 != "?" }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/") + query
    }
}
