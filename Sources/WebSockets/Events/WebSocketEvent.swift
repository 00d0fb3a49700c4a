/// Something that happened on a WebSocket connection, reported to a ``WebSocketEventHandler``
/// (``MessageWebSocketControl/eventHandler``, and `WebSocketServerConfiguration.eventHandler` for
/// accepted connections): for logs, metrics and tracing, without a dependency on a logging package.
///
/// A connection's life reads, in order: ``Kind/connecting(url:)`` (client only) →
/// ``Kind/connected(_:)`` → messages, frames, pings and pongs → ``Kind/closing(code:reason:initiatedBy:)``
/// (when a close handshake starts) → ``Kind/failed(_:)`` (when it did not end cleanly) →
/// ``Kind/closed(code:reason:wasClean:)``, the last event. A failed `connect` ends with
/// ``Kind/failed(_:)`` after `connecting`.
///
/// The ``level`` of each kind is fixed (see ``Level``) and maps one to one onto swift-log's
/// `Logger.Level`, so a bridge is a few lines (the application depends on swift-log, not this
/// library):
///
/// ```swift
/// import Logging
/// let logger = Logger(label: "websocket")
/// control.eventHandler = { event in
///     // Logger.Level's raw values are the same seven names, in the same order.
///     let level = Logger.Level(rawValue: event.level.description)!
///     logger.log(level: level, "\(event)", metadata: ["ws.connection": "\(event.connectionID)"])
/// }
/// ```
public struct WebSocketEvent: Sendable, Hashable, CustomStringConvertible {
    /// Severity, one case per swift-log `Logger.Level`, in the same order (`Comparable`: filter with
    /// `event.level >= .info`).
    public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        /// Every message, frame, ping and pong.
        case trace
        /// Steps of the life cycle that are routine: connecting, a close we started, pings we send
        /// and pongs we receive.
        case debug
        /// The connection opened; it closed cleanly; the peer closed it normally (1000, 1001, none).
        case info
        /// The connection ended without a clean close, or was cancelled locally.
        case notice
        /// The peer closed with a code that reports a problem (1002 and up, other than 1005).
        case warning
        /// The connection (or `connect`) failed: ``Kind/failed(_:)`` with the error's status.
        case error
        /// Not emitted by this library today; present so that the levels map one to one.
        case critical

        /// Orders by severity, `trace` lowest: `event.level >= .info` keeps info and above.
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        /// The level's name as swift-log spells it (`trace`, `debug`, ... `critical`): `Logger.Level(rawValue:)` accepts it.
        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            case .critical: "critical"
            }
        }
    }

    /// Which end started something.
    public enum Side: Sendable, Hashable {
        /// This end: the application, a timeout, or a violation the peer made that we fail it for.
        case local
        /// The other end.
        case peer
    }

    /// What was negotiated when the connection opened.
    public struct Connection: Sendable, Hashable {
        /// The subprotocol selected, if any.
        public var subprotocol: String?
        /// The `Sec-WebSocket-Extensions` the server answered, if any.
        public var extensions: String?
        /// The peer's endpoint, `host:port` (`nil` when the transport has none).
        public var remoteAddress: String?
        /// The local endpoint, `host:port`.
        public var localAddress: String?
        /// Whether the connection runs over TLS.
        public var isSecure: Bool

        /// A description of a negotiated connection; every field defaults to absent (plain, nothing negotiated).
        public init(
            subprotocol: String? = nil, extensions: String? = nil, remoteAddress: String? = nil,
            localAddress: String? = nil, isSecure: Bool = false
        ) {
            self.subprotocol = subprotocol
            self.extensions = extensions
            self.remoteAddress = remoteAddress
            self.localAddress = localAddress
            self.isSecure = isSecure
        }
    }

    /// What happened. Sizes are payload bytes (uncompressed: what the application sent or receives).
    public enum Kind: Sendable, Hashable {
        /// `connect` started (client only). Level debug.
        case connecting(url: String)
        /// The opening handshake completed. Level info.
        case connected(Connection)
        /// A whole message was queued for sending (encoded; written at once or right after). Level trace.
        case messageSent(MessageKind, size: Int)
        /// One frame of a fragmented message was queued for sending. Level trace.
        case frameSent(MessageKind, size: Int, isFinal: Bool)
        /// A whole message arrived and was handed to the application. Level trace.
        case messageReceived(MessageKind, size: Int)
        /// A piece of a message arrived (fragment delivery: the server's fragment context). Level trace.
        case fragmentReceived(MessageKind, size: Int, isFinal: Bool)
        /// We sent a ping (`ping()` or keep-alive) with `size` bytes of payload. Level debug.
        case pingSent(size: Int)
        /// The peer pinged us (answered automatically). Level trace.
        case pingReceived(size: Int)
        /// A pong arrived; `roundTripTime` when it answered a ping of ours. Level debug.
        case pongReceived(size: Int, roundTripTime: Duration?)
        /// A close handshake started: our close frame (`initiatedBy: .local`: `close()`, a timeout,
        /// a violation of the peer's) or the peer's (`.peer`). `code` `nil`: an empty close frame.
        /// Level debug (local), info (peer, 1000/1001/none) or warning (peer, any other code).
        case closing(code: CloseCode?, reason: String, initiatedBy: Side)
        /// The connection (or `connect`) failed; the error is what the application sees
        /// (`messages` throws it). Level error (notice for `.operationCanceled`).
        case failed(WebSocketError)
        /// The connection ended and its transport is closed: the last event. `code` and `reason`
        /// are the peer's close frame, if one arrived; `wasClean` whether the close handshake
        /// completed. Level info (clean) or notice.
        case closed(code: CloseCode?, reason: String, wasClean: Bool)
    }

    /// Numbers the connections of this process (from 1), so that interleaved events of several
    /// connections (a server's) can be told apart. A reconnect (a new `connect`) gets a new number.
    public let connectionID: UInt64
    /// What happened.
    public let kind: Kind
    /// The severity, fixed by ``kind``.
    public var level: Level { Self.level(of: kind) }

    /// An event of connection number `connectionID`; its ``level`` follows from `kind`. The library builds
    /// these; public so that tests and bridges can make their own.
    public init(connectionID: UInt64, kind: Kind) {
        self.connectionID = connectionID
        self.kind = kind
    }

    static func level(of kind: Kind) -> Level {
        switch kind {
        case .messageSent, .frameSent, .messageReceived, .fragmentReceived, .pingReceived: .trace
        case .connecting, .pingSent, .pongReceived: .debug
        case .connected: .info
        case .closing(let code, _, .peer):
            code == nil || code == .normalClosure || code == .goingAway || code == .noStatusReceived ? .info : .warning
        case .closing: .debug
        case .failed(let error): error.status == .operationCanceled ? .notice : .error
        case .closed(_, _, let wasClean): wasClean ? .info : .notice
        }
    }

    /// One line for a log: `#3 closing 1000 "bye" (peer)`.
    public var description: String {
        "#\(connectionID) " + Self.describe(kind)
    }

    private static func describe(_ kind: Kind) -> String {
        func code(_ code: CloseCode?) -> String { code.map { "\($0.rawValue)" } ?? "(no code)" }
        switch kind {
        case .connecting(let url): return "connecting to \(url)"
        case .connected(let c):
            var parts = ["connected to \(c.remoteAddress ?? "peer")", c.isSecure ? "TLS" : "plain"]
            if let subprotocol = c.subprotocol { parts.append("subprotocol \(subprotocol)") }
            if let extensions = c.extensions { parts.append("extensions \(extensions)") }
            return parts.joined(separator: ", ")
        case .messageSent(let kind, let size): return "sent \(kind) message, \(size) bytes"
        case .frameSent(let kind, let size, let isFinal): return "sent \(kind) frame, \(size) bytes\(isFinal ? ", final" : "")"
        case .messageReceived(let kind, let size): return "received \(kind) message, \(size) bytes"
        case .fragmentReceived(let kind, let size, let isFinal):
            return "received \(kind) fragment, \(size) bytes\(isFinal ? ", final" : "")"
        case .pingSent(let size): return "sent ping, \(size) bytes"
        case .pingReceived(let size): return "received ping, \(size) bytes"
        case .pongReceived(let size, let rtt): return "received pong, \(size) bytes" + (rtt.map { ", round trip \($0)" } ?? "")
        case .closing(let c, let reason, let side):
            return "closing \(code(c)) \"\(reason)\" (\(side == .local ? "local" : "peer"))"
        case .failed(let error): return "failed: \(error.status): \(error.message)"
        case .closed(let c, let reason, let wasClean):
            return "closed\(wasClean ? "" : " uncleanly")" + (c == nil ? "" : ", peer sent \(code(c)) \"\(reason)\"")
        }
    }
}

/// Receives a connection's ``WebSocketEvent``s, synchronously, on the thread that produced them
/// (usually the event loop's): it **must not block** and should return quickly (hand the event
/// to a logger, a counter, or an `AsyncStream` continuation). Events of one connection arrive one
/// at a time, in order; events of different connections may arrive concurrently.
///
/// Zero cost when unset: no event is built unless a handler is set (each site is one branch on an
/// optional).
public typealias WebSocketEventHandler = @Sendable (WebSocketEvent) -> Void
