#if canImport(Glibc)
    import Glibc
#endif

/// One non-blocking UDP socket registered with an ``EventLoop``: what ``DatagramSocket`` drives.
///
/// Created for one address family when the socket binds or connects; the registration owns the
/// descriptor (closing it, or dropping the last reference, closes the socket). Sending and
/// receiving try the system call first and wait for the loop's readiness report only on
/// `EAGAIN`, as ``TCPTransport`` does. Every failure is a ``SocketError``.
package final class DatagramChannel: Sendable {
    let registration: FDRegistration
    /// `AF_INET` or `AF_INET6`.
    package let family: CInt

    /// Creates the socket (`SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC`), applies `control` and
    /// asks for the ancillary data the receiver reads (destination address, kernel drops).
    /// An IPv6 socket is dual-stack (`IPV6_V6ONLY` off), so it can talk to IPv4 peers too.
    init(family: CInt, control: DatagramSocketControl, loop: EventLoop = .shared) throws(SocketError) {
        let type = CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw SocketError(errno: errno, "create a UDP socket") }
        do {
            registration = try loop.register(fd)
        } catch {
            throw SocketError(.noResources, "register the UDP socket with the event loop: \(error.message)")
        }
        self.family = family
        do {
            try configure(control)
        } catch {
            registration.close()
            throw error
        }
    }

    deinit {
        registration.close()
    }

    private func configure(_ control: DatagramSocketControl) throws(SocketError) {
        let v6 = family == AF_INET6
        if v6 { try setOption(CInt(IPPROTO_IPV6), IPV6_V6ONLY, 0, "IPV6_V6ONLY") }
        // Where each datagram was sent to (`Datagram.local`). IPv4 on an IPv6 socket too: a
        // datagram from an IPv4 peer on a dual-stack socket carries IP_PKTINFO.
        try setOption(CInt(IPPROTO_IP), IP_PKTINFO, 1, "IP_PKTINFO")
        if v6 { try setOption(CInt(IPPROTO_IPV6), IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO") }
        // The kernel's count of datagrams dropped for a full receive buffer, on each datagram.
        _ = try? setOption(SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL")
        if control.dontFragment {
            try setOption(CInt(IPPROTO_IP), IP_MTU_DISCOVER, IP_PMTUDISC_DO, "IP_MTU_DISCOVER")
            if v6 { try setOption(CInt(IPPROTO_IPV6), IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, "IPV6_MTU_DISCOVER") }
        }
        if let size = control.inboundBufferSize {
            try setOption(SOL_SOCKET, SO_RCVBUF, CInt(size), "SO_RCVBUF")
        }
        if control.multicastOnly {
            try setOption(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
            try setOption(SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT")
        }
        if let hops = control.outboundUnicastHopLimit { try setHopLimit(hops) }
    }

    /// `IP_TTL` (and `IPV6_UNICAST_HOPS` on an IPv6 socket, whose IPv4 peers use `IP_TTL`).
    func setHopLimit(_ hops: Int) throws(SocketError) {
        try setOption(CInt(IPPROTO_IP), IP_TTL, CInt(hops), "IP_TTL")
        if family == AF_INET6 { try setOption(CInt(IPPROTO_IPV6), IPV6_UNICAST_HOPS, CInt(hops), "IPV6_UNICAST_HOPS") }
    }

    /// `setsockopt` of an `int` option.
    func setOption(_ level: CInt, _ name: CInt, _ value: CInt, _ what: String) throws(SocketError) {
        let code = try descriptor { fd -> CInt in
            var value = value
            return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size)) == 0 ? 0 : errno
        }
        if code != 0 { throw SocketError(errno: code, "set \(what)") }
    }

    /// `setsockopt` of a structure (multicast memberships).
    func setOption<Value>(_ level: CInt, _ name: CInt, _ value: Value, _ what: String) throws(SocketError) {
        let code = try descriptor { fd -> CInt in
            withUnsafeBytes(of: value) { raw in
                setsockopt(fd, level, name, raw.baseAddress, socklen_t(raw.count)) == 0 ? 0 : errno
            }
        }
        if code != 0 { throw SocketError(errno: code, what) }
    }

    /// Test hook: `getsockopt` of an `int` option; `nil` if it fails or the socket is closed.
    package func option(_ level: CInt, _ name: CInt) -> CInt? {
        registration.inspectDescriptor { fd -> CInt? in
            var value: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            return getsockopt(fd, level, name, &value, &length) == 0 ? value : nil
        } ?? nil
    }

    /// Binds to `address` (port 0: the kernel picks one).
    func bind(_ address: SocketAddress) throws(SocketError) {
        let code = try descriptor { fd in address.withSockAddr { Glibc.bind(fd, $0, $1) } == 0 ? 0 : errno }
        if code != 0 { throw SocketError(errno: code, "bind to \(address)") }
    }

    /// Connects to `address`: fixes the destination of ``send(_:to:)`` with `nil`, and makes the
    /// kernel deliver only that peer's datagrams. (UDP connect sends nothing; it cannot fail for
    /// an absent peer.)
    func connect(_ address: SocketAddress) throws(SocketError) {
        let target = mapped(address)
        let code = try descriptor { fd in target.withSockAddr { Glibc.connect(fd, $0, $1) } == 0 ? 0 : errno }
        if code != 0 { throw SocketError(errno: code, "connect to \(address)") }
    }

    /// The bound address (`getsockname`), IPv4-mapped addresses reported as IPv4.
    var localEndpoint: SocketEndpoint? {
        registration.inspectDescriptor { SocketAddress.local(of: $0) }?.map(SocketEndpoint.unmapping)
    }

    /// Sends `bytes` as one datagram to `address`, or to the connected peer when `nil`; waits for
    /// room in the send buffer on `EAGAIN`.
    func send(_ bytes: [UInt8], to address: SocketAddress?, isolation: isolated (any Actor)? = #isolation) async throws {
        let target = address.map(mapped)
        while true {
            let (count, code) = try descriptor { fd -> (Int, CInt) in
                let count = bytes.withUnsafeBytes { raw -> Int in
                    if let target {
                        return target.withSockAddr { sendto(fd, raw.baseAddress, raw.count, CInt(MSG_NOSIGNAL), $0, $1) }
                    }
                    return Glibc.send(fd, raw.baseAddress, raw.count, CInt(MSG_NOSIGNAL))
                }
                return (count, count < 0 ? errno : 0)
            }
            if count >= 0 { return }
            switch code {
            case EAGAIN, EWOULDBLOCK:
                do {
                    try await registration.waitWritable(isolation: isolation)
                } catch let error as WebSocketError {
                    throw SocketError(error)
                }
            case EINTR: continue
            default:
                throw SocketError(errno: code, "send a datagram of \(bytes.count) bytes to \(address?.description ?? "the peer")")
            }
        }
    }

    /// Closes the socket (idempotent, any thread); a waiting receive or send throws `.closed`.
    func close() {
        registration.close()
    }

    /// An IPv4 address as the IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) on a dual-stack IPv6
    /// socket, which takes IPv6 addresses only.
    private func mapped(_ address: SocketAddress) -> SocketAddress {
        guard family == AF_INET6, address.family == AF_INET else { return address }
        return SocketAddress(numericHost: "::ffff:\(address.host)", port: address.port) ?? address
    }

    /// ``FDRegistration/withDescriptor(for:_:)`` (writable: these calls never wait for reading)
    /// with its errors as ``SocketError``.
    func descriptor<Result>(_ body: (CInt) -> Result) throws(SocketError) -> Result {
        do {
            return try registration.withDescriptor(for: .writable, body)
        } catch {
            throw SocketError(error)
        }
    }
}

extension SocketError {
    /// The event loop's errors in socket terms: `.closed` after close, `.operationCanceled`.
    init(_ error: WebSocketError) {
        switch error.status {
        case .closed: self.init(.closed, "the socket was closed")
        case .operationCanceled: self.init(.operationCanceled, error.message)
        default: self.init(.unknown, error.message)
        }
    }
}

extension SocketEndpoint {
    /// The endpoint of `address`, an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a
    /// dual-stack socket sees of an IPv4 peer) reported as the IPv4 address it stands for.
    static func unmapping(_ address: SocketAddress) -> SocketEndpoint {
        let endpoint = SocketEndpoint(address)
        let prefix = "::ffff:"
        if endpoint.family == .ipv6, endpoint.address.hasPrefix(prefix),
            let v4 = SocketEndpoint(address: String(endpoint.address.dropFirst(prefix.count)), port: endpoint.port),
            v4.family == .ipv4
        {
            return v4
        }
        return endpoint
    }
}
