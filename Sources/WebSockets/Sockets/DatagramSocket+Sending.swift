#if canImport(Glibc)
    import Glibc
#endif

extension DatagramSocket {
    /// The largest datagram ``send(_:)`` accepts: 65535 − 8 (UDP header) − 20 (IPv4 header).
    public static let maxSendSize = 65507

    /// Sends `bytes` as one datagram to the connected peer (WinRT: a write to `OutputStream`
    /// after `ConnectAsync`).
    /// - Throws: `.invalidState` when the socket is not connected (bound sockets name the peer:
    ///   ``send(_:to:)``); `.closed` after ``close()``; `.messageTooLong` for more than
    ///   ``maxSendSize`` bytes (or more than the path allows with
    ///   ``DatagramSocketControl/dontFragment``); the system's error otherwise.
    public func send(_ bytes: some Collection<UInt8>) async throws {
        let bytes = try Self.checkedSize(bytes)
        switch state {
        case .open(let channel, remote: .some):
            try await channel.send(bytes, to: nil)
        case .idle, .opening, .open:
            throw SocketError(
                .invalidState, "send without a destination needs a connected socket: connect first, or name the peer")
        case .closed:
            throw SocketError(.closed, "cannot send: the socket is closed")
        }
    }

    /// Sends `bytes` as one datagram to `endpoint` (WinRT `GetOutputStreamAsync(EndpointPair)`),
    /// e.g. back to a ``Datagram/remote``. A socket neither bound nor connected is first bound to
    /// an ephemeral port of `endpoint`'s family, and receives from then on.
    /// - Throws: as ``send(_:)``, and `.invalidState` on a connected socket for another peer (the
    ///   kernel refuses: `EISCONN`); `.addressFamilyNotSupported` for an IPv6 peer on an IPv4
    ///   socket.
    public func send(_ bytes: some Collection<UInt8>, to endpoint: SocketEndpoint) async throws {
        let bytes = try Self.checkedSize(bytes)
        guard let address = endpoint.socketAddress else {
            throw SocketError(.invalidArgument, "\(endpoint) is not a valid endpoint")
        }
        try await send(bytes, to: address)
    }

    /// Resolves `host` and sends `bytes` as one datagram to its first address at `port` (WinRT
    /// `GetOutputStreamAsync(HostName, port)`). See ``send(_:to:)``.
    /// - Throws: as ``send(_:to:)``, and `.hostNotFound`.
    public func send(_ bytes: some Collection<UInt8>, toHost host: String, port: Int) async throws {
        let bytes = try Self.checkedSize(bytes)
        try await send(bytes, to: try await Self.resolve(host, port: port, isolation: self))
    }

    private func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        switch state {
        case .open(let channel, _):
            try await channel.send(bytes, to: address)
        case .idle:
            try control.validate()
            let channel = try DatagramChannel(family: address.family, control: control)
            state = .open(channel, remote: nil)
            startReceiving(on: channel)
            try await channel.send(bytes, to: address)
        case .opening:
            throw SocketError(.invalidState, "cannot send while bind or connect is in progress")
        case .closed:
            throw SocketError(.closed, "cannot send: the socket is closed")
        }
    }

    private static func checkedSize(_ bytes: some Collection<UInt8>) throws(SocketError) -> [UInt8] {
        guard bytes.count <= maxSendSize else {
            throw SocketError(
                .messageTooLong, "a datagram of \(bytes.count) bytes is larger than UDP allows (\(maxSendSize) bytes)")
        }
        return Array(bytes)
    }

    // MARK: Multicast

    /// Joins the multicast group `group` on the system's default interface for it (WinRT
    /// `JoinMulticastGroup`): `IP_ADD_MEMBERSHIP` for an IPv4 group, `IPV6_JOIN_GROUP` for IPv6.
    /// The group's datagrams to the bound port then arrive in ``datagrams`` (with the group as
    /// ``Datagram/local``). To share the port with other listeners of the group, set
    /// ``DatagramSocketControl/multicastOnly`` before binding.
    /// - Parameter group: a numeric multicast address (`239.1.2.3`, `ff02::1:3`).
    /// - Throws: `.invalidState` before bind; `.closed` after ``close()``; `.invalidArgument` for
    ///   an address that is not a multicast group, or an IPv6 group on an IPv4 socket; the system's
    ///   error (`.networkUnreachable` without a multicast route, `.noResources` past the
    ///   kernel's limit of memberships).
    public func joinMulticastGroup(_ group: String) throws {
        try setMembership(group, join: true)
    }

    /// Leaves a group joined with ``joinMulticastGroup(_:)`` (`IP_DROP_MEMBERSHIP`,
    /// `IPV6_LEAVE_GROUP`). Closing the socket leaves every group.
    /// - Throws: as ``joinMulticastGroup(_:)``; `.addressNotAvailable` for a group not joined.
    public func leaveMulticastGroup(_ group: String) throws {
        try setMembership(group, join: false)
    }

    private func setMembership(_ group: String, join: Bool) throws(SocketError) {
        let verb = join ? "join" : "leave"
        let channel: DatagramChannel
        switch state {
        case .open(let open, _): channel = open
        case .idle, .opening: throw SocketError(.invalidState, "cannot \(verb) \(group): bind the socket first")
        case .closed: throw SocketError(.closed, "cannot \(verb) \(group): the socket is closed")
        }
        guard let address = SocketAddress(numericHost: group, port: 0), SocketEndpoint(address).isMulticast else {
            throw SocketError(.invalidArgument, "\(group) is not a multicast group address (224.0.0.0/4 or ff00::/8)")
        }
        let what = "\(verb) multicast group \(group)"
        if address.family == AF_INET {
            var request = ip_mreq()
            request.imr_multiaddr = address.withSockAddr { pointer, _ in
                UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in.self).sin_addr
            }
            request.imr_interface.s_addr = INADDR_ANY
            try channel.setOption(CInt(IPPROTO_IP), join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, request, what)
        } else {
            guard channel.family == AF_INET6 else {
                throw SocketError(.invalidArgument, "cannot \(verb) the IPv6 group \(group) on an IPv4 socket")
            }
            var request = ipv6_mreq()
            request.ipv6mr_multiaddr = address.withSockAddr { pointer, _ in
                UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in6.self).sin6_addr
            }
            request.ipv6mr_interface = 0
            try channel.setOption(CInt(IPPROTO_IPV6), join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, request, what)
        }
    }
}
