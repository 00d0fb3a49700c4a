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
/// What the application never sees: TCP connections that send no request within
/// ``WebSocketServerConfiguration/handshakeTimeout`` (closed), failed TLS handshakes, and requests
/// that are not valid WebSocket upgrades, which are answered here (400 Bad Request, 405, 426
/// Upgrade Required with `Sec-WebSocket-Version: 13`, 431) and closed. Handshakes run
/// concurrently, so a slow client never delays the others.
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
    public typealias Element = WebSocketUpgrade
    public typealias AsyncIterator = AsyncStream<WebSocketUpgrade>.Iterator

    /// The bound port (the kernel's choice when the configuration asked for port 0).
    public let port: Int
    /// The address listened on, as configured (`127.0.0.1`, `::1`, ...).
    public let host: String
    /// The bound address with its port, e.g. `127.0.0.1:54321` or `[::1]:54321`.
    public let localAddress: String
    /// The settings this listener was bound with.
    public let configuration: WebSocketServerConfiguration

    private let tcp: TCPListener
    private let tlsContext: TLSServerContext?
    let registry: ConnectionRegistry
    private let upgrades: AsyncStream<WebSocketUpgrade>
    private let continuation: AsyncStream<WebSocketUpgrade>.Continuation
    private let acceptTask = Lock<Task<Void, Never>?>(nil)

    private init(tcp: TCPListener, configuration: WebSocketServerConfiguration, tlsContext: TLSServerContext?) {
        self.tcp = tcp
        self.port = tcp.port
        self.host = configuration.host
        self.localAddress = tcp.localAddress
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.registry = ConnectionRegistry()
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
        let tcp = try TCPListener.bind(host: configuration.host, port: configuration.port,
                                       backlog: Int32(clamping: configuration.backlog))
        let listener = WebSocketListener(tcp: tcp, configuration: configuration, tlsContext: tlsContext)
        let task = Task { await listener.acceptLoop() }
        listener.acceptTask.withLock { $0 = task }
        return listener
    }

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

    /// Test hook: returns once `condition` holds for the listener's progress (at once if it
    /// does now); re-checked each time a handshake starts, an upgrade is queued for the
    /// application, or an accepted connection is added or has ended.
    package func waitUntil(_ condition: @escaping @Sendable (ListenerProgress) -> Bool) async {
        await registry.waitUntil(condition)
    }

    /// Stops accepting connections and ends the sequence of upgrades (after those already
    /// queued). Handshakes still in progress are answered 503; connections already accepted stay
    /// open. Idempotent.
    public func close() {
        tcp.close()
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
                try? await Task.sleep(for: timeout)
                for connection in connections { await connection.abort() }
            }
            for _ in connections { await group.next() }
            group.cancelAll()
        }
    }

    // MARK: - Accepting

    private func acceptLoop() async {
        while !Task.isCancelled {
            let transport: TCPTransport
            do {
                transport = try await tcp.accept()
            } catch {
                if Task.isCancelled || registry.isShuttingDown { return }
                // Transient accept failures (for example EMFILE): back off briefly, keep serving.
                try? await Task.sleep(for: .milliseconds(10))
                continue
            }
            Task { await self.handshake(transport) }
        }
    }

    /// TLS (if configured), then the upgrade request; a valid one goes to the application.
    private func handshake(_ tcp: TCPTransport) async {
        // Tracked until answered (or failed), so that a shutdown can drop it.
        guard let handshakeID = registry.beginHandshake(tcp) else { return tcp.close() }
        let timeout = configuration.handshakeTimeout
        let timer = Task {
            try await Task.sleep(for: timeout)
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
            (request, buffered) = try await readUpgrade(transport)
        } catch {
            registry.endHandshake(handshakeID)
            return tcp.close()
        }
        let upgrade = WebSocketUpgrade(request: request, transport: transport, bufferedBytes: buffered,
                                       configuration: configuration, registry: registry, handshakeID: handshakeID)
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
    private func readUpgrade(_ transport: any Transport) async throws -> (UpgradeRequest, [UInt8]) {
        var parser = HTTPHeadParser<HTTPRequestHead>(maxHeadSize: configuration.maxRequestHeadSize)
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

/// What a listener has done so far, for tests that wait for it (``WebSocketListener/waitUntil(_:)``).
package struct ListenerProgress: Sendable {
    /// TCP connections accepted whose handshake (TLS, then the upgrade request) started.
    package var handshakesStarted = 0
    /// Upgrades put in the queue for the application (not refused because it was full or closed).
    package var upgradesQueued = 0
    /// Accepted WebSocket connections that have not ended yet (``WebSocketListener/connectionCount``).
    package var openConnections = 0
}

/// The listener's bookkeeping, for shutdown: handshakes in progress and upgrades not yet answered
/// (by their TCP transport), and accepted connections until they end.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: WebSocketConnection] = [:]
        var handshakes: [ObjectIdentifier: TCPTransport] = [:]
        var isShuttingDown = false
        var handshakesStarted = 0
        var upgradesQueued = 0
        /// Tests waiting for a ``ListenerProgress`` (``WebSocketListener/waitUntil(_:)``). Empty
        /// unless a test waits: the paths that check it pay one `isEmpty` under the lock they
        /// hold anyway.
        var watchers: [(condition: @Sendable (ListenerProgress) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []

        var progress: ListenerProgress {
            ListenerProgress(handshakesStarted: handshakesStarted, upgradesQueued: upgradesQueued,
                             openConnections: connections.count)
        }

        /// Removes and returns the watchers whose condition now holds.
        mutating func takeSatisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            guard !watchers.isEmpty else { return [] }
            let progress = self.progress
            var satisfied: [CheckedContinuation<Void, Never>] = []
            watchers.removeAll { watcher in
                guard watcher.condition(progress) else { return false }
                satisfied.append(watcher.continuation)
                return true
            }
            return satisfied
        }
    }
    private let state = Lock(State())

    var isShuttingDown: Bool { state.withLock { $0.isShuttingDown } }
    var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Records a handshake; `nil` when shutting down (the caller drops the connection).
    func beginHandshake(_ transport: TCPTransport) -> ObjectIdentifier? {
        let id = ObjectIdentifier(transport)
        let (began, watchers) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            guard !state.isShuttingDown else { return (false, []) }
            state.handshakes[id] = transport
            state.handshakesStarted += 1
            return (true, state.takeSatisfiedWatchers())
        }
        for watcher in watchers { watcher.resume() }
        return began ? id : nil
    }

    /// Records that an upgrade went into the application's queue (for ``ListenerProgress``).
    func upgradeQueued() {
        let watchers = state.withLock { state in
            state.upgradesQueued += 1
            return state.takeSatisfiedWatchers()
        }
        for watcher in watchers { watcher.resume() }
    }

    /// Returns once `condition` holds for the progress so far.
    func waitUntil(_ condition: @escaping @Sendable (ListenerProgress) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if condition(state.progress) { return true }
                state.watchers.append((condition, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func endHandshake(_ id: ObjectIdentifier) {
        _ = state.withLock { $0.handshakes.removeValue(forKey: id) }
    }

    /// Drops every handshake in progress and every unanswered upgrade.
    func closeHandshakes() {
        let handshakes = state.withLock { state in
            defer { state.handshakes.removeAll() }
            return Array(state.handshakes.values)
        }
        for transport in handshakes { transport.close() }
    }

    /// Records an accepted connection until it ends; `false` when shutting down.
    func add(_ connection: WebSocketConnection) -> Bool {
        let id = ObjectIdentifier(connection)
        let (added, watchers) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            guard !state.isShuttingDown else { return (false, []) }
            state.connections[id] = connection
            return (true, state.takeSatisfiedWatchers())
        }
        for watcher in watchers { watcher.resume() }
        if added {
            // `self` strongly: the task ends when the connection does, and nothing the registry
            // holds refers to the task, so there is no cycle; the registry lives at most until its
            // last connection ended. A `[weak self]` would buy nothing and give the registry a
            // Swift side table that, once the task is gone, only the registry's encoded reference
            // count points to: LeakSanitizer cannot decode it and reported a registry still alive
            // at exit as a 32-byte leak.
            Task {
                await connection.waitUntilFinalized()
                let watchers = self.state.withLock { state in
                    state.connections.removeValue(forKey: id)
                    return state.takeSatisfiedWatchers()
                }
                for watcher in watchers { watcher.resume() }
            }
        }
        return added
    }

    /// Marks the registry as shutting down and returns the open connections.
    func beginShutdown() -> [WebSocketConnection] {
        state.withLock { state in
            state.isShuttingDown = true
            return Array(state.connections.values)
        }
    }
}
