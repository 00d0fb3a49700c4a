import Synchronization
import WebSocketCore
import WebSockets

/// Listens for WebSocket connections and hands each valid upgrade request to the application,
/// which accepts or rejects it (WinRT `StreamSocketListener`, with the WebSocket handshake done).
///
/// ```swift
/// let listener = try await WebSocketListener.bind(configuration: configuration)
/// for await upgrade in listener {
///     guard upgrade.request.path == "/chat" else {
///         await upgrade.reject(status: 404)
///         continue
///     }
///     Task {
///         let socket = try await upgrade.accept(subprotocol: "chat.v1")
///         for try await message in socket.messages { try await socket.send(message) }
///     }
/// }
/// ```
///
/// What the application never sees: TCP connections that do not finish their request within
/// ``WebSocketServerConfiguration/handshakeTimeout`` of being accepted (closed), failed TLS
/// handshakes, requests that are not valid WebSocket upgrades, which are answered here (400 Bad
/// Request, 405, 426 Upgrade Required with `Sec-WebSocket-Version: 13`, 431 for a head over
/// ``WebSocketServerConfiguration/maxRequestHeadSize`` or
/// ``WebSocketServerConfiguration/maxRequestHeaderCount``) and closed, and valid ones while
/// ``WebSocketServerConfiguration/maxConnections`` are open (503 with `Retry-After`). Handshakes
/// run concurrently, so a slow client never delays the others, up to
/// ``WebSocketServerConfiguration/maxConcurrentHandshakes``: beyond that, connections wait in the
/// listen backlog (see `acceptLoop()` for that and for `accept` failing with `EMFILE`).
///
/// The sequence has one consumer. Upgrades wait for it in a queue of at most
/// ``WebSocketServerConfiguration/maxPendingUpgrades``; beyond that, and once nobody iterates any
/// more, clients get 503 Service Unavailable. An upgrade dropped without an answer is rejected
/// with 503 too.
///
/// Ending: ``close()`` stops accepting and ends the sequence but leaves accepted connections
/// alone (as `StreamSocketListener.Close` does); ``shutDown(timeout:)`` also closes every
/// accepted connection with 1001 (going away) and waits for them.
public final class WebSocketListener: AsyncSequence, Sendable {
    /// Each element is one valid upgrade request, to accept or reject.
    public typealias Element = WebSocketUpgrade
    /// The iterator over the upgrade requests.
    public typealias AsyncIterator = AsyncStream<WebSocketUpgrade>.Iterator

    /// The bound port (the kernel's choice when the configuration asked for port 0).
    public let port: Int
    /// The address listened on, as configured (`127.0.0.1`, `::1`, ...).
    public let host: String
    /// The bound address with its port, e.g. `127.0.0.1:54321` or `[::1]:54321`.
    public let localAddress: String
    /// The settings this listener was bound with.
    public let configuration: WebSocketServerConfiguration

    /// The public listener underneath; accepted connections are taken from it as bare TCP, since
    /// the handshakes (TLS included) run here, concurrently and under the handshake deadline.
    private let sockets: StreamSocketListener
    private let tlsContext: TLSServerContext?
    let registry: ConnectionRegistry
    private let upgrades: AsyncStream<WebSocketUpgrade>
    private let continuation: AsyncStream<WebSocketUpgrade>.Continuation
    private let acceptTask = Lock<Task<Void, Never>?>(nil)

    private init(sockets: StreamSocketListener, configuration: WebSocketServerConfiguration, tlsContext: TLSServerContext?) {
        self.sockets = sockets
        self.port = sockets.localEndpoint.port
        self.host = configuration.host
        self.localAddress = sockets.localEndpoint.description
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.registry = ConnectionRegistry(maxConnections: configuration.maxConnections)
        (upgrades, continuation) = AsyncStream.makeStream(
            of: WebSocketUpgrade.self, bufferingPolicy: .bufferingOldest(configuration.maxPendingUpgrades))
    }

    /// Binds, listens and starts accepting connections.
    /// - Throws: `.invalidArgument` for an invalid configuration (host not a numeric address,
    ///   port out of range, limits not positive, unreadable TLS certificate or key) or when the
    ///   address cannot be bound (for example, the port is in use).
    public static func bind(configuration: WebSocketServerConfiguration = .init()) async throws -> WebSocketListener {
        try configuration.validate()
        let tlsContext = try configuration.tls.map(TLSServerContext.init(configuration:))
        let sockets: StreamSocketListener
        do {
            sockets = try StreamSocketListener.bind(
                port: configuration.port, address: configuration.host, control: StreamSocketControl(), tls: nil,
                backlog: Int32(clamping: configuration.backlog))
        } catch {
            throw WebSocketError(.invalidArgument, "cannot listen: \(error.message)")
        }
        let listener = WebSocketListener(sockets: sockets, configuration: configuration, tlsContext: tlsContext)
        let task = Task { await listener.acceptLoop() }
        listener.acceptTask.withLock { $0 = task }
        return listener
    }

    /// The upgrade requests as they arrive; the sequence ends when the listener is closed or shut down.
    /// One consumer: iterate the listener from one task.
    public func makeAsyncIterator() -> AsyncStream<WebSocketUpgrade>.Iterator {
        upgrades.makeAsyncIterator()
    }

    /// The URL clients connect to, for a path (`ws://127.0.0.1:PORT/path`, `wss://` with TLS).
    public func url(path: String = "/") -> String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(tlsContext == nil ? "ws" : "wss")://\(host):\(port)\(path.hasPrefix("/") ? path : "/" + path)"
    }

    /// Accepted connections that have not ended yet.
    public var connectionCount: Int { registry.connectionCount }

    /// Test hook: returns `true` once `condition` holds for the listener's progress (at once if
    /// it does now), `false` if the task is cancelled first; re-checked each time a handshake
    /// starts or ends, an upgrade is queued or answered, a connection is added or has ended, or
    /// the accept loop waits.
    @discardableResult
    package func waitUntil(_ condition: @escaping @Sendable (ListenerProgress) -> Bool) async -> Bool {
        await registry.waitUntil(condition)
    }

    /// Test hook: the listener's progress now (``waitUntil(_:)`` waits for it).
    package var progress: ListenerProgress { registry.progress }

    /// Test hook: the listening socket, to inject `accept` failures
    /// (``TCPListener/injectAcceptError(_:)``).
    package var tcpListener: TCPListener { sockets.tcpListener }

    /// Stops accepting connections and ends the sequence of upgrades (after those already
    /// queued). Handshakes still in progress are answered 503; connections already accepted stay
    /// open. Idempotent.
    public func close() {
        sockets.close()
        acceptTask.withLock { $0?.cancel() }
        continuation.finish()
    }

    /// Graceful shutdown: stops accepting (``close()``), drops handshakes in progress and upgrades
    /// not yet answered, closes every accepted connection with 1001 (going away), and waits
    /// until they ended, at most `timeout`; connections still open then are dropped.
    public func shutDown(timeout: Duration = .seconds(5)) async {
        let connections = registry.beginShutdown()
        close()
        registry.closeHandshakes()
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { try? await connection.close(code: .goingAway, reason: "server shutting down") }
            }
            group.addTask {
                try? await releasingSleep(for: timeout)
                for connection in connections { await connection.abort() }
            }
            for _ in connections { await group.next() }
            group.cancelAll()
        }
    }

    // MARK: - Accepting

    /// Accepts connections until the listener closes, each handshake in a task of its own.
    ///
    /// At most ``WebSocketServerConfiguration/maxConcurrentHandshakes`` handshakes run at once:
    /// at the limit the loop stops calling `accept`, so new connections wait in the kernel's
    /// listen backlog (as with Go's `netutil.LimitListener`) until a handshake ends, which
    /// ``WebSocketServerConfiguration/handshakeTimeout`` bounds. They hold no descriptor there.
    ///
    /// A failed `accept` means that descriptors (`EMFILE`, `ENFILE`) or kernel memory ran out.
    /// Trying again at once would fail again (the connection stays queued, and an edge-triggered
    /// loop would never report it again): the loop pauses until something of the listener's ends
    /// (a handshake, an answered upgrade, a connection, each of which may free a descriptor) or a
    /// back-off delay passes (descriptors may be freed elsewhere in the process), then accepts
    /// again. No reserve descriptor is kept to accept-and-close the waiting clients: the pause
    /// serves them as soon as a descriptor is free, and a reserve would cost a descriptor per
    /// listener and race with the rest of the process for the number it frees.
    private func acceptLoop() async {
        let limit = configuration.maxConcurrentHandshakes
        var delay = configuration.acceptRetryDelay.lowerBound
        while !Task.isCancelled {
            guard await registry.waitForHandshakeSlot(limit: limit) else { return }
            let transport: TCPTransport
            do {
                transport = try await sockets.acceptTransport()
            } catch {
                if Task.isCancelled || registry.isShuttingDown || (error as? WebSocketError)?.status != .connectionAborted {
                    return  // closed or cancelled
                }
                await pauseAfterFailedAccept(for: delay)
                delay = Swift.min(delay * 2, configuration.acceptRetryDelay.upperBound)
                continue
            }
            delay = configuration.acceptRetryDelay.lowerBound
            // The handshake deadline counts from here: a client cannot stretch it by trickling bytes.
            let deadline = ContinuousClock.now + configuration.handshakeTimeout
            guard let handshakeID = registry.beginHandshake(transport) else {
                transport.close()
                return
            }
            Task { await self.handshake(transport, id: handshakeID, deadline: deadline) }
        }
    }

    /// Waits until something of the listener's ends or `delay` passed (or the loop is cancelled).
    private func pauseAfterFailedAccept(for delay: Duration) async {
        let releases = registry.acceptPaused()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.registry.waitUntil { $0.releases > releases } }
            group.addTask { try? await releasingSleep(for: delay) }
            await group.next()
            group.cancelAll()
        }
    }

    /// TLS (if configured), then the upgrade request, all before `deadline` (the connection is
    /// closed then); a valid request goes to the application, unless the server is at
    /// ``WebSocketServerConfiguration/maxConnections`` (503).
    private func handshake(_ tcp: TCPTransport, id handshakeID: ObjectIdentifier, deadline: ContinuousClock.Instant) async {
        defer { registry.endHandshakeSlot() }
        let timer = Task {
            try await releasingSleep(for: ContinuousClock.now.duration(to: deadline))
            tcp.close()
        }
        defer { timer.cancel() }
        let transport: any Transport
        let request: UpgradeRequest
        let buffered: [UInt8]
        do {
            if let tlsContext {
                transport = try await TLSTransport.accept(over: tcp, context: tlsContext)
            } else {
                transport = tcp
            }
            (request, buffered) = try await Self.readUpgrade(
                transport, maxHeadSize: configuration.maxRequestHeadSize,
                maxFieldCount: configuration.maxRequestHeaderCount)
        } catch {
            registry.endHandshake(handshakeID)
            return tcp.close()
        }
        let upgrade = WebSocketUpgrade(
            request: request, transport: transport, bufferedBytes: buffered,
            configuration: configuration, registry: registry, handshakeID: handshakeID)
        guard registry.hasRoomForConnection else {
            return await upgrade.refuseAtConnectionLimit()
        }
        switch continuation.yield(upgrade) {
        case .enqueued:
            registry.upgradeQueued()
        case .dropped(let refused):
            await refused.reject(status: 503, reason: "Service Unavailable", body: "Too many pending connections.\n")
        case .terminated:
            await upgrade.reject(status: 503, reason: "Service Unavailable", body: "The server is not accepting connections.\n")
        @unknown default:
            await upgrade.reject(status: 503, reason: "Service Unavailable")
        }
    }

    /// Reads and validates the upgrade request; answers an invalid one with its HTTP error.
    /// Static (not private) so that tests can run the server's side of the handshake over an
    /// in-memory transport.
    static func readUpgrade(_ transport: any Transport, maxHeadSize: Int, maxFieldCount: Int = .max) async throws -> (
        UpgradeRequest, [UInt8]
    ) {
        var parser = HTTPHeadParser<HTTPRequestHead>(maxHeadSize: maxHeadSize, maxFieldCount: maxFieldCount)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try await transport.read(into: &buffer, isolation: nil)
            guard count > 0 else { throw WebSocketError(.connectionAborted, "client left during the handshake") }
            let progress: HTTPHeadParser<HTTPRequestHead>.Progress
            do {
                progress = try parser.append(buffer[..<count])
            } catch {
                try? await transport.write([ServerHandshake.rejectionBytes(for: HandshakeError(request: error))], isolation: nil)
                throw error
            }
            guard case .complete(let head, let remaining) = progress else { continue }
            do {
                return (try ServerHandshake.validate(request: head), remaining)
            } catch {
                try? await transport.write([ServerHandshake.rejectionBytes(for: error)], isolation: nil)
                throw error
            }
        }
    }
}
