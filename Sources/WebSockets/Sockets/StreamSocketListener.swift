#if canImport(Glibc)
    import Glibc
#endif

/// Listens for TCP connections and hands each one over as a connected ``StreamSocket`` (WinRT
/// `StreamSocketListener`, with `ConnectionReceived` as an `AsyncSequence`).
///
/// ```swift
/// let listener = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
/// print("listening on", listener.localEndpoint)       // the port the system chose
/// for try await socket in listener.connections {
///     Task {
///         for try await chunk in socket.chunks() { try await socket.write(chunk) }   // echo
///         await socket.close()
///     }
/// }
/// ```
///
/// The seed's ordering rules hold by construction: the control (applied to every accepted
/// socket) and the TLS identity are given to ``bind(port:address:control:tls:)``, so nothing can
/// change them once listening. Connections are accepted while someone iterates ``connections``
/// (or calls ``accept()``); until then they wait in the kernel's listen backlog.
///
/// With TLS, an accepted socket runs its server handshake on its first read or write (so a
/// slow client never delays accepting the next one); a failed handshake fails that read or
/// write. ``close()`` stops listening and leaves accepted sockets alone.
public actor StreamSocketListener {
    /// The bound address and port (the port the system chose when bound with 0).
    public nonisolated let localEndpoint: SocketEndpoint
    /// The settings applied to every accepted socket.
    public nonisolated let control: StreamSocketControl
    /// The listening socket (`WebSocketListener` accepts through it too).
    package nonisolated let tcpListener: TCPListener
    private nonisolated let tlsContext: TLSServerContext?

    private init(tcp: TCPListener, endpoint: SocketEndpoint, control: StreamSocketControl, tls: TLSServerContext?) {
        self.tcpListener = tcp
        self.localEndpoint = endpoint
        self.control = control
        self.tlsContext = tls
    }

    /// Binds and listens (WinRT `BindServiceNameAsync` / `BindEndpointAsync`).
    /// - Parameters:
    ///   - port: the TCP port; 0 lets the system choose (read it from ``localEndpoint``).
    ///   - address: a numeric IPv4 or IPv6 address of this host (`127.0.0.1`, `::1`, `[::1]`);
    ///     `nil` listens on every address, IPv6 and IPv4 (`::`, or `0.0.0.0` where IPv6 is off).
    ///   - control: socket options for accepted connections (its ``StreamSocketControl/tls`` is
    ///     the client side's and is not used here).
    ///   - tls: the server identity, to accept TLS connections; `nil` for plain TCP.
    /// - Throws: `.invalidArgument` for an address that is not numeric, a port outside
    ///   0...65535, a control out of range or an unreadable certificate or key;
    ///   `.addressAlreadyInUse`, `.addressNotAvailable`, `.accessDenied`, ... from the system.
    public static func bind(
        port: Int = 0, address: String? = nil, control: StreamSocketControl = .init(), tls: TLSServerConfiguration? = nil
    ) async throws(SocketError) -> StreamSocketListener {
        try bind(port: port, address: address, control: control, tls: tls, backlog: 511)
    }

    /// ``bind(port:address:control:tls:)`` with a listen backlog (`WebSocketListener`'s setting).
    package static func bind(
        port: Int, address: String?, control: StreamSocketControl, tls: TLSServerConfiguration?, backlog: Int32
    ) throws(SocketError) -> StreamSocketListener {
        try control.validate()
        guard (0...65535).contains(port) else { throw SocketError(.invalidArgument, "bind: port \(port) is outside 0...65535") }
        let context: TLSServerContext?
        do {
            context = try tls.map(TLSServerContext.init(configuration:))
        } catch {
            throw SocketError(error, "bind: TLS identity")
        }
        let hosts = address.map { [$0] } ?? ["::", "0.0.0.0"]
        var lastError = SocketError(.invalidArgument, "bind: no address")
        for host in hosts {
            guard let wanted = SocketAddress(numericHost: host, port: port) else {
                throw SocketError(.invalidArgument, "bind to '\(host)' port \(port): not a numeric IPv4 or IPv6 address")
            }
            do {
                let tcp = try TCPListener.bind(host: host, port: port, backlog: backlog)
                let bound = SocketAddress(numericHost: host, port: tcp.port) ?? wanted
                return StreamSocketListener(tcp: tcp, endpoint: SocketEndpoint(bound), control: control, tls: context)
            } catch {
                lastError = SocketError(error, "bind to \(wanted)")
                if lastError.status != .addressFamilyNotSupported { throw lastError }
            }
        }
        throw lastError
    }

    /// Accepted connections, in order, each a connected ``StreamSocket``; the sequence ends when
    /// the listener closes. One iteration at a time.
    public nonisolated var connections: Connections { Connections(listener: self) }

    /// Accepts the next connection, waiting for one.
    /// - Throws: `.closed` once the listener is closed (also wakes a pending accept);
    ///   `.operationCanceled`; `.noResources` when the process is out of descriptors (the
    ///   connection stays queued: try again later).
    public nonisolated func accept() async throws(SocketError) -> StreamSocket {
        while true {
            let tcp: TCPTransport
            do {
                tcp = try await acceptTransport()
            } catch {
                let failure = SocketError(error, "accept on \(localEndpoint)")
                throw failure.status == .connectionAborted
                    ? SocketError(.noResources, failure.message) : failure
            }
            let applied = tcp.registration.inspectDescriptor { fd -> Bool in
                let family = SocketAddress.local(of: fd)?.family ?? AF_INET
                return (try? StreamSocketOptions.apply(control, to: fd, family: family)) != nil
            }
            guard applied == true else {
                tcp.close()  // the connection died already, or refused an option: the next one
                continue
            }
            return StreamSocket(accepted: tcp, control: control, tls: tlsContext)
        }
    }

    /// The next accepted TCP connection, without options or TLS: for `WebSocketListener`, which
    /// runs its own handshakes. Throws `WebSocketError`s, as ``TCPListener/accept(isolation:)``.
    package func acceptTransport(isolation: isolated (any Actor)? = #isolation) async throws -> TCPTransport {
        try await tcpListener.accept(isolation: isolation)
    }

    /// Stops listening (WinRT `Close`): a pending ``accept()`` throws `.closed` and
    /// ``connections`` ends. Sockets already accepted are not affected. Idempotent.
    public nonisolated func close() {
        tcpListener.close()
    }

    /// The accepted connections of a ``StreamSocketListener`` (``StreamSocketListener/connections``).
    public struct Connections: AsyncSequence, Sendable {
        /// A connected, accepted socket.
        public typealias Element = StreamSocket
        let listener: StreamSocketListener

        /// An iterator accepting from the listener.
        public func makeAsyncIterator() -> Iterator { Iterator(listener: listener) }

        /// Accepts with ``StreamSocketListener/accept()``; `nil` once the listener is closed.
        public struct Iterator: AsyncIteratorProtocol {
            let listener: StreamSocketListener

            /// The next connection, `nil` once the listener is closed.
            /// - Throws: ``SocketError`` (`.operationCanceled`, `.noResources`).
            public mutating func next() async throws -> StreamSocket? {
                do {
                    return try await listener.accept()
                } catch  where error.status == .closed {
                    return nil
                }
            }
        }
    }
}
