import Synchronization
import WebSocketCore
import WebSockets

/// A small WebSocket server for loopback use: demos, tests, `websocket serve`, benchmarks.
///
/// It accepts TCP connections, performs the server side of the opening handshake with the same
/// sans-I/O core as the client, and runs a handler per connection:
///
/// ```swift
/// let server = try await WebSocketServer.start(port: 0) { socket in
///     for try await message in socket.messages { try await socket.send(message) }
/// }
/// print(server.port)
/// ```
///
/// Requests that are not valid WebSocket upgrades get an HTTP error (400, 405, 426, 431) and are
/// closed. ``shutDown(timeout:)`` stops accepting and closes every connection with 1001.
public final class WebSocketServer: Sendable {
    /// Server settings.
    public struct Configuration: Sendable {
        /// The address to listen on. Default `127.0.0.1` (loopback only).
        public var host = "127.0.0.1"
        /// The port; 0 picks a free one (see ``WebSocketServer/port``).
        public var port = 0
        /// Subprotocols the server supports, in its order of preference: the first one the client
        /// offers is selected.
        public var subprotocols: [String] = []
        /// The largest message accepted (1009 above). Default 16 MiB.
        public var maxMessageSize = 16 * 1024 * 1024
        /// The largest request head accepted (431 above). Default 16 KiB.
        public var maxRequestHeadSize = 16 * 1024
        /// How long a client may take to send its upgrade request. Default 10 s.
        public var handshakeTimeout: Duration = .seconds(10)
        /// How long a close waits for the client's close frame. Default 10 s.
        public var closeTimeout: Duration = .seconds(10)
        /// Bytes queued for sending above which `send` suspends. Default 1 MiB.
        public var outboundBufferSize = 1024 * 1024
        /// Received messages waiting for the handler above which reading pauses. Default 16.
        public var maxPendingMessages = 16
        /// Serve `wss://`: TLS with this certificate chain and key (and, optionally, client
        /// certificates). `nil` (the default) serves plain `ws://`.
        public var tls: TLSServerConfiguration?
        /// permessage-deflate (RFC 7692) for clients that offer it. Default
        /// ``WebSocketCompression/serverDefault`` (accepted with 12-bit windows, as Python
        /// `websockets` does); `.disabled` answers no offer.
        public var compression: WebSocketCompression = .serverDefault

        public init() {}
    }

    /// What runs for each accepted connection.
    public typealias Handler = @Sendable (ServerWebSocket) async throws -> Void

    /// The bound port.
    public let port: Int
    /// The address the server listens on.
    public let host: String

    private let listener: TCPListener
    private let configuration: Configuration
    private let tlsContext: TLSServerContext?
    private let handler: Handler
    private struct State {
        var connections: [ObjectIdentifier: WebSocketConnection] = [:]
        var isShuttingDown = false
        var acceptTask: Task<Void, Never>?
    }
    private let state = Mutex(State())

    private init(listener: TCPListener, configuration: Configuration, tlsContext: TLSServerContext?,
                 handler: @escaping Handler) {
        self.listener = listener
        self.tlsContext = tlsContext
        self.configuration = configuration
        self.handler = handler
        self.port = listener.port
        self.host = configuration.host
    }

    /// Binds and starts accepting connections.
    public static func start(configuration: Configuration = .init(), handler: @escaping Handler) async throws -> WebSocketServer {
        let tlsContext = try configuration.tls.map(TLSServerContext.init(configuration:))
        try configuration.compression.validate()
        let listener = try TCPListener.bind(host: configuration.host, port: configuration.port)
        let server = WebSocketServer(listener: listener, configuration: configuration, tlsContext: tlsContext,
                                     handler: handler)
        let task = Task { await server.acceptLoop() }
        server.state.withLock { $0.acceptTask = task }
        return server
    }

    /// Binds on `port` of loopback and echoes every message back unchanged.
    public static func echo(port: Int = 0) async throws -> WebSocketServer {
        var configuration = Configuration()
        configuration.port = port
        return try await start(configuration: configuration) { socket in
            for try await message in socket.messages {
                try await socket.send(message)
            }
        }
    }

    /// The URL clients connect to, for a path (`ws://127.0.0.1:PORT/path`, `wss://` with TLS).
    public func url(path: String = "/") -> String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(tlsContext == nil ? "ws" : "wss")://\(host):\(port)\(path.hasPrefix("/") ? path : "/" + path)"
    }

    /// Stops accepting, closes every open connection with 1001 (going away), and waits for them
    /// to end, at most `timeout` (then they are dropped).
    public func shutDown(timeout: Duration = .seconds(5)) async {
        let (connections, acceptTask) = state.withLock { state in
            state.isShuttingDown = true
            return (Array(state.connections.values), state.acceptTask)
        }
        listener.close()
        acceptTask?.cancel()
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

    private func acceptLoop() async {
        while !Task.isCancelled {
            let transport: TCPTransport
            do {
                transport = try await listener.accept()
            } catch {
                if state.withLock({ $0.isShuttingDown }) { return }
                // Transient accept failures (for example EMFILE): back off briefly, keep serving.
                try? await Task.sleep(for: .milliseconds(10))
                continue
            }
            Task { await self.serve(transport) }
        }
    }

    private func serve(_ tcp: TCPTransport) async {
        let upgraded: (UpgradeRequest, [UInt8], any Transport)
        do {
            upgraded = try await withHandshakeTimeout(tcp) {
                var transport: any Transport = tcp
                if let tlsContext = self.tlsContext {
                    transport = try await TLSTransport.accept(over: tcp, context: tlsContext)
                }
                let (request, buffered) = try await self.readUpgrade(transport)
                return (request, buffered, transport)
            }
        } catch {
            tcp.close()
            return
        }
        let (request, buffered, transport) = upgraded
        let subprotocol = configuration.subprotocols.first { request.protocols.contains($0) }
        let inbox = MessageInbox(highWater: configuration.maxPendingMessages)
        var core = ConnectionCore.Configuration()
        core.maxMessageSize = configuration.maxMessageSize
        let deflate = configuration.compression.options.flatMap {
            PerMessageDeflate.serverAccept(offers: request.extensions, options: $0)
        }
        core.deflate = deflate?.parameters
        if let options = configuration.compression.options { core.deflateOptions = options }
        let connection = WebSocketConnection(
            transport: transport, role: .server, configuration: core, inbox: inbox,
            closeTimeout: configuration.closeTimeout, outboundBufferSize: configuration.outboundBufferSize,
            messageType: .binary)
        do {
            try await transport.write([ServerHandshake.responseBytes(for: request, subprotocol: subprotocol, extensions: deflate?.response)], isolation: nil)
        } catch {
            transport.close()
            return
        }
        let id = ObjectIdentifier(connection)
        let accepted = state.withLock { state -> Bool in
            guard !state.isShuttingDown else { return false }
            state.connections[id] = connection
            return true
        }
        guard accepted else {
            transport.close()
            return
        }
        await connection.start(bufferedBytes: buffered)
        let socket = ServerWebSocket(request: request, negotiatedProtocol: subprotocol, compression: deflate?.parameters,
                                     connection: connection,
                                     messages: inbox.makeStream())
        do {
            try await handler(socket)
            try await connection.close(code: .normalClosure, reason: "")
        } catch {
            try? await connection.close(code: .internalError, reason: "")
        }
        await connection.waitUntilFinalized()
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
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

    private func withHandshakeTimeout<T: Sendable>(
        _ transport: TCPTransport, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = configuration.handshakeTimeout
        let timer = Task {
            try await Task.sleep(for: timeout)
            transport.close()
        }
        defer { timer.cancel() }
        return try await body()
    }
}
