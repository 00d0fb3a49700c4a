#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// A WebSocket client that sends and receives whole messages (WinRT `MessageWebSocket`).
///
/// ```swift
/// let socket = MessageWebSocket()
/// try await socket.connect(to: "ws://127.0.0.1:8080/chat")
/// try await socket.send(text: "hello")
/// for try await message in socket.messages {
///     print(message)                        // .text("...") or .binary([...])
/// }
/// // The loop ended normally: the close handshake completed.
/// print(await socket.closeStatus!)        // the peer's close code and reason
/// ```
///
/// Contract, following WinRT's semantics:
/// - **Configuration freezes at connect.** ``configure(_:)`` and ``setRequestHeader(_:_:)`` work only
///   before ``connect(to:)-(String)``; only the outgoing ``MessageWebSocketControl/messageType`` may
///   change afterwards (``setMessageType(_:)``). After a *failed* connect the socket is idle again and
///   may be reconfigured and reconnected; after a successful one, make a new socket to reconnect.
/// - **``messages`` exists from init**, so nothing is lost between connecting and iterating. Iterate
///   it once, from one task (a second concurrent iteration throws `.invalidState`). It finishes
///   normally after a close handshake (either side started it; ``closeStatus`` then holds the
///   peer's code and reason), and throws ``WebSocketError`` when the connection failed:
///   `.connectionAborted` when it dropped without a close handshake, `.protocolViolation(code)` or
///   `.messageTooBig` when the peer broke the rules, `.timeout` when the peer did not answer our
///   close frame within ``MessageWebSocketControl/closeTimeout``.
/// - **It ends only once the connection has ended**: our close frame, if the protocol calls for one
///   (1002/1007/1009 after a violation), was accepted by the kernel and the transport is closed (a
///   client waits up to the close timeout for the server to close TCP, RFC 6455 §7.1.1). A program
///   that exits when `messages` ends has told the peer why. Messages that arrived before a
///   violation are delivered first, and answers to them still go out before the close frame.
/// - **Cancelling the task iterating ``messages``** means the application stopped reading: the socket
///   closes with 1001 (going away). Dropping the last reference to the socket does the same.
/// - **Backpressure both ways.** The socket stops reading from the network while
///   ``MessageWebSocketControl/maxPendingMessages`` messages wait unconsumed, and `send` suspends
///   while more than ``MessageWebSocketControl/outboundBufferSize`` bytes wait to be written.
/// - **A failed write** stops all writing (the send that hit it throws its error, later sends too),
///   but messages that had already arrived are still delivered: `messages` throws the write's error
///   once the stream ends or fails, when ``close()`` is called (at once), or after the close timeout.
/// - Pings are answered automatically.
/// - **Partial receive** (``MessageWebSocketControl/receiveMode`` `.partialMessage`, WinRT
///   `PartialMessage`): messages arrive in ``fragments`` instead, piece by piece; see there.
public actor MessageWebSocket {
    /// The socket's life cycle.
    public enum State: Sendable, Hashable {
        /// Created, not connected (also after a failed connect).
        case idle
        /// `connect` is in progress.
        case connecting
        /// Messages flow both ways.
        case open
        /// A close frame was sent; waiting for the peer's.
        case closing
        /// Finished: closed cleanly, failed, or dropped.
        case closed
    }

    /// Received messages, in order. See the type's documentation for how it ends.
    ///
    /// In ``MessageWebSocketReceiveMode/partialMessage`` mode it carries nothing: once connected it
    /// throws `.invalidState` at once (iterate ``fragments``), so a loop over the wrong stream
    /// fails loudly instead of waiting forever.
    public nonisolated let messages: AsyncThrowingStream<Message, any Error>

    /// Received messages as pieces, in order, as their bytes arrive: only in
    /// ``MessageWebSocketReceiveMode/partialMessage`` mode (WinRT `PartialMessage`; in the default
    /// full-message mode it throws `.invalidState` once connected).
    ///
    /// ```swift
    /// try await socket.configure { $0.receiveMode = .partialMessage }
    /// try await socket.connect(to: url)
    /// for try await piece in socket.fragments {
    ///     file.write(piece.bytes)                    // piece.kind: .text or .binary
    ///     if piece.isMessageComplete { file.close() }
    /// }
    /// ```
    ///
    /// Why a second stream of `MessageFragment` rather than a `Message` with a flag: code that
    /// iterates ``messages`` keeps receiving whole messages, with no completeness flag to forget,
    /// and a piece is a different thing (its kind is the message's; its bytes are part of it).
    ///
    /// - **Pieces are not frames.** Each holds the message's bytes that arrived since the last one:
    ///   at most one frame's, and at most one socket read's (64 KiB), so memory stays bounded
    ///   while a message of any size streams through. (A compressed message's piece is what one
    ///   read inflates to, bounded by ``MessageWebSocketControl/maxMessageSize``.) Every message
    ///   ends with exactly one piece whose `MessageFragment/isMessageComplete` is `true` (it may
    ///   be empty, e.g. after an empty final frame); non-final pieces are never empty.
    /// - **Text pieces end on character boundaries**: a UTF-8 sequence split between frames or
    ///   reads is held back and starts the next piece, so `MessageFragment/text` of each piece
    ///   is exact. UTF-8 is validated across the whole message: invalid bytes in a later frame
    ///   fail the connection with 1007 after the earlier pieces were delivered.
    /// - ``MessageWebSocketControl/maxMessageSize`` bounds the whole message (1009 when the
    ///   pieces together exceed it); set `unlimited` to stream messages of any size.
    /// - Backpressure as for ``messages``: the reader pauses while
    ///   ``MessageWebSocketControl/maxPendingMessages`` *pieces* wait unconsumed. It ends, throws
    ///   and reacts to cancellation exactly as ``messages`` does.
    public nonisolated let fragments: AsyncThrowingStream<MessageFragment, any Error>

    /// The settings the socket connects with (a snapshot; change them with ``configure(_:)``).
    public private(set) var control: MessageWebSocketControl

    private let inbox: MessageInbox
    private let fragmentInbox: Inbox<MessageFragment>
    private var requestHeaders: [(String, String)] = []
    private var isConnecting = false
    private var closedBeforeConnecting = false
    private var connectionInformation = MessageWebSocketInformation()
    /// The open connection. Behind a lock so that sending goes straight to it without a hop
    /// through this actor.
    nonisolated let link = Lock<WebSocketConnection?>(nil)

    /// Creates a socket with the given settings; nothing happens on the network until
    /// ``connect(to:)-(String)``.
    public init(control: MessageWebSocketControl = .init()) {
        self.control = control
        inbox = MessageInbox(highWater: control.maxPendingMessages)
        messages = inbox.makeStream()
        fragmentInbox = Inbox(highWater: control.maxPendingMessages)
        fragments = fragmentInbox.makeStream()
    }

    deinit {
        // Dropping the last reference closes the connection (1001) and releases the descriptor;
        // the connection's own tasks keep it alive until the close completes or times out.
        if let connection = link.withLock({ $0 }) {
            Task { await connection.shutDown(code: .goingAway) }
        }
    }

    private var connection: WebSocketConnection? { link.withLock { $0 } }


    // MARK: - Before connecting

    /// Changes the settings. Only before connecting: afterwards this throws `.invalidState`
    /// (use ``setMessageType(_:)`` for the outgoing type, the one setting that may change).
    public func configure(_ update: (inout MessageWebSocketControl) -> Void) throws {
        try requireIdle("configuration is frozen once connect has started")
        update(&control)
        inbox.setHighWater(control.maxPendingMessages)
        fragmentInbox.setHighWater(control.maxPendingMessages)
    }

    /// Adds a header to the opening handshake request. Only before connecting.
    ///
    /// - Throws: `.invalidState` after connect started; `.invalidArgument` for headers the
    ///   handshake owns (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`; extensions are
    ///   negotiated by the library, never by hand) and for names or values that are not valid HTTP.
    public func setRequestHeader(_ name: String, _ value: String) throws {
        try requireIdle("request headers can only be set before connecting")
        if Handshake.isHandshakeOwnedHeader(name) {
            let what = HTTPSyntax.equalsIgnoringASCIICase(name, "Sec-WebSocket-Extensions")
                ? "extensions are negotiated by the library, not set by hand"
                : "the opening handshake sets it"
            throw WebSocketError(.invalidArgument, "header \"\(name)\" cannot be set: \(what)")
        }
        if let problem = Handshake.problem(withHeaderName: name, value: value) {
            throw WebSocketError(.invalidArgument, problem)
        }
        requestHeaders.append((name, value))
    }

    /// Changes the type used for byte messages and frames sent from now on. Allowed at any time;
    /// sends already made keep their type.
    public func setMessageType(_ type: MessageKind) async {
        control.messageType = type
        await connection?.setMessageType(type)
    }

    private func requireIdle(_ message: String) throws(WebSocketError) {
        if isConnecting || connection != nil || closedBeforeConnecting {
            throw WebSocketError(.invalidState, message)
        }
    }

    // MARK: - Connecting

    /// Connects to a `ws://` or `wss://` URL and performs the opening handshake (for `wss://`,
    /// TCP, then TLS, then the WebSocket handshake, all under ``MessageWebSocketControl/openTimeout``).
    ///
    /// - Throws: ``WebSocketError``: `.invalidArgument` (malformed URL), `.hostNameNotResolved`,
    ///   `.serverCertificateInvalid`, `.serverCertificateRejected`, `.secureConnectionFailed` (`wss://`), `.cannotConnect`, `.timeout` (after
    ///   ``MessageWebSocketControl/openTimeout``), `.handshakeFailed(httpStatus:)` (with the
    ///   response in ``WebSocketError/handshakeResponse``), `.connectionAborted` (the connection
    ///   dropped during the opening handshake), `.operationCanceled`, `.invalidState`.
    public func connect(to url: String) async throws {
        let parsed = try Self.parse(url)
        let noDelay = control.noDelay
        guard parsed.isSecure else {
            try await open(url: parsed) { _ in
                try await TCPTransport.connect(host: parsed.host, port: parsed.port, noDelay: noDelay)
            }
            return
        }
        let tls = control.tlsConfiguration
        try await open(url: parsed) { stage in
            let tcp = try await TCPTransport.connect(host: parsed.host, port: parsed.port, noDelay: noDelay)
            stage.set("the TLS handshake (including serverCustomValidation, whose deferral may never have completed)")
            let secure = try await TLSTransport.connect(over: tcp, serverName: parsed.host, configuration: tls)
            stage.set("the WebSocket opening handshake")
            return secure
        }
    }

    /// Connects to a `ws://` URL. See ``connect(to:)-(String)``.
    public func connect(to url: URL) async throws {
        try await connect(to: url.absoluteString)
    }

    /// Performs the opening handshake for `url` over a transport you supply (an in-memory pair in
    /// tests, a tunnel, your own TLS). The URL's scheme is not checked against the transport.
    ///
    /// - Throws: as ``connect(to:)-(String)``; a read or write error of `transport` during the
    ///   handshake is thrown as it is (`.connectionAborted` for the library's transports).
    public func connect(to url: String, over transport: any Transport) async throws {
        let parsed = try Self.parse(url)
        try await open(url: parsed) { _ in transport }
    }

    private static func parse(_ url: String) throws(WebSocketError) -> WebSocketURL {
        do {
            return try WebSocketURL(parsing: url)
        } catch {
            throw WebSocketError(.invalidArgument, "invalid WebSocket URL \"\(url)\": \(error.description)")
        }
    }

    private func open(url: WebSocketURL, transport makeTransport: @escaping @Sendable (OpeningStage) async throws -> any Transport) async throws {
        try requireIdle(isConnecting ? "connect is already in progress"
                        : "the socket was already connected or closed; create a new MessageWebSocket to reconnect")
        try control.validate()
        isConnecting = true
        defer { isConnecting = false }
        let control = self.control
        let headers = requestHeaders
        let stage = OpeningStage()
        let events = EventEmitter(control.eventHandler)
        if let events { events.emit(.connecting(url: url.description)) }
        let opened: ClientOpening.Opened
        do {
            opened = try await ClientOpening.withOpenTimeout(control.openTimeout, stage: stage) {
                let transport = try await makeTransport(stage)
                return try await ClientOpening.handshake(
                    over: transport, url: url, protocols: control.supportedProtocols,
                    headers: headers, maxResponseSize: control.maxHandshakeResponseSize,
                    compression: control.compression)
            }
        } catch {
            if let events { events.emit(.failed(error as? WebSocketError ?? WebSocketError(.cannotConnect, "\(error)"))) }
            throw error
        }
        var configuration = ConnectionCore.Configuration()
        configuration.maxMessageSize = control.maxMessageSize
        configuration.deflate = opened.deflate
        configuration.fragmentsEndOnCharacterBoundaries = true
        if let options = control.compression.options { configuration.deflateOptions = options }
        let delivery: WebSocketConnection.Delivery
        switch control.receiveMode {
        case .fullMessage:
            delivery = .messages(inbox)
            fragmentInbox.finish(throwing: WebSocketError(
                .invalidState, "fragments carries nothing in the .fullMessage receive mode: iterate messages (or set receiveMode = .partialMessage before connecting)"))
        case .partialMessage:
            delivery = .fragments(fragmentInbox)
            inbox.finish(throwing: WebSocketError(
                .invalidState, "messages carries nothing in the .partialMessage receive mode: iterate fragments"))
        }
        // `self.control`, not the snapshot: `setMessageType` may have run while connecting.
        let connection = WebSocketConnection(
            transport: opened.transport, role: .client, configuration: configuration, delivery: delivery,
            closeTimeout: control.closeTimeout, outboundBufferSize: control.outboundBufferSize,
            messageType: self.control.messageType, pingInterval: control.pingInterval, pingTimeout: control.pongTimeout,
            unsolicitedPongInterval: control.desiredUnsolicitedPongInterval, events: events)
        connectionInformation.actualUnsolicitedPongInterval = control.desiredUnsolicitedPongInterval
        connectionInformation.negotiatedProtocol = opened.result.subprotocol
        connectionInformation.negotiatedExtensions = opened.result.extensions
        connectionInformation.compression = opened.deflate
        connectionInformation.localAddress = opened.transport.localAddress
        connectionInformation.remoteAddress = opened.transport.remoteAddress
        if let tls = opened.transport as? TLSTransport {
            connectionInformation.record(tls.info)
        }
        link.withLock { $0 = connection }
        if let events {
            events.emit(.connected(.init(
                subprotocol: opened.result.subprotocol, extensions: opened.result.extensions,
                remoteAddress: opened.transport.remoteAddress, localAddress: opened.transport.localAddress,
                isSecure: opened.transport is TLSTransport)))
        }
        await connection.start(bufferedBytes: opened.bufferedBytes)
    }

    // MARK: - Closing

    /// Closes with a status code and reason (WinRT `Close(code, reason)`), waiting for the peer's
    /// close frame up to ``MessageWebSocketControl/closeTimeout``, after which the connection is
    /// dropped. Idempotent: a second call waits for the same ending.
    ///
    /// - Parameters:
    ///   - code: a code valid on the wire (1000–1003, 1007–1014, 3000–4999).
    ///   - reason: at most 123 UTF-8 bytes.
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason too long.
    public func close(code: CloseCode, reason: String = "") async throws {
        try await closeConnection(code: code, reason: reason)
    }

    /// Closes with an empty close frame (WinRT `Close()`; the peer sees 1005), waiting as
    /// ``close(code:reason:)`` does.
    public func close() async {
        try? await closeConnection(code: nil, reason: "")
    }

    private func closeConnection(code: CloseCode?, reason: String) async throws {
        // Arguments first, whatever the state: a bad code is a bug wherever it is called.
        do { try ConnectionCore.validateClose(code: code, reason: reason) } catch {
            throw WebSocketConnection.map(error)
        }
        guard let connection else {
            guard !isConnecting else {
                throw WebSocketError(.invalidState, "connect is in progress; cancel its task to abandon it")
            }
            closedBeforeConnecting = true
            inbox.finish()
            fragmentInbox.finish()
            return
        }
        try await connection.close(code: code, reason: reason)
    }

    // MARK: - Information

    /// The socket's life-cycle state.
    public var state: State {
        get async {
            if isConnecting { return .connecting }
            guard let connection else { return closedBeforeConnecting ? .closed : .idle }
            switch await connection.state {
            case .open: return .open
            case .closing: return .closing
            case .closed: return .closed
            }
        }
    }

    /// The peer's close frame (code and reason; 1005 for an empty one), once received. `nil` while
    /// open and when the connection dropped without a close handshake (WinRT raises no `Closed`
    /// event then either).
    public var closeStatus: WebSocketCloseStatus? {
        get async { await connection?.closeStatus }
    }

    /// Test hook: returns once the reader has paused because ``MessageWebSocketControl/maxPendingMessages``
    /// messages wait unconsumed.
    package func waitUntilReaderPauses() async {
        switch control.receiveMode {
        case .fullMessage: await inbox.waitUntilProducerPauses()
        case .partialMessage: await fragmentInbox.waitUntilProducerPauses()
        }
    }

    /// Test hook: returns once a ``ping(_:)`` was queued (or refused) on the open connection.
    package func waitUntilPingQueued() async {
        await connection?.waitUntilPingQueued()
    }

    /// Test hook: returns once a task iterating ``messages`` is suspended, waiting for a message.
    package func waitUntilConsumerWaits() async {
        switch control.receiveMode {
        case .fullMessage: await inbox.waitUntilConsumerWaits()
        case .partialMessage: await fragmentInbox.waitUntilConsumerWaits()
        }
    }

    /// What is known about the connection now.
    public var information: MessageWebSocketInformation {
        get async {
            var snapshot = connectionInformation
            if let connection {
                let figures = await connection.liveFigures()
                snapshot.statistics = figures.statistics
                snapshot.latency = figures.latency
                snapshot.roundTripTimeStatistics = figures.roundTripTime
                snapshot.bandwidthStatistics = figures.bandwidth
            }
            return snapshot
        }
    }
}

/// A received close frame's status code and reason (WinRT `WebSocketClosedEventArgs`).
public typealias WebSocketCloseStatus = ConnectionCore.CloseFrame
