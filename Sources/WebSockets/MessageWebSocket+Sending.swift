/// Sending on a ``MessageWebSocket``: whole messages, frames of a fragmented one, pings. Sends
/// go straight to the open connection (behind ``MessageWebSocket/core``), without a hop through
/// the socket's actor.
extension MessageWebSocket {

    nonisolated func openConnection() throws(WebSocketError) -> WebSocketConnection {
        guard let connection = core.connection else {
            throw WebSocketError(.invalidState, "the socket is not connected: call connect(to:) first")
        }
        return connection
    }

    /// Sends a message.
    /// - Throws: `.invalidState` before connecting, `.closed` once a close frame was sent or the
    ///   connection ended, `.invalidArgument` while a fragmented message is in progress; the error
    ///   of a failed write (`.connectionAborted` when the connection dropped) for the send whose
    ///   message it hit, queued or being written, and for every later send.
    ///
    /// Called on the event loop (``eventLoopExecutor``), a send that can go out at once is queued
    /// from the caller's own job, without a hop into the connection, and written with the other
    /// frames of the loop's turn when it ends. `nonisolated(nonsending)`: the send runs on the
    /// caller's executor up to the hop into the connection, so a caller on the loop never switches.
    public nonisolated(nonsending) func send(_ message: Message) async throws {
        try await openConnection().send(message)
    }

    /// Sends a text message.
    public nonisolated(nonsending) func send(text: String) async throws {
        let connection = try openConnection()
        if try connection.sendImmediately(text: text) { return }
        try await connection.send(text: text)
    }

    /// Sends bytes as one message of ``MessageWebSocketControl/messageType`` (binary by default;
    /// when it is `.text` the bytes must be valid UTF-8).
    public nonisolated(nonsending) func send(_ bytes: [UInt8]) async throws {
        let connection = try openConnection()
        if try connection.sendImmediately(bytes, kind: nil) { return }
        try await connection.send(bytes, kind: nil)
    }

    /// Sends one frame of a message that more frames will complete (FIN = 0, WinRT
    /// `SendNonfinalFrameAsync`). The message's type is ``MessageWebSocketControl/messageType`` at
    /// its first frame. Other messages cannot be sent until ``sendFinalFrame(_:)``.
    public nonisolated func sendNonfinalFrame(_ bytes: [UInt8]) async throws {
        try await openConnection().sendFrame(bytes, kind: nil, isFinal: false)
    }

    /// Sends the last frame of a message (FIN = 1, WinRT `SendFinalFrameAsync`); without preceding
    /// non-final frames, a complete one-frame message.
    public nonisolated func sendFinalFrame(_ bytes: [UInt8]) async throws {
        try await openConnection().sendFrame(bytes, kind: nil, isFinal: true)
    }

    /// Sends a ping with up to 125 bytes of application data and returns its round-trip time, once
    /// the peer's pong arrived (RFC 6455 §5.5.2). Without a payload the ping gets a unique one, so
    /// that concurrent pings are told apart; a pong also answers the pings sent before the one it
    /// names (§5.5.3 lets a peer answer only the latest). Updates ``MessageWebSocketInformation/latency``.
    /// - Throws: `.invalidArgument` for a payload over 125 bytes; how the connection ended when it
    ///   ends before the pong (a peer that never answers is found by ``MessageWebSocketControl/pongTimeout``
    ///   or by closing).
    @discardableResult
    public nonisolated func ping(_ payload: [UInt8] = []) async throws -> Duration {
        try await openConnection().ping(payload)
    }
}
