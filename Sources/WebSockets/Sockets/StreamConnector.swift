import CWebSocketsShim

#if canImport(Glibc)
    import Glibc
#endif

/// Opens the TCP connection of ``StreamSocket/connect(host:port:tls:)``: the client's name
/// resolution (`NameResolution`: numeric literals in place, AAAA and A concurrently on helper
/// threads), then Happy Eyeballs v2 over the addresses (`HappyEyeballs`, the WebSocket client's
/// race: families interleaved, 250 ms between attempts, first to connect wins).
///
/// Why its own per-address connect rather than `TCPTransport.connect`'s: the control's options must
/// be on the socket before `connect` (the SYN carries the hop limit, the send buffer sizes the
/// window), and a socket error keeps its `errno` for its status.
enum StreamConnector {
    static func connect(
        host: String, port: Int, control: StreamSocketControl, loop: EventLoop = .shared,
        isolation: isolated (any Actor)? = #isolation
    ) async throws(SocketError) -> TCPTransport {
        let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let addresses: [SocketAddress]
        do {
            addresses = try await NameResolution.resolveBothFamilies(host: host, port: port, isolation: isolation)
        } catch {
            throw SocketError(error, "connect to \(name)")
        }
        do {
            return try await HappyEyeballs.connect(to: HappyEyeballs.interleave(addresses), name: name) { address in
                let operation = name == address.description ? "connect to \(name)" : "connect to \(name) (\(address))"
                return try await connect(to: address, control: control, loop: loop, operation: operation, isolation: nil)
            }
        } catch {
            throw SocketError(error, "connect to \(name)")
        }
    }

    /// One address: socket, options, non-blocking `connect`, wait for writability, `SO_ERROR`.
    private static func connect(
        to address: SocketAddress, control: StreamSocketControl, loop: EventLoop, operation: String,
        isolation: isolated (any Actor)? = #isolation
    ) async throws(SocketError) -> TCPTransport {
        let fd = cws_stream_socket(address.family)
        guard fd >= 0 else { throw SocketError(errno: errno, operation) }
        do {
            try StreamSocketOptions.apply(control, to: fd, family: address.family)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        let connectError = result == 0 ? 0 : errno
        if result != 0 && connectError != EINPROGRESS && connectError != EINTR {
            _ = Glibc.close(fd)
            throw SocketError(errno: connectError, operation)
        }
        let registration: FDRegistration
        do {
            registration = try loop.register(fd)
        } catch {
            throw SocketError(error, operation)
        }
        do {
            if result != 0 {
                let code = try await TCPTransport.connectOutcome(of: registration, isolation: isolation)
                if code != 0 { throw SocketError(errno: code, operation) }
            }
            let local = try registration.withDescriptor(for: .writable) { SocketAddress.local(of: $0) }
            return TCPTransport(registration: registration, localAddress: local?.description, remoteAddress: address.description)
        } catch {
            registration.close()
            throw SocketError(error, operation)
        }
    }
}
