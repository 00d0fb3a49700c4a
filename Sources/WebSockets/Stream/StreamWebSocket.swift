#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What is known about a ``StreamWebSocket``'s connection (WinRT `StreamWebSocketInformation`).
/// WinRT gives it "the same members as the message variant", so it is the same type: one set of
/// documentation, and code that shows information works with either socket.
public typealias StreamWebSocketInformation = MessageWebSocketInformation

/// A WebSocket client seen as a sequential byte stream (WinRT `StreamWebSocket`): binary only,
/// without message boundaries, for large transfers read as they arrive.
///
/// ```swift
/// let socket = StreamWebSocket()
/// try await socket.connect(to: "ws://127.0.0.1:8080/upload")
/// try await socket.write(fileBytes)              // one binary message per write
/// for try await chunk in socket.input {          // bytes as they arrive
///     output.append(contentsOf: chunk)
/// }
/// ```
///
/// Contract:
/// - **Reading.** ``input`` (chunks of bytes) and ``read(upTo:)`` / ``read(into:)-(UnsafeMutableRawBufferPointer)``
///   take from the same bytes, in order, without message boundaries: a chunk is what arrived
///   (a piece of a frame as one network read produced it), never assembled, so a 100 MiB message
///   streams through in pieces of at most 64 KiB and memory stays bounded by the backpressure
///   (``StreamWebSocketControl/maxPendingChunks`` pieces wait at most; then the socket stops reading
///   and TCP pushes back). Empty messages produce nothing. One reader at a time: a read that
///   starts while another waits throws `.invalidState`; mixing them sequentially is fine (bytes a
///   `read(upTo:)` left are the next chunk of `input`). The stream ends normally after a close
///   handshake (``closeStatus`` then holds the peer's code) and throws ``WebSocketError`` when the
///   connection failed, as ``MessageWebSocket/messages`` does. Cancelling a waiting read closes
///   the connection with 1001 (the application stopped reading) and the read throws `.operationCanceled`.
/// - **A text message is a protocol error** for a stream socket: it fails the connection with
///   close code 1003 (unsupported data: RFC 6455 §7.4.1 names it for "an endpoint that only
///   understands binary data"), after the bytes that arrived before it were read, and the read
///   throws `.protocolViolation(1003)`. Binary data is never silently mixed with text.
/// - **Writing.** Each ``write(_:)`` sends its bytes as **one complete binary message** (an empty
///   write sends nothing). Not one endless fragmented message: every WebSocket peer and server
///   framework can read messages, while a message that never ends starves a peer's message API,
///   defeats its message size limit and cannot be compressed per message; and the peer's
///   receiving side loses nothing by it, since a stream reader ignores boundaries anyway. A write
///   suspends while more than ``StreamWebSocketControl/outboundBufferSize`` bytes wait.
/// - **Closing.** There is no half-close in WebSocket: ``close()`` is the close handshake, after
///   which nothing more is sent; reading goes on until the peer's close frame ends ``input``.
/// - **Configuration freezes at connect**, every field: ``configure(_:)`` and
///   ``setRequestHeader(_:_:)`` throw `.invalidState` once connect started (stricter than
///   ``MessageWebSocket``, as in WinRT).
/// - Pings are answered automatically; keep-alive, statistics and the event hook work as on
///   ``MessageWebSocket``.
public actor StreamWebSocket {
    /// The socket's life cycle (the same states as the message socket's).
    public typealias State = MessageWebSocket.State

    /// The received bytes as chunks, in order. See the type's documentation for how it ends.
    public nonisolated let input: AsyncThrowingStream<[UInt8], any Error>

    /// The settings the socket connects with (a snapshot; change them with ``configure(_:)``).
    public private(set) var control: StreamWebSocketControl

    private let inbox: Inbox<MessageFragment>
    private nonisolated let reader: ByteStreamReader
    /// The connection and its bookkeeping, behind a lock so that reads and writes reach the
    /// connection without a hop through this actor.
    private nonisolated let core: ClientSocketCore

    /// Creates a socket with the given settings; nothing happens on the network until connect.
    public init(control: StreamWebSocketControl = .init()) {
        self.control = control
        inbox = Inbox<MessageFragment>(highWater: control.maxPendingChunks)
        reader = ByteStreamReader(inbox: inbox)
        input = reader.makeInput()
        core = ClientSocketCore(socketName: "StreamWebSocket") { [inbox] in inbox.finish() }
    }

    deinit {
        core.shutDownOnDrop()
    }

    // MARK: - Before connecting

    /// Changes the settings. Only before connecting: afterwards every change throws `.invalidState`.
    public func configure(_ update: (inout StreamWebSocketControl) -> Void) throws {
        try core.requireIdle("the stream socket's control is frozen once connect has started")
        update(&control)
        inbox.setHighWater(control.maxPendingChunks)
    }

    /// Adds a header to the opening handshake request. Only before connecting; the same rules as
    /// ``MessageWebSocket/setRequestHeader(_:_:)``.
    public func setRequestHeader(_ name: String, _ value: String) throws {
        try core.addRequestHeader(name, value)
    }

    // MARK: - Connecting

    /// Connects to a `ws://` or `wss://` URL and performs the opening handshake; the same steps
    /// and errors as ``MessageWebSocket/connect(to:)-(String)``.
    public func connect(to url: String) async throws {
        let parsed = try ClientConnector.parse(url)
        try await open(
            url: parsed,
            transport: ClientConnector.networkTransport(
                for: parsed, noDelay: control.noDelay, tls: control.tlsConfiguration,
                proxy: ProxyConnector.proxy(for: parsed, setting: control.proxy, credential: control.proxyCredential),
                maxProxyResponseSize: control.maxHandshakeResponseSize))
    }

    /// Connects to a `ws://` or `wss://` URL. See ``connect(to:)-(String)``.
    public func connect(to url: URL) async throws {
        try await connect(to: url.absoluteString)
    }

    /// Performs the opening handshake for `url` over a transport you supply (an in-memory pair in
    /// tests, a tunnel); as ``MessageWebSocket/connect(to:over:)``.
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
        let control = self.control.base
        let events = EventEmitter(control.eventHandler)
        let opened = try await ClientConnector.open(
            url: url, control: control, headers: core.requestHeaders,
            events: events, transport: transport)
        let connection = ClientConnector.makeConnection(
            opened, control: control, delivery: .fragments(inbox), messageType: .binary, events: events
        ) { configuration in
            configuration.maxMessageSize = .max  // a stream has no message size: pieces leave as they arrive
            configuration.acceptsText = false  // 1003 for a text message (RFC 6455 §7.4.1)
        }
        core.attach(connection, opened: opened, control: control, events: events)
        await connection.start(bufferedBytes: opened.bufferedBytes)
    }

    // MARK: - Reading

    /// Returns the next 1 to `maxCount` bytes, waiting until some arrived; the rest of what
    /// arrived stays for the next read. Empty at the clean end of the stream (after a close
    /// handshake), and again on every later call.
    /// Before connecting it waits, like ``input``, for the bytes of the connection to come.
    /// - Throws: `.invalidArgument` when `maxCount` < 1; `.invalidState` while another read waits;
    ///   how the connection failed (see the type); `.operationCanceled` when the task was
    ///   cancelled (the connection closes with 1001).
    public nonisolated(nonsending) func read(upTo maxCount: Int) async throws -> [UInt8] {
        try await reader.read(upTo: maxCount)
    }

    /// Reads the next bytes into `buffer` (at most its size, at least one) and returns how many;
    /// 0 at the clean end. As ``read(upTo:)``.
    public nonisolated(nonsending) func read(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        try await reader.read(into: buffer)
    }

    /// Reads the next bytes into the front of `buffer` (at most `buffer.count`, at least one) and
    /// returns how many; 0 at the clean end. As ``read(upTo:)``.
    public nonisolated(nonsending) func read(into buffer: inout [UInt8]) async throws -> Int {
        try await reader.read(into: &buffer)
    }

    // MARK: - Writing

    private nonisolated func openConnection() throws(WebSocketError) -> WebSocketConnection {
        guard let connection = core.connection else {
            throw WebSocketError(.invalidState, "the socket is not connected: call connect(to:) first")
        }
        return connection
    }

    /// Sends `bytes` as one binary message (see the type for why a message per write); an empty
    /// collection sends nothing. Suspends while more than ``StreamWebSocketControl/outboundBufferSize``
    /// bytes wait to be written.
    /// - Throws: `.invalidState` before connecting, `.closed` once a close frame was sent or the
    ///   connection ended; the error of a failed write for the write it hit and every later one.
    public nonisolated(nonsending) func write(_ bytes: some Collection<UInt8>) async throws {
        try await openConnection().writeStream(bytes)
    }

    /// Sends a ping and returns its round-trip time; as ``MessageWebSocket/ping(_:)``.
    @discardableResult
    public nonisolated func ping(_ payload: [UInt8] = []) async throws -> Duration {
        try await openConnection().ping(payload)
    }

    // MARK: - Closing

    /// Closes with a status code and reason, waiting for the peer's close frame up to
    /// ``StreamWebSocketControl/closeTimeout``; as ``MessageWebSocket/close(code:reason:)``.
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason over 123 bytes.
    public func close(code: CloseCode, reason: String = "") async throws {
        try await core.close(code: code, reason: reason)
    }

    /// Closes with an empty close frame (the peer sees 1005), waiting as ``close(code:reason:)``.
    public func close() async {
        try? await core.close(code: nil, reason: "")
    }

    // MARK: - Information

    /// The socket's life-cycle state.
    public var state: State {
        get async { await core.state() }
    }

    /// The peer's close frame (code and reason), once received; `nil` while open and when the
    /// connection dropped without a close handshake.
    public var closeStatus: WebSocketCloseStatus? {
        get async { await core.closeStatus() }
    }

    /// What is known about the connection now (negotiation, TLS, statistics, latency).
    public var information: StreamWebSocketInformation {
        get async { await core.information() }
    }

    /// Test hook: returns once a read waits for bytes.
    package nonisolated func waitUntilReaderWaits() async {
        await reader.waitUntilReaderWaits()
    }

    /// Test hook: returns once the connection stopped reading because pieces wait unread.
    package nonisolated func waitUntilReaderPauses() async {
        await reader.waitUntilProducerPauses()
    }

    /// Test hook: the read memory the connection owns now (see `WebSocketConnection.readMemoryHeld`).
    package var readMemoryHeld: Int {
        get async { await core.connection?.readMemoryHeld ?? 0 }
    }
}
