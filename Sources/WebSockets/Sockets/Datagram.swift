/// One received UDP datagram (WinRT `DatagramSocketMessageReceivedEventArgs`): its bytes, who
/// sent it and where it arrived.
///
/// Boundaries are preserved: one `Datagram` is exactly one datagram sent by the peer, never
/// merged with another and never split.
///
/// **Oversized datagrams are reported, not cut.** A datagram larger than
/// ``DatagramSocketControl/maxDatagramSize`` cannot be received whole; the kernel tells its real
/// size (`recvmsg` with `MSG_TRUNC`), and it arrives with **empty** ``bytes``, its real size in
/// ``length`` and ``isOversized`` set. Why empty rather than the first `maxDatagramSize` bytes: a
/// prefix looks like a complete datagram to code that forgets to check the flag, while empty bytes
/// with a non-zero ``length`` cannot be mistaken for content (a real empty datagram has length
/// 0). Why an element rather than an error: an error would end ``DatagramSocket/datagrams``, so
/// any peer could stop a socket from receiving by sending one large datagram.
public struct Datagram: Sendable, Hashable {
    /// The datagram's bytes; empty when ``isOversized``.
    public var bytes: [UInt8]
    /// The sender's address and port. An IPv4 sender is reported as IPv4 even on a dual-stack
    /// socket (never as `::ffff:a.b.c.d`), so it can be passed back to
    /// ``DatagramSocket/send(_:to:)`` as it is.
    public var remote: SocketEndpoint
    /// The local address and port the datagram was sent to: the socket's own address, or the
    /// group's for a multicast datagram (from `IP_PKTINFO` / `IPV6_PKTINFO`; the socket's bound
    /// address when the kernel did not say).
    public var local: SocketEndpoint
    /// The datagram's size on the wire: `bytes.count`, or, when ``isOversized``, the size it had.
    public var length: Int

    /// Whether the datagram was larger than ``DatagramSocketControl/maxDatagramSize`` and was not
    /// delivered (``bytes`` is empty, ``length`` is its real size).
    public var isOversized: Bool { bytes.count != length }

    /// A datagram as received (or as a test builds one); `length` defaults to `bytes.count`.
    public init(bytes: [UInt8], remote: SocketEndpoint, local: SocketEndpoint, length: Int? = nil) {
        self.bytes = bytes
        self.remote = remote
        self.local = local
        self.length = length ?? bytes.count
    }
}
