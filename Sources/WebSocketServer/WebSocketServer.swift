import WebSocketCore
import WebSockets

/// The common case on top of ``WebSocketListener``: every upgrade is accepted and handed,
/// message level, to one handler, which runs in its own task per connection.
///
/// ```swift
/// let server = try await WebSocketServer.start { socket in
///     for try await message in socket.messages { try await socket.send(message) }
/// }
/// print(server.url())   // ws://127.0.0.1:PORT/
/// ```
///
/// Handlers run on Swift's global pool unless
/// ``WebSocketServerConfiguration/runsHandlersOnEventLoop`` moves them onto the connections' event
/// loop (faster, as long as a handler never blocks).
///
/// When the handler returns, the connection is closed with 1000 (normal closure); when it throws,
/// with 1011 (internal error). Requests that are not valid WebSocket upgrades get an HTTP error
/// (400, 405, 426, 431) and never reach the handler. To choose per request (path, headers,
/// subprotocol) or to reject some, use ``WebSocketListener`` directly.
public final class WebSocketServer: Sendable {
    /// Server settings (host, port, limits, TLS, compression...).
    public typealias Configuration = WebSocketServerConfiguration

    /// What runs for each accepted connection.
    public typealias Handler = @Sendable (ServerWebSocket) async throws -> Void

    /// The listener underneath.
    public let listener: WebSocketListener
    /// The bound port.
    public var port: Int { listener.port }
    /// The address the server listens on.
    public var host: String { listener.host }

    private init(listener: WebSocketListener) {
        self.listener = listener
    }

    /// Binds and starts accepting connections, each served by `handler`.
    /// - Throws: what ``WebSocketListener/bind(configuration:)`` throws.
    public static func start(configuration: Configuration = .init(), handler: @escaping Handler) async throws -> WebSocketServer {
        let listener = try await WebSocketListener.bind(configuration: configuration)
        let executor = handlerExecutor(configuration)
        Task {
            for await upgrade in listener {
                Task(executorPreference: executor) { await serve(upgrade, handler) }
            }
        }
        return WebSocketServer(listener: listener)
    }

    /// What runs for each accepted connection, seen as a byte stream (``startStreams(configuration:handler:)``).
    public typealias StreamHandler = @Sendable (ServerStreamWebSocket) async throws -> Void

    /// Binds and starts accepting connections, each served as a byte stream
    /// (``WebSocketUpgrade/acceptStream(subprotocol:headers:)``) by `handler`; closed with 1000
    /// when it returns, 1011 when it throws, as ``start(configuration:handler:)``.
    public static func startStreams(configuration: Configuration = .init(), handler: @escaping StreamHandler) async throws
        -> WebSocketServer
    {
        let listener = try await WebSocketListener.bind(configuration: configuration)
        let executor = handlerExecutor(configuration)
        Task {
            for await upgrade in listener {
                Task(executorPreference: executor) {
                    guard let socket = try? await upgrade.acceptStream() else { return }
                    do {
                        try await handler(socket)
                        try await socket.close(code: .normalClosure, reason: "")
                    } catch {
                        try? await socket.close(code: .internalError, reason: "")
                    }
                }
            }
        }
        return WebSocketServer(listener: listener)
    }

    /// Binds on `port` of loopback and echoes every message back unchanged: the CLI's demo and the
    /// tests' peer, not public API (a real server's handler is the application's).
    package static func echo(port: Int = 0) async throws -> WebSocketServer {
        var configuration = Configuration()
        configuration.port = port
        return try await start(configuration: configuration, handler: echoHandler)
    }

    /// Sends every message back unchanged until the client closes (demo and tests; package only).
    package static let echoHandler: Handler = { socket in
        for try await message in socket.messages {
            try await socket.send(message)
        }
    }

    /// The URL clients connect to, for a path (`ws://127.0.0.1:PORT/path`, `wss://` with TLS).
    public func url(path: String = "/") -> String {
        listener.url(path: path)
    }

    /// Stops accepting, closes every open connection with 1001 (going away), and waits for them
    /// to end, at most `timeout` (then they are dropped).
    public func shutDown(timeout: Duration = .seconds(5)) async {
        await listener.shutDown(timeout: timeout)
    }

    /// Where handlers run: the event loop with ``WebSocketServerConfiguration/runsHandlersOnEventLoop``,
    /// otherwise no preference (the global pool).
    private static func handlerExecutor(_ configuration: Configuration) -> (any TaskExecutor)? {
        configuration.runsHandlersOnEventLoop ? MessageWebSocket.eventLoopExecutor : nil
    }

    private static func serve(_ upgrade: WebSocketUpgrade, _ handler: Handler) async {
        guard let socket = try? await upgrade.accept() else { return }
        do {
            try await handler(socket)
            try await socket.close(code: .normalClosure, reason: "")
        } catch {
            try? await socket.close(code: .internalError, reason: "")
        }
    }
}
