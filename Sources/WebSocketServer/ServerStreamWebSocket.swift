import WebSocketCore
import WebSockets

/// One accepted WebSocket connection seen as a byte stream (WinRT `ServerStreamWebSocket`), from
/// ``WebSocketUpgrade/acceptStream(subprotocol:headers:)`` or ``WebSocketServer/startStreams(configuration:handler:)``.
///
/// The same contract as the client's `StreamWebSocket`: ``input`` and the `read` methods take the
/// client's binary data as it arrives, without message boundaries (one reader at a time); each
/// ``write(_:)`` sends one binary message; a text message from the client fails the connection
/// with 1003 (unsupported data, RFC 6455 §7.4.1) and the read throws `.protocolViolation(1003)`.
/// No message size limit applies (nothing is assembled; ``WebSocketServerConfiguration/receiveBufferLimit``
/// is for messages), and memory is bounded by ``WebSocketServerConfiguration/maxPendingMessages``
/// pieces of at most one network read each. Releasing it while open closes with 1001.
public final class ServerStreamWebSocket: Sendable {
    /// The upgrade request the client sent.
    public let request: UpgradeRequest
    /// The subprotocol the server selected, if any (WinRT `Information.Protocol`).
    public let negotiatedProtocol: String?
    /// The permessage-deflate parameters agreed on, `nil` when not compressed.
    public let compression: PerMessageDeflate.Parameters?
    /// The client's address, `host:port` (WinRT `Information.RemoteAddress`).
    public let remoteAddress: String?
    /// The address the client connected to (WinRT `Information.LocalAddress`).
    public let localAddress: String?
    /// The TLS session for `wss://`, `nil` for `ws://`.
    public let tls: TLSSessionInfo?
    /// The client's bytes as chunks, as they arrive; finishes after a close handshake, throws
    /// how the connection failed otherwise.
    public let input: AsyncThrowingStream<[UInt8], any Error>

    let connection: WebSocketConnection
    private let reader: ByteStreamReader

    init(
        request: UpgradeRequest, negotiatedProtocol: String?, compression: PerMessageDeflate.Parameters?, tls: TLSSessionInfo?,
        connection: WebSocketConnection, inbox: Inbox<MessageFragment>
    ) {
        self.request = request
        self.negotiatedProtocol = negotiatedProtocol
        self.compression = compression
        self.tls = tls
        self.remoteAddress = connection.transport.remoteAddress
        self.localAddress = connection.transport.localAddress
        self.connection = connection
        self.reader = ByteStreamReader(inbox: inbox)
        self.input = reader.makeInput()
    }

    deinit {
        let connection = self.connection
        Task { await connection.shutDown(code: .goingAway) }
    }

    /// The next 1 to `maxCount` bytes, waiting until some arrived; empty at the clean end.
    /// - Throws: `.invalidArgument` when `maxCount` < 1, `.invalidState` while another read waits,
    ///   how the connection failed, `.operationCanceled` when the task was cancelled.
    public nonisolated(nonsending) func read(upTo maxCount: Int) async throws -> [UInt8] {
        try await reader.read(upTo: maxCount)
    }

    /// Reads the next bytes into the front of `buffer` (at most its size) and returns how many;
    /// 0 at the clean end.
    public nonisolated(nonsending) func read(into buffer: inout [UInt8]) async throws -> Int {
        try await reader.read(into: &buffer)
    }

    /// Reads the next bytes into `buffer` (at most its size) and returns how many; 0 at the clean end.
    public nonisolated(nonsending) func read(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        try await reader.read(into: buffer)
    }

    /// Sends `bytes` as one binary message; an empty collection sends nothing.
    /// - Throws: `.closed` once a close frame was sent or the connection ended; the error of a
    ///   failed write for the write it hit and every later one.
    public nonisolated(nonsending) func write(_ bytes: some Collection<UInt8>) async throws {
        try await connection.writeStream(bytes)
    }

    /// Starts the close handshake and waits until the connection ended. `nil` sends an empty
    /// close frame (WinRT `Close()`).
    public func close(code: CloseCode? = .normalClosure, reason: String = "") async throws {
        try await connection.close(code: code, reason: reason)
    }

    /// The client's close frame, once received.
    public var closeStatus: WebSocketCloseStatus? {
        get async { await connection.closeStatus }
    }

    /// Traffic counters.
    public var statistics: WebSocketStatistics {
        get async { await connection.statistics }
    }

    /// Round-trip times of the TCP connection (WinRT `RoundTripTimeStatistics`); `nil` without TCP.
    public var roundTripTimeStatistics: RoundTripTimeStatistics? {
        get async { await connection.sampleTransport()?.roundTrip }
    }

    /// Bandwidth estimates of the TCP connection (WinRT `Information.BandwidthStatistics`); `nil` without TCP.
    public var bandwidthStatistics: BandwidthStatistics? {
        get async { await connection.sampleTransport()?.bandwidth }
    }

    /// Test hook: returns once the connection stopped reading because pieces wait unread.
    package func waitUntilReaderPauses() async {
        await reader.waitUntilProducerPauses()
    }
}
