/// What a ``DatagramSocket`` knows about itself (WinRT `DatagramSocketInformation`): a snapshot,
/// readable in any state.
public struct DatagramSocketInformation: Sendable, Hashable {
    /// The bound local address and port (the kernel's choice of port after binding port 0); `nil`
    /// before ``DatagramSocket/bind(port:address:)`` or ``DatagramSocket/connect(host:port:)``
    /// (WinRT: empty before), and after ``DatagramSocket/close()``.
    public var localEndpoint: SocketEndpoint?
    /// The peer given to ``DatagramSocket/connect(host:port:)``, as resolved; `nil` for a bound
    /// (any peer) socket.
    public var remoteEndpoint: SocketEndpoint?
    /// Datagrams the socket received but discarded because
    /// ``DatagramSocketControl/maxPendingDatagrams`` were already waiting unread in
    /// ``DatagramSocket/datagrams``. UDP is lossy anyway; this says that the loss was ours.
    public var droppedDatagrams: Int = 0
    /// Datagrams the kernel discarded because the socket's receive buffer
    /// (``DatagramSocketControl/inboundBufferSize``) was full (`SO_RXQ_OVFL`, as of the last
    /// datagram received; 0 where the kernel does not report it).
    public var kernelDroppedDatagrams: Int = 0

    /// An empty snapshot (nothing bound, nothing dropped).
    public init() {}
}
