import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
    /// The connection and its bookkeeping. Behind a lock so that sending goes straight to the
    /// connection without a hop through this actor.
    nonisolated let core: ClientSocketCore

    /// Creates a socket with the given settings; nothing happens on the network until
    /// ``connect(to:)-(String)``.
    public init(control: MessageWebSocketControl = .init()) {
        self.control = control
        inbox = MessageInbox(highWater: control.maxPendingMessages)
        messages = inbox.makeStream()
        fragmentInbox = Inbox(highWater: control.maxPendingMessages)
        fragments = fragmentInbox.makeStream()
        core = ClientSocketCore(socketName: "MessageWebSocket") { [inbox, fragmentInbox] in
            inbox.finish()
            fragmentInbox.finish()
        }
    }

    deinit {
        core.shutDownOnDrop()
    }

    // MARK: - Before connecting

    /// Changes the settings. Only before connecting: afterwards this throws `.invalidState`
    /// (use ``setMessageType(_:)`` for the outgoing type, the one setting that may change).
    public func configure(_ update: (inout MessageWebSocketControl) -> Void) throws {
        try core.requireIdle("configuration is frozen once connect has started")
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
        try core.addRequestHeader(name, value)
    }

    /// Changes the type used for byte messages and frames sent from now on. Allowed at any time;
    /// sends already made keep their type.
    public func setMessageType(_ type: MessageKind) async {
        control.messageType = type
        await core.connection?.setMessageType(type)
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
        let parsed = try ClientConnector.parse(url)
        try await open(
            url: parsed,
            transport: ClientConnector.networkTransport(
                for: parsed, noDelay: control.noDelay, tls: control.tlsConfiguration,
                proxy: ProxyConnector.proxy(for: parsed, setting: control.proxy, credential: control.proxyCredential),
                maxProxyResponseSize: control.maxHandshakeResponseSize))
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
        let parsed = try ClientConnector.parse(url)
        try await open(url: parsed) { _ in transport }
    }

    private func open(url: WebSocketURL, transport: @escaping @Sendable (OpeningStage) async throws -> any Transport) async throws
    {
        try core.requireReadyToConnect()
        try control.validate()
        core.setConnecting(true)
        defer { core.setConnecting(false) }
        let control = self.control
        let events = EventEmitter(control.eventHandler)
        let opened = try await ClientConnector.open(
            url: url, control: control, headers: core.requestHeaders,
            events: events, transport: transport)
        let delivery: WebSocketConnection.Delivery
        switch control.receiveMode {
        case .fullMessage:
            delivery = .messages(inbox)
            fragmentInbox.finish(
                throwing: WebSocketError(
                    .invalidState,
                    "fragments carries nothing in the .fullMessage receive mode: iterate messages (or set receiveMode = .partialMessage before connecting)"
                ))
        case .partialMessage:
            delivery = .fragments(fragmentInbox)
            inbox.finish(
                throwing: WebSocketError(
                    .invalidState, "messages carries nothing in the .partialMessage receive mode: iterate fragments"))
        }
        // `self.control`, not the snapshot: `setMessageType` may have run while connecting.
        let connection = ClientConnector.makeConnection(
            opened, control: control, delivery: delivery, messageType: self.control.messageType, events: events
        ) { $0.fragmentsEndOnCharacterBoundaries = true }
        core.attach(connection, opened: opened, control: control, events: events)
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
        try await core.close(code: code, reason: reason)
    }

    /// Closes with an empty close frame (WinRT `Close()`; the peer sees 1005), waiting as
    /// ``close(code:reason:)`` does.
    public func close() async {
        try? await core.close(code: nil, reason: "")
    }

    // MARK: - Information

    /// The socket's life-cycle state.
    public var state: State {
        get async { await core.state() }
    }

    /// The peer's close frame (code and reason; 1005 for an empty one), once received. `nil` while
    /// open and when the connection dropped without a close handshake (WinRT raises no `Closed`
    /// event then either).
    public var closeStatus: WebSocketCloseStatus? {
        get async { await core.closeStatus() }
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
        await core.connection?.waitUntilPingQueued()
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
        get async { await core.information() }
    }
}

/// A received close frame's status code and reason (WinRT `WebSocketClosedEventArgs`).
public typealias WebSocketCloseStatus = ConnectionCore.CloseFrame
