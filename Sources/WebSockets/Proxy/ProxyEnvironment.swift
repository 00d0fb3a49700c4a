import WebSocketCore

#if canImport(Glibc)
    import Glibc
#endif

/// The proxy variables of an environment and the rules for reading them, as curl and Python
/// `websockets` read them. A value, not the process's environment itself, so that it can be
/// tested (and injected) without mutating global state that parallel tests share.
///
/// Which variable: `wss://` uses `https_proxy`, then `HTTPS_PROXY`; `ws://` uses `http_proxy`,
/// then `HTTP_PROXY`; either falls back to `all_proxy`, then `ALL_PROXY`. An empty value counts
/// as unset. `no_proxy` (then `NO_PROXY`) lists hosts reached directly: see ``bypasses(host:port:noProxy:)``.
public struct ProxyEnvironment: Sendable, Hashable {
    /// The variables, by exact (case-sensitive) name.
    public var variables: [String: String]

    /// The environment made of `variables` (names as in the process environment, for example
    /// `["https_proxy": "http://proxy:3128", "no_proxy": ".internal"]`).
    public init(_ variables: [String: String]) {
        self.variables = variables
    }

    /// This process's environment, read now.
    public static var process: ProxyEnvironment {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if name.lowercased().hasSuffix("_proxy") { variables[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        return ProxyEnvironment(variables)
    }

    /// The proxy for `url`, or `nil` for a direct connection (no variable, or `no_proxy` matched).
    /// - Throws: `.invalidArgument` when the chosen variable is not a valid proxy URL (naming it).
    package func proxy(for url: WebSocketURL) throws(WebSocketError) -> ProxyServer? {
        let names = url.isSecure ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"]
        guard let (name, value) = first(of: names + ["all_proxy", "ALL_PROXY"]) else { return nil }
        if let noProxy = first(of: ["no_proxy", "NO_PROXY"])?.1,
            Self.bypasses(host: url.host, port: url.port, noProxy: noProxy)
        {
            return nil
        }
        do {
            return try ProxyServer(parsing: value)
        } catch {
            throw WebSocketError(.invalidArgument, "environment variable \(name): \(error.message)")
        }
    }

    private func first(of names: [String]) -> (String, String)? {
        for name in names {
            if let value = variables[name], !value.trimmingASCIIWhitespace().isEmpty { return (name, value) }
        }
        return nil
    }

    /// Whether `no_proxy` sends `host` (and `port`) around the proxy, with curl's rules:
    /// - entries are separated by commas (spaces around them ignored), compared case-insensitively;
    /// - `*` alone matches every host;
    /// - a name matches itself and its subdomains: `example.com` and `.example.com` both match
    ///   `example.com` and `www.example.com`, never `badexample.com`;
    /// - an IP literal matches that address (IPv6 with or without brackets), and a CIDR block
    ///   (`10.0.0.0/8`, `fd00::/8`) every address in it; neither matches a name (nothing is resolved);
    /// - an entry with a port (`example.com:8080`, `[::1]:8080`) matches only that port.
    public static func bypasses(host: String, port: Int, noProxy: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        let hostAddress = IPAddress(name)
        for rawEntry in noProxy.split(separator: ",") {
            var entry = String(rawEntry.trimmingASCIIWhitespace()).lowercased()
            if entry.isEmpty { continue }
            if entry == "*" { return true }
            // A port: "[v6]:port", or "name:port" / "v4:port" (one colon only; more is bare IPv6).
            var entryPort: Int?
            if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
                let after = entry[entry.index(after: close)...]
                if after.hasPrefix(":") { entryPort = Int(after.dropFirst()) ?? -1 }
                entry = String(entry[entry.index(after: entry.startIndex)..<close])
            } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.firstIndex(of: ":") {
                entryPort = Int(entry[entry.index(after: colon)...]) ?? -1
                entry = String(entry[..<colon])
            }
            if let entryPort, entryPort != port { continue }
            if let slash = entry.firstIndex(of: "/") {
                guard let hostAddress, let block = IPAddress(String(entry[..<slash])),
                    let bits = Int(entry[entry.index(after: slash)...])
                else { continue }
                if hostAddress.isIn(block, prefixLength: bits) { return true }
                continue
            }
            if let address = IPAddress(entry) {
                if address == hostAddress { return true }
                continue
            }
            while entry.hasPrefix(".") { entry.removeFirst() }
            if entry.hasSuffix(".") { entry.removeLast() }
            if entry.isEmpty || hostAddress != nil { continue }
            if name == entry || name.hasSuffix("." + entry) { return true }
        }
        return false
    }
}

/// An IPv4 or IPv6 address as its bytes (4 or 16), parsed with `inet_pton`.
struct IPAddress: Hashable {
    var bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    /// Whether the first `prefixLength` bits equal `block`'s (same family only).
    func isIn(_ block: IPAddress, prefixLength: Int) -> Bool {
        guard block.bytes.count == bytes.count, (0...bytes.count * 8).contains(prefixLength) else { return false }
        for bit in 0..<prefixLength {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            if bytes[bit / 8] & mask != block.bytes[bit / 8] & mask { return false }
        }
        return true
    }
}
