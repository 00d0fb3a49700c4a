/// The settings of a ``DatagramSocket`` (WinRT `DatagramSocketControl`).
///
/// Set them before ``DatagramSocket/bind(port:address:)`` or
/// ``DatagramSocket/connect(host:port:)``, with ``DatagramSocket/init(control:)`` or
/// ``DatagramSocket/configure(_:)``: they become socket options when the socket is created, and
/// afterwards a change throws `SocketError(.invalidState)`, as in WinRT. The one exception, also
/// WinRT's, is ``outboundUnicastHopLimit``, which may change at any time (it applies to the
/// datagrams sent after the change).
public struct DatagramSocketControl: Sendable, Hashable {
    /// Sets the IP "don't fragment" behaviour (`IP_MTU_DISCOVER` / `IPV6_MTU_DISCOVER` =
    /// `PMTUDISC_DO`): a datagram larger than the path's MTU fails with
    /// `SocketError(.messageTooLong)` instead of going out in fragments. Default `false`
    /// (the system's path-MTU discovery: large datagrams are fragmented).
    public var dontFragment = false

    /// The kernel's receive buffer (`SO_RCVBUF`) in bytes, or `nil` for the system default
    /// (`net.core.rmem_default`, typically 208 KiB). Linux doubles the value for its bookkeeping
    /// and caps it at `net.core.rmem_max`. Datagrams that arrive while it is full are dropped by
    /// the kernel (counted in ``DatagramSocketInformation/kernelDroppedDatagrams``). Must be
    /// positive.
    public var inboundBufferSize: Int?

    /// The TTL (IPv4, `IP_TTL`) or hop limit (IPv6, `IPV6_UNICAST_HOPS`) of unicast datagrams
    /// sent, 1...255, or `nil` for the system default (`net.ipv4.ip_default_ttl`, 64 on Linux;
    /// WinRT's default is 128). The one setting that may change after bind or connect.
    public var outboundUnicastHopLimit: Int?

    /// Shares the port with other sockets that set it too (`SO_REUSEADDR` and `SO_REUSEPORT`),
    /// so that several sockets (or processes of the same user) can bind one multicast port and
    /// each receive the group's datagrams. Default `false`: binding a port in use fails with
    /// `.addressAlreadyInUse`. (With it, *unicast* datagrams to the shared port go to one of the
    /// sockets only, as the kernel chooses.)
    public var multicastOnly = false

    /// How many received datagrams may wait unread in ``DatagramSocket/datagrams`` (at least 1).
    /// Default 256. When that many wait, further datagrams are read from the kernel and dropped
    /// (counted in ``DatagramSocketInformation/droppedDatagrams``): UDP promises no delivery, and
    /// a reader that stopped reading must not make memory grow without bound.
    public var maxPendingDatagrams = 256

    /// The largest datagram delivered, in bytes, 1...65536. Default 65536: every UDP datagram
    /// fits (the largest IPv4 payload is 65507 bytes, IPv6's 65527 without jumbograms), so none is
    /// ever oversized. A larger datagram arrives flagged (``Datagram/isOversized``), not cut.
    /// The socket holds one receive buffer of this size.
    public var maxDatagramSize = 65536

    /// The defaults above.
    public init() {}

    /// `SocketError(.invalidArgument)` for a value out of range; what ``DatagramSocket`` checks
    /// before creating its socket.
    func validate() throws(SocketError) {
        if let size = inboundBufferSize, size <= 0 || size > Int(Int32.max) {
            throw SocketError(.invalidArgument, "inboundBufferSize must be positive (got \(size))")
        }
        if let hops = outboundUnicastHopLimit, !(1...255).contains(hops) {
            throw SocketError(.invalidArgument, "outboundUnicastHopLimit must be within 1...255 (got \(hops))")
        }
        if maxPendingDatagrams < 1 {
            throw SocketError(.invalidArgument, "maxPendingDatagrams must be at least 1 (got \(maxPendingDatagrams))")
        }
        if !(1...65536).contains(maxDatagramSize) {
            throw SocketError(.invalidArgument, "maxDatagramSize must be within 1...65536 (got \(maxDatagramSize))")
        }
    }

    /// Whether `other` differs only in ``outboundUnicastHopLimit`` (or not at all).
    func differsOnlyInHopLimit(from other: DatagramSocketControl) -> Bool {
        var copy = other
        copy.outboundUnicastHopLimit = outboundUnicastHopLimit
        return copy == self
    }
}
