#if canImport(Glibc)
    import Glibc
#endif

/// The socket options of a ``StreamSocketControl``, applied to a descriptor, and the two calls
/// `close()` needs (is anything unread? reset instead of FIN). No state; any thread.
enum StreamSocketOptions {
    /// Sets `TCP_NODELAY`, the keep-alive options, `SO_SNDBUF` and the hop limit on `fd` (a TCP
    /// socket of `family`). Called before `connect` (so the SYN already carries them) and on each
    /// accepted connection.
    /// - Throws: the `setsockopt` that failed, as `SocketError(errno:)`.
    static func apply(_ control: StreamSocketControl, to fd: CInt, family: CInt) throws(SocketError) {
        try set(fd, CInt(IPPROTO_TCP), TCP_NODELAY, control.noDelay ? 1 : 0, "TCP_NODELAY")
        if control.keepAlive {
            try set(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE")
            if let idle = control.keepAliveIdle {
                try set(fd, CInt(IPPROTO_TCP), TCP_KEEPIDLE, CInt(idle.components.seconds), "TCP_KEEPIDLE")
            }
            if let interval = control.keepAliveInterval {
                try set(fd, CInt(IPPROTO_TCP), TCP_KEEPINTVL, CInt(interval.components.seconds), "TCP_KEEPINTVL")
            }
            if let count = control.keepAliveProbeCount {
                try set(fd, CInt(IPPROTO_TCP), TCP_KEEPCNT, CInt(count), "TCP_KEEPCNT")
            }
        }
        if let size = control.outboundBufferSize {
            try set(fd, SOL_SOCKET, SO_SNDBUF, CInt(size), "SO_SNDBUF")
        }
        if let hops = control.hopLimit {
            if family == AF_INET6 {
                try set(fd, CInt(IPPROTO_IPV6), IPV6_UNICAST_HOPS, CInt(hops), "IPV6_UNICAST_HOPS")
            } else {
                try set(fd, CInt(IPPROTO_IP), IP_TTL, CInt(hops), "IP_TTL")
            }
        }
    }

    private static func set(_ fd: CInt, _ level: CInt, _ name: CInt, _ value: CInt, _ label: String) throws(SocketError) {
        var value = value
        if setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size)) != 0 {
            throw SocketError(errno: errno, "setsockopt \(label)")
        }
    }

    /// Whether the kernel holds received bytes nobody has read (`recv` with `MSG_PEEK`, which
    /// consumes nothing).
    static func hasUnreadBytes(_ fd: CInt) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, CInt(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// `SO_LINGER` with a zero timeout: the next `close` resets the connection (RST) and drops
    /// whatever is unsent, instead of the orderly FIN.
    static func resetOnClose(_ fd: CInt) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }
}
