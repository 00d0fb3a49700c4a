import WebSocketCore

/// The one error type of this library.
///
/// Switch on ``status`` (a stable classification in the spirit of WinRT's `WebErrorStatus`) to
/// decide what to do; ``message`` says what happened in words meant for a log or a person.
public struct WebSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        /// The call is not allowed in the socket's current state (for example `send` before
        /// `connect`, or changing frozen configuration). A programming error (WinRT `E_ILLEGAL_METHOD_CALL`).
        case invalidState
        /// The connection has closed; nothing more can be sent (WinRT `RO_E_CLOSED`).
        case closed
        /// An argument was rejected (malformed URL, forbidden header, invalid close code, ...).
        case invalidArgument
        /// The TCP connection could not be established (refused, unreachable).
        case cannotConnect
        /// The host name did not resolve to any address.
        case hostNameNotResolved
        /// An operation did not complete in time (open timeout, close timeout).
        case timeout
        /// The connection dropped without a close handshake (WinRT `WININET_E_CONNECTION_ABORTED`).
        case connectionAborted
        /// The operation was cancelled (task cancellation).
        case operationCanceled
        /// The peer broke the protocol; the connection was failed with this close code
        /// (1002 protocol error, 1007 invalid payload, ...).
        case protocolViolation(CloseCode)
        /// A message exceeded the configured maximum size; the connection was closed with 1009.
        case messageTooBig
        /// The opening handshake failed. `httpStatus` is the server's status code, or 0 when the
        /// response was not valid HTTP. See ``WebSocketError/handshakeResponse``.
        case handshakeFailed(httpStatus: Int)
        /// The server's certificate failed validation (expired, untrusted, wrong name, ...) and the
        /// problem was not listed in ``MessageWebSocketControl/ignorableServerCertificateErrors``.
        /// Every problem is in the message and in ``WebSocketError/certificateProblems``.
        case serverCertificateInvalid
        /// The ``MessageWebSocketControl/serverCustomValidation`` hook rejected the server (or threw).
        case serverCertificateRejected
        /// The TLS connection could not be established or failed (OpenSSL's reason in the message).
        case secureConnectionFailed
        /// A redirect during the opening handshake could not be followed: a loop, more than
        /// ``MessageWebSocketControl/maxRedirects``, or a `Location` that is not a WebSocket URL
        /// (WinRT `RedirectFailed`). The redirect response is in ``WebSocketError/handshakeResponse``.
        case redirectFailed
        /// The server redirected a `wss://` handshake to `ws://`, which would drop TLS; refused
        /// unless ``MessageWebSocketControl/allowsInsecureRedirects`` (WinRT `HttpsToHttpOnRedirection`).
        case httpsToHttpOnRedirection
        /// The proxy could not be reached: its name did not resolve, or the TCP (or, for an
        /// `https://` proxy, TLS) connection to it failed. The message names the proxy.
        case proxyUnreachable
        /// The proxy wants a credential and none was given, or it rejected the one given (HTTP 407
        /// after the credential was sent once; a SOCKS5 proxy refusing the methods or the password).
        case proxyAuthenticationRequired
        /// The HTTP proxy answered `CONNECT` with this status instead of 2xx (403 for a port it does
        /// not allow, 502 when it cannot reach the server, ...).
        case proxyTunnelRefused(status: Int)
        /// The SOCKS5 proxy answered the CONNECT request with this reply code (RFC 1928 §6: 1 general
        /// failure, 2 not allowed, 3 network unreachable, 4 host unreachable, 5 connection refused,
        /// 6 TTL expired, 7 command not supported, 8 address type not supported).
        case socksTunnelRefused(reply: Int)
        /// The proxy's answer was not valid HTTP or SOCKS5, or it closed the connection mid-answer.
        case proxyProtocolError

        /// A stable, script-friendly spelling: `cannotConnect`, `protocolViolation(1002)`,
        /// `handshakeFailed(404)`, `proxyTunnelRefused(403)`, `socksTunnelRefused(5)`.
        public var description: String {
            switch self {
            case .invalidState: return "invalidState"
            case .closed: return "closed"
            case .invalidArgument: return "invalidArgument"
            case .cannotConnect: return "cannotConnect"
            case .hostNameNotResolved: return "hostNameNotResolved"
            case .timeout: return "timeout"
            case .connectionAborted: return "connectionAborted"
            case .operationCanceled: return "operationCanceled"
            case .protocolViolation(let code): return "protocolViolation(\(code.rawValue))"
            case .messageTooBig: return "messageTooBig"
            case .handshakeFailed(let status): return "handshakeFailed(\(status))"
            case .serverCertificateInvalid: return "serverCertificateInvalid"
            case .serverCertificateRejected: return "serverCertificateRejected"
            case .secureConnectionFailed: return "secureConnectionFailed"
            case .redirectFailed: return "redirectFailed"
            case .httpsToHttpOnRedirection: return "httpsToHttpOnRedirection"
            case .proxyUnreachable: return "proxyUnreachable"
            case .proxyAuthenticationRequired: return "proxyAuthenticationRequired"
            case .proxyTunnelRefused(let status): return "proxyTunnelRefused(\(status))"
            case .socksTunnelRefused(let reply): return "socksTunnelRefused(\(reply))"
            case .proxyProtocolError: return "proxyProtocolError"
            }
        }
    }

    /// What the server answered when the opening handshake failed.
    public struct HandshakeResponse: Sendable, Hashable {
        /// The HTTP status code (0 when the response could not be parsed).
        public var status: Int
        /// The response headers in the order received.
        public var headers: [(name: String, value: String)] {
            get { headerPairs.map { ($0.name, $0.value) } }
            set { headerPairs = newValue.map { HeaderPair(name: $0.name, value: $0.value) } }
        }
        /// The first bytes of the body, if the server sent any (at most 1 KiB).
        public var bodyPrefix: [UInt8]

        private var headerPairs: [HeaderPair]
        private struct HeaderPair: Sendable, Hashable {
            var name: String
            var value: String
        }

        /// A response with this status, these headers in order and the start of its body.
        public init(status: Int, headers: [(name: String, value: String)], bodyPrefix: [UInt8]) {
            self.status = status
            self.headerPairs = headers.map { HeaderPair(name: $0.name, value: $0.value) }
            self.bodyPrefix = bodyPrefix
        }
    }

    /// The classification to switch on.
    public var status: Status
    /// A human-readable account of what happened.
    public var message: String
    /// The server's response, when ``status`` is `.handshakeFailed` (or `.redirectFailed` /
    /// `.httpsToHttpOnRedirection`: the redirect that was not followed).
    public var handshakeResponse: HandshakeResponse?
    /// Every problem found in the server's certificate chain, when ``status`` is
    /// `.serverCertificateInvalid`.
    public var certificateProblems: [CertificateProblem] = []

    /// An error with this status and message, and for a failed handshake the server's response.
    public init(_ status: Status, _ message: String, handshakeResponse: HandshakeResponse? = nil) {
        self.status = status
        self.message = message
        self.handshakeResponse = handshakeResponse
    }

    /// The system `errno` behind a transport failure (0 when there is none), kept so that the
    /// plain sockets can classify it (``SocketError/Status/init(errno:)``) without parsing text.
    package var systemErrorCode: CInt = 0

    /// A transport failure caused by the system error `code`: its `strerror` text ends `message`.
    package init(_ status: Status, _ operation: String, errno code: CInt) {
        self.init(status, "\(operation): \(errnoDescription(code))")
        self.systemErrorCode = code
    }

    /// `"<status>: <message>"`, the form the CLI prints after `error `.
    public var description: String { "\(status): \(message)" }
}
