#if canImport(Glibc)
    import Glibc
#endif

/// One end of a connection or the source of a datagram: a numeric IP address and a port, as a
/// value (WinRT `HostName` + service name, without the strings).
///
/// The address is always numeric (`127.0.0.1`, `::1`, never a name): an endpoint is what the
/// kernel reports, not what was asked for.
public struct SocketEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        /// IPv4 (`AF_INET`).
        case ipv4
        /// IPv6 (`AF_INET6`).
        case ipv6
    }

    /// The numeric address: `127.0.0.1`, `::1` (no brackets).
    public var address: String
    /// The port, 0...65535.
    public var port: Int
    /// IPv4 or IPv6.
    public var family: Family

    /// An endpoint from a numeric address (`127.0.0.1`, `::1` or `[::1]`) and a port; nil for a
    /// name or a port outside 0...65535.
    public init?(address: String, port: Int) {
        guard let parsed = SocketAddress(numericHost: address, port: port) else { return nil }
        self.init(parsed)
    }

    package init(_ address: SocketAddress) {
        self.address = address.host
        self.port = address.port
        self.family = address.family == AF_INET6 ? .ipv6 : .ipv4
    }

    /// The system form of this endpoint, for `connect`, `bind` and `sendto`.
    package var socketAddress: SocketAddress? {
        SocketAddress(numericHost: address, port: port)
    }

    /// `127.0.0.1:80` or `[::1]:80`.
    public var description: String {
        family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
