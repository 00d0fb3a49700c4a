#if canImport(Glibc)
    import Glibc
#endif

/// A UDP socket (WinRT `DatagramSocket`): datagrams to and from any peer, or one connected peer,
/// multicast groups included.
///
/// ```swift
/// let socket = DatagramSocket()
/// try await socket.bind(port: 0, address: "127.0.0.1")     // any peer may send to it
/// print(await socket.information.localEndpoint!)                    // 127.0.0.1:<the chosen port>
/// for try await datagram in socket.datagrams {              // exists from init: nothing is missed
///     try await socket.send(datagram.bytes, to: datagram.remote)   // echo it
/// }
/// ```
///
/// - **Receiving is set up before binding, by construction.** WinRT requires the
///   `MessageReceived` handler before bind or connect; here ``datagrams`` exists from `init`, so
///   no datagram can arrive before someone could receive it. It buffers up to
///   ``DatagramSocketControl/maxPendingDatagrams`` datagrams until they are read; beyond that,
///   arriving datagrams are dropped and counted (``DatagramSocketInformation/droppedDatagrams``):
///   UDP delivers nothing reliably anyway, and a reader that stopped must not grow memory.
/// - **Bind or connect, once.** ``bind(port:address:)`` receives from any peer;
///   ``connect(host:port:)`` fixes one peer, and the kernel then delivers only that peer's
///   datagrams (others are answered with ICMP port unreachable, as for a closed port).
///   ``send(_:to:)`` on a socket that did neither binds it to an ephemeral port first (WinRT's
///   `GetOutputStreamAsync` does the same).
/// - **One send is one datagram**, at most 65507 bytes (the IPv4 UDP limit; more throws
///   `.messageTooLong` before anything is sent). Received datagrams keep their boundaries, and
///   one larger than ``DatagramSocketControl/maxDatagramSize`` is flagged, never cut
///   (``Datagram/isOversized``).
/// - **Errors** are ``SocketError``s. ICMP errors that the kernel reports on a connected socket
///   (port unreachable, host unreachable) do not end ``datagrams``: UDP has no connection to
///   lose, and the next datagram may well arrive.
/// - ``datagrams`` ends normally after ``close()`` (datagrams already received are delivered
///   first) and throws only for a failure of the socket itself. Iterate it from one task;
///   cancelling that task ends it for good, and later datagrams are discarded.
public actor DatagramSocket {
    /// Received datagrams, in arrival order. See the type's documentation for buffering and ending.
    public nonisolated let datagrams: AsyncThrowingStream<Datagram, any Error>

    /// The settings the socket is created with (a snapshot; change them with ``configure(_:)``).
    public private(set) var control: DatagramSocketControl

    enum State {
        /// Neither bound nor connected.
        case idle
        /// ``bind(port:address:)`` or ``connect(host:port:)`` is resolving its address.
        case opening
        /// Bound, or connected to `remote`.
        case open(DatagramChannel, remote: SocketEndpoint?)
        case closed
    }

    var state = State.idle
    let inbox: Inbox<Datagram>
    let counters = DatagramCounters()

    /// Creates a socket with `control`; nothing is bound until ``bind(port:address:)``,
    /// ``connect(host:port:)`` or a first ``send(_:to:)``.
    public init(control: DatagramSocketControl = .init()) {
        self.control = control
        inbox = Inbox(highWater: control.maxPendingDatagrams)
        datagrams = inbox.makeStream()
    }

    deinit {
        if case .open(let channel, _) = state { channel.close() }
        inbox.finish()
    }

    /// Changes the settings. Before bind or connect any of them; afterwards only
    /// ``DatagramSocketControl/outboundUnicastHopLimit`` (applied at once), as in WinRT.
    /// - Throws: `.invalidState` for any other change after bind or connect (nothing is changed);
    ///   `.invalidArgument` for a value out of range (checked when the socket opens, and at once
    ///   for a hop limit changed while open); whatever `update` throws.
    public func configure(_ update: (inout DatagramSocketControl) throws -> Void) throws {
        var changed = control
        try update(&changed)
        switch state {
        case .idle:
            control = changed
            inbox.setHighWater(changed.maxPendingDatagrams)
        case .opening, .open:
            guard changed.differsOnlyInHopLimit(from: control) else {
                throw SocketError(.invalidState, "only outboundUnicastHopLimit may change after bind or connect")
            }
            guard changed.outboundUnicastHopLimit != control.outboundUnicastHopLimit else { return }
            try changed.validate()
            if case .open(let channel, _) = state {
                // nil after a number: back to the system default (-1 asks the kernel for it).
                try channel.setHopLimit(changed.outboundUnicastHopLimit ?? -1)
            }
            control = changed
        case .closed:
            throw SocketError(.closed, "the socket is closed")
        }
    }

    /// Binds to `port` on `address` and starts receiving from any peer (WinRT
    /// `BindServiceNameAsync` / `BindEndpointAsync`).
    /// - Parameters:
    ///   - port: 0 lets the system choose; ``information`` has the port chosen.
    ///   - address: a local address (`127.0.0.1`, `::1`, `0.0.0.0`, a name that resolves to one),
    ///     or `nil` for every address, IPv6 and IPv4 (`::`, dual-stack; `0.0.0.0` where IPv6 is
    ///     unavailable).
    /// - Throws: `.invalidState` if already bound or connected; `.closed` after ``close()``;
    ///   `.invalidArgument` for a port outside 0...65535 or a bad setting; `.hostNotFound`;
    ///   `.addressAlreadyInUse` (see ``DatagramSocketControl/multicastOnly``);
    ///   `.addressNotAvailable` for an address not of this host.
    public func bind(port: Int = 0, address: String? = nil) async throws {
        try beginOpening("bind")
        do {
            let channel: DatagramChannel
            if let address {
                let local = try await Self.resolve(address, port: port, isolation: self)
                channel = try DatagramChannel(family: local.family, control: control)
                try channel.bind(local)
            } else {
                channel = try Self.wildcardChannel(port: port, control: control)
            }
            try finishOpening(channel, remote: nil)
        } catch {
            if case .opening = state { state = .idle }
            throw error
        }
    }

    /// Fixes one peer and starts receiving from it alone (WinRT `ConnectAsync`): ``send(_:)``
    /// goes to it, and the kernel drops other senders' datagrams. Sends nothing on the network.
    /// - Parameters:
    ///   - host: a name or a numeric address; the first address it resolves to is used.
    ///   - port: the peer's port, 1...65535.
    /// - Throws: `.invalidState` if already bound or connected; `.closed` after ``close()``;
    ///   `.hostNotFound`; `.invalidArgument` for port 0 or a multicast address (unicast only, as in
    ///   WinRT: bind and ``joinMulticastGroup(_:)`` to receive a group).
    public func connect(host: String, port: Int) async throws {
        guard (1...65535).contains(port) else {
            throw SocketError(.invalidArgument, "cannot connect to port \(port): it must be within 1...65535")
        }
        try beginOpening("connect")
        do {
            let remote = try await Self.resolve(host, port: port, isolation: self)
            guard !SocketEndpoint(remote).isMulticast else {
                throw SocketError(
                    .invalidArgument, "\(remote) is a multicast address: bind and joinMulticastGroup to receive a group")
            }
            let channel = try DatagramChannel(family: remote.family, control: control)
            try channel.connect(remote)
            try finishOpening(channel, remote: SocketEndpoint.unmapping(remote))
        } catch {
            if case .opening = state { state = .idle }
            throw error
        }
    }

    /// Closes the socket (WinRT `Close`): ``datagrams`` ends after the datagrams already received,
    /// later calls throw `.closed`. Idempotent.
    public func close() {
        if case .open(let channel, _) = state { channel.close() }
        state = .closed
        inbox.finish()
    }

    /// The local and remote endpoints and the drop counts, now.
    public var information: DatagramSocketInformation {
        var information = DatagramSocketInformation()
        if case .open(let channel, let remote) = state {
            information.localEndpoint = channel.localEndpoint
            information.remoteEndpoint = remote
        }
        information.droppedDatagrams = counters.dropped.load(ordering: .relaxed)
        information.kernelDroppedDatagrams = counters.kernelDrops.load(ordering: .relaxed)
        return information
    }

    /// Test hook: the open socket's channel, for inspecting its options.
    package var channel: DatagramChannel? {
        if case .open(let channel, _) = state { return channel }
        return nil
    }

    /// Test hook: returns once the reader has taken `count` datagrams from the kernel in all
    /// (delivered to ``datagrams`` or dropped), at once if it has.
    package nonisolated func waitUntilReceived(_ count: Int) async {
        await counters.waitUntilHandled(count)
    }

    /// Test hook: returns once a task waits in ``datagrams`` for the next datagram.
    package func waitUntilReceiverWaits() async {
        await inbox.waitUntilConsumerWaits()
    }

    // MARK: Opening

    private func beginOpening(_ what: String) throws(SocketError) {
        switch state {
        case .idle:
            try control.validate()
            state = .opening
        case .opening, .open:
            throw SocketError(.invalidState, "cannot \(what): the socket is already bound or connected")
        case .closed:
            throw SocketError(.closed, "cannot \(what): the socket is closed")
        }
    }

    /// Ends an opening that the awaits in between did not overtake (``close()`` may have run).
    private func finishOpening(_ channel: DatagramChannel, remote: SocketEndpoint?) throws(SocketError) {
        guard case .opening = state else {
            channel.close()
            throw SocketError(.closed, "the socket was closed while it was opening")
        }
        state = .open(channel, remote: remote)
        startReceiving(on: channel)
    }

    /// A socket bound to every address: `::` dual-stack, or `0.0.0.0` without IPv6.
    private static func wildcardChannel(port: Int, control: DatagramSocketControl) throws(SocketError) -> DatagramChannel {
        guard let any6 = SocketAddress(numericHost: "::", port: port),
            let any4 = SocketAddress(numericHost: "0.0.0.0", port: port)
        else {
            throw SocketError(.invalidArgument, "cannot bind to port \(port): it must be within 0...65535")
        }
        do {
            let channel = try DatagramChannel(family: AF_INET6, control: control)
            try channel.bind(any6)
            return channel
        } catch  where error.status == .addressFamilyNotSupported || error.status == .addressNotAvailable {
            let channel = try DatagramChannel(family: AF_INET, control: control)
            try channel.bind(any4)
            return channel
        }
    }

    /// The first address of `host`, with the resolver's errors as ``SocketError``s.
    static func resolve(_ host: String, port: Int, isolation: isolated (any Actor)?) async throws(SocketError) -> SocketAddress {
        do {
            let addresses = try await NameResolution.resolve(host: host, port: port, isolation: isolation)
            guard let first = addresses.first else { throw SocketError(.hostNotFound, "'\(host)' has no address") }
            return first
        } catch let error as WebSocketError {
            switch error.status {
            case .hostNameNotResolved: throw SocketError(.hostNotFound, error.message)
            case .operationCanceled: throw SocketError(.operationCanceled, error.message)
            default: throw SocketError(.invalidArgument, error.message)
            }
        } catch let error as SocketError {
            throw error
        } catch {
            throw SocketError(.unknown, "\(error)")
        }
    }
}

extension SocketEndpoint {
    /// Whether this is a multicast group address (`224.0.0.0/4`, `ff00::/8`).
    var isMulticast: Bool {
        switch family {
        case .ipv4: return (address.split(separator: ".").first.flatMap { Int($0) }).map { (224...239).contains($0) } ?? false
        case .ipv6: return address.lowercased().hasPrefix("ff")
        }
    }
}
