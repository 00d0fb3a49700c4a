import CWebSocketsShim

#if canImport(Glibc)
    import Glibc
#endif

/// A listening TCP socket on an ``EventLoop`` that accepts ``TCPTransport`` connections.
///
/// Under `WebSocketListener` (and tests): it binds numeric IPv4 or IPv6 addresses only, so
/// binding never blocks on name resolution.
package final class TCPListener: Sendable {
    /// The loop that reports readiness for the listener and for every accepted connection.
    package let loop: EventLoop
    private let registration: FDRegistration
    /// The bound address, e.g. `127.0.0.1:54321` or `[::1]:54321`.
    package let localAddress: String
    /// The bound port (the kernel's choice when bound with port 0).
    package let port: Int
    /// Test hook state: an injected `accept` error and the attempts made (``injectAcceptError(_:)``).
    private let faults = Lock(AcceptFaults())

    private struct AcceptFaults {
        var code: CInt?
        var attempts = 0
    }

    private init(loop: EventLoop, registration: FDRegistration, localAddress: SocketAddress) {
        self.loop = loop
        self.registration = registration
        self.localAddress = localAddress.description
        self.port = localAddress.port
    }

    /// Binds and listens on `host:port` with `SO_REUSEADDR`.
    /// - Parameters:
    ///   - host: a numeric IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `[::1]`, `0.0.0.0`, `::`).
    ///   - port: 0 asks the kernel for an ephemeral port; read it back from ``port``.
    /// - Throws: `.invalidArgument` for a host that is not a literal, a port outside 0...65535, or
    ///   when the address cannot be bound (in use, not available), with `strerror` in the message.
    package static func bind(
        host: String = "127.0.0.1",
        port: Int = 0,
        backlog: Int32 = 511,
        loop: EventLoop = .shared
    ) throws -> TCPListener {
        guard let address = SocketAddress(numericHost: host, port: port) else {
            throw WebSocketError(
                .invalidArgument, "cannot listen on '\(host)' port \(port): not a numeric IPv4/IPv6 address and port")
        }
        func failure(_ what: String, _ code: CInt) -> WebSocketError {
            WebSocketError(.invalidArgument, "cannot listen on \(address): \(what)", errno: code)
        }
        let fd = cws_stream_socket(address.family)
        guard fd >= 0 else { throw failure("socket", errno) }
        var one: CInt = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        if address.withSockAddr({ Glibc.bind(fd, $0, $1) }) != 0 || Glibc.listen(fd, backlog) != 0 {
            let code = errno
            _ = Glibc.close(fd)
            throw failure("bind/listen", code)
        }
        let bound = SocketAddress.local(of: fd) ?? address
        let registration = try loop.register(fd)
        return TCPListener(loop: loop, registration: registration, localAddress: bound)
    }

    /// Accepts the next connection (non-blocking, `SOCK_NONBLOCK | SOCK_CLOEXEC`, `TCP_NODELAY`),
    /// waiting for one if none is queued. One accepting task at a time.
    /// - Throws: `.closed` once ``close()`` was called (also wakes a pending accept),
    ///   `.operationCanceled` if the task is cancelled while waiting, `.connectionAborted` when
    ///   `accept` fails for lack of resources (descriptors, memory). After such a failure the
    ///   connection stays queued and the socket is not reported readable again for it: call
    ///   again later without waiting for a new connection.
    package func accept(isolation: isolated (any Actor)? = #isolation) async throws -> TCPTransport {
        while true {
            let (fd, code, peer) = try registration.withDescriptor(for: .readable) { listener -> (CInt, CInt, SocketAddress?) in
                if let injected = faults.withLock({ faults -> CInt? in
                    faults.attempts += 1
                    return faults.code
                }) {
                    return (-1, injected, nil)
                }
                var storage = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let fd = withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cws_accept(listener, $0, &length) }
                }
                guard fd >= 0 else { return (fd, errno, nil) }
                let peer = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, length: length) }
                }
                return (fd, 0, peer)
            }
            if fd >= 0 {
                TCPTransport.setNoDelay(fd)
                let local = SocketAddress.local(of: fd)
                let connection = try loop.register(fd)
                return TCPTransport(registration: connection, localAddress: local?.description, remoteAddress: peer?.description)
            }
            switch code {
            case EAGAIN, EWOULDBLOCK: try await registration.waitReadable(isolation: isolation)
            case EINTR, ECONNABORTED, EPROTO: continue  // the connection died in the queue: next one
            default: throw WebSocketError(.connectionAborted, "accept failed", errno: code)
            }
        }
    }

    /// Test hook: while `code` is set, every `accept(2)` attempt fails with it instead of being
    /// made (`EMFILE`, say, without lowering the process's `RLIMIT_NOFILE`, which would hit every
    /// test running in parallel); `nil` makes the real calls again.
    package func injectAcceptError(_ code: CInt?) {
        faults.withLock { $0.code = code }
    }

    /// Test hook: the `accept(2)` attempts so far, injected failures included.
    package var acceptAttempts: Int { faults.withLock { $0.attempts } }

    /// Test hook: returns `true` once an ``accept(isolation:)`` is suspended waiting for a
    /// connection (at once if one is now), or `false` if the listener is closed first.
    package func waitUntilAcceptIsPending() async -> Bool {
        await registration.waitUntilParked(.readable)
    }

    /// Stops listening and closes the socket; a pending ``accept(isolation:)`` throws `.closed`.
    /// Idempotent, any thread. Connections already accepted are not affected.
    package func close() {
        registration.close()
    }
}
